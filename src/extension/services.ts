// The host services every feature receives from the composition root (extension.ts): one logger,
// one typed settings accessor, the secret store (API keys and host secrets alike). Features take what they need from here rather than
// reaching for globals.
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import { printable } from "../core/printable.js";
import type { Secrets } from "./secrets.js";

/** Anything that looks like a key or a bearer token is masked before it reaches a log. */
const SECRET_PATTERNS: RegExp[] = [
  /\b(sk|pk|rk|hf|gsk|xai)[-_][A-Za-z0-9_-]{8,}/g,
  /(authorization\s*[:=]\s*)(bearer\s+)?[^\s"',]+/gi,
  /(api[_-]?key\s*[:=]\s*)[^\s"',]+/gi,
];

export function redact(text: string, known: readonly string[] = []): string {
  let out = text;
  for (const k of known) if (k.length >= 6) out = out.split(k).join("***");
  for (const re of SECRET_PATTERNS)
    out = out.replace(re, (m, p1?: string, p2?: string) => (typeof p1 === "string" && m.startsWith(p1) ? `${p1}${p2 ?? ""}***` : "***"));
  return out;
}

export class Logger implements vscode.Disposable {
  private readonly channel: vscode.LogOutputChannel;
  private readonly secrets = new Set<string>();
  constructor(name = "Metajudge") {
    this.channel = vscode.window.createOutputChannel(name, { log: true });
  }
  /** Values that must never be printed (API keys read from the secret store). */
  addSecret(value: string): void {
    if (value) this.secrets.add(value);
  }
  private clean(component: string, message: string): string {
    // Messages carry what servers and hosts wrote: their escape sequences and bidi overrides are shown, not obeyed.
    return `[${component}] ${printable(redact(message, [...this.secrets]))}`;
  }
  info(component: string, message: string): void {
    this.channel.info(this.clean(component, message));
  }
  warn(component: string, message: string): void {
    this.channel.warn(this.clean(component, message));
  }
  error(component: string, message: string): void {
    this.channel.error(this.clean(component, message));
  }
  trace(component: string, message: string): void {
    this.channel.trace(this.clean(component, message));
  }
  show(): void {
    this.channel.show(true);
  }
  dispose(): void {
    this.channel.dispose();
  }
}

/** Typed, normalised settings (untrusted values clamped at this boundary). */
export class Settings {
  private get cfg(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration("metajudge");
  }
  annotationReasons(): string[] {
    const v = this.cfg.get<unknown>("annotationReasons");
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string" && x.trim() !== "") : [];
  }
  pageSize(): number {
    return clampInt(this.cfg.get<number>("pageSize"), 10, 5000, 200);
  }
  refreshDelayMs(): number {
    return clampInt(this.cfg.get<number>("refreshDelayMs"), 50, 60_000, 500);
  }
  inlineRecordHints(): boolean {
    return this.cfg.get<boolean>("inlineRecordHints") !== false;
  }
  nodePath(): string {
    const v = this.cfg.get<string>("nodePath");
    return typeof v === "string" && v.trim() !== "" ? v.trim() : process.execPath;
  }
  sampleSize(): number {
    return clampInt(this.cfg.get<number>("sampleSize"), 1, 20, 3);
  }
  /** Host profiles from settings, as written: the core validates them (with the profile's name) when one is used. */
  hosts(): Record<string, unknown> {
    const v = this.cfg.get<unknown>("hosts");
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  }
  jobPollSeconds(): number {
    return clampInt(this.cfg.get<number>("jobPollSeconds"), 5, 86_400, 30);
  }
  sshConfigFile(): string {
    return homePath(this.cfg.get<string>("sshConfigFile"), ".ssh/config");
  }
  knownHostsFile(): string {
    return homePath(this.cfg.get<string>("knownHostsFile"), ".ssh/known_hosts");
  }
}

/** A path setting: empty means the OpenSSH default under the home folder; a leading ~ is expanded. */
function homePath(v: unknown, fallback: string): string {
  const s = typeof v === "string" ? v.trim() : "";
  if (s === "") return path.join(os.homedir(), fallback);
  return s === "~" || s.startsWith("~/") ? path.join(os.homedir(), s.slice(1)) : s;
}

function clampInt(v: unknown, min: number, max: number, fallback: number): number {
  if (typeof v !== "number" || !Number.isFinite(v)) return fallback;
  return Math.min(max, Math.max(min, Math.round(v)));
}

export interface Services {
  context: vscode.ExtensionContext;
  log: Logger;
  settings: Settings;
  secrets: Secrets;
}
