// What OpenSSH would connect to for a host alias: ~/.ssh/config resolved with the ssh-config package,
// plus the bits it leaves to us (Include, tokens in IdentityFile, ProxyJump's user@host:port form).
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import SSHConfig from "ssh-config";
import type { SshTarget } from "../../schema.js";

export interface ResolvedSshTarget {
  host: string; // the alias as the user wrote it
  hostName: string; // what we dial
  port: number;
  user: string;
  identityFiles: string[]; // absolute, in the order to try
  proxyJump?: string; // "alias" or "a,b" or "user@host:port"
  configFile: string; // for messages
  /** UserKnownHostsFile, absolute; empty when the config names none (the embedder's file is used). */
  userKnownHostsFiles: string[];
  /** GlobalKnownHostsFile, absolute: read, never written. */
  globalKnownHostsFiles: string[];
  /** HostKeyAlias: the name looked up in (and added to) known_hosts instead of [host]:port. */
  hostKeyAlias?: string;
  /** IdentitiesOnly yes: the agent's keys are not offered, only the identity files. */
  identitiesOnly: boolean;
  strictHostKeyChecking: StrictHostKeyChecking;
}

export type StrictHostKeyChecking = "yes" | "no" | "accept-new" | "ask";

export const DEFAULT_GLOBAL_KNOWN_HOSTS = ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"];

export interface JumpSpec {
  user?: string;
  host: string;
  port?: number;
}

const MAX_INCLUDE_DEPTH = 16;

function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? "root";
  }
}

function expandHome(p: string): string {
  if (p === "~") return homedir();
  if (p.startsWith("~/")) return join(homedir(), p.slice(2));
  return p;
}

/** A file pattern of Include: "*" and "?" in the last path part only, which is what configs use in practice. */
function includeFiles(pattern: string, baseDir: string): string[] {
  const full = expandHome(pattern);
  const abs = isAbsolute(full) ? full : join(baseDir, full);
  const base = abs.slice(abs.lastIndexOf("/") + 1);
  if (!/[*?]/.test(base)) return existsSync(abs) ? [abs] : [];
  const dir = dirname(abs);
  if (!existsSync(dir)) return [];
  const re = new RegExp(
    `^${base
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
  return readdirSync(dir)
    .filter((f) => re.test(f))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * The config text with every Include replaced by the included files (ssh-config parses Include but
 * does not follow it). Relative paths are taken from ~/.ssh as OpenSSH does for user configs.
 */
export function readConfigText(file: string, depth = 0): string {
  if (!existsSync(file)) return "";
  const text = readFileSync(file, "utf8");
  if (depth >= MAX_INCLUDE_DEPTH) return text;
  return text
    .split(/\r?\n/)
    .map((line) => {
      const m = /^\s*include\s*[\s=]\s*(.+?)\s*$/i.exec(line);
      if (!m?.[1]) return line;
      const patterns = m[1].match(/"[^"]*"|\S+/g) ?? [];
      return patterns
        .flatMap((p) => includeFiles(p.replace(/^"|"$/g, ""), join(homedir(), ".ssh")))
        .map((f) => readConfigText(f, depth + 1))
        .join("\n");
    })
    .join("\n");
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function all(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Values of a multi-file option ("a b" or several lines), quotes removed; "none" means no file. */
function files(v: string | string[] | undefined): string[] | undefined {
  // ssh-config splits a multi-value line into an array (quotes already removed); a single value comes as is.
  const list = (Array.isArray(v) ? v : (v?.match(/"[^"]*"|\S+/g) ?? [])).map((x) => x.replace(/^"|"$/g, ""));
  if (list.length === 0) return undefined;
  return list.some((f) => f.toLowerCase() === "none") ? [] : list;
}

function yes(v: string | undefined): boolean {
  return v !== undefined && /^(yes|true)$/i.test(v);
}

/** OpenSSH spells "yes" as yes/true, "no" as no/false/off; anything else it does not know is "ask". */
function strictness(v: string | undefined): StrictHostKeyChecking {
  const s = v?.toLowerCase();
  if (s === "yes" || s === "true") return "yes";
  if (s === "no" || s === "false" || s === "off") return "no";
  if (s === "accept-new") return "accept-new";
  return "ask";
}

/** OpenSSH's %-tokens that make sense for an identity file; unknown ones are left as written. */
export function expandTokens(value: string, t: { hostName: string; host: string; port: number; user: string }): string {
  const map: Record<string, string> = {
    "%": "%",
    d: homedir(),
    u: localUser(),
    h: t.hostName,
    n: t.host,
    p: String(t.port),
    r: t.user,
    i: String(process.getuid?.() ?? ""),
  };
  return expandHome(value.replace(/%(.)/g, (all, c: string) => map[c] ?? all));
}

export function resolveSshTarget(target: SshTarget, configFile: string): ResolvedSshTarget {
  // Match exec would run shell commands from the config inside the editor's process: we do not.
  const computed = SSHConfig.parse(readConfigText(configFile)).compute(target.host, { ignoreCase: true, matchExec: false });
  const hostName = first(computed.hostname) ?? target.host;
  const port = target.port ?? Number(first(computed.port) ?? 22);
  const user = target.user ?? first(computed.user) ?? localUser();
  const tokens = { hostName, host: target.host, port, user };
  const configured = target.identity_file ? [target.identity_file] : all(computed.identityfile);
  const identityFiles = configured.map((f) => expandTokens(f.replace(/^"|"$/g, ""), tokens));
  const jump = first(computed.proxyjump);
  const expand = (f: string): string => expandTokens(f, tokens);
  const alias = first(computed.hostkeyalias);
  return {
    host: target.host,
    // In HostName, %h is the name the user typed (OpenSSH: "HostName %h.example.org").
    hostName: hostName.replace(/%(.)/g, (m, c: string) => (c === "h" ? target.host : c === "%" ? "%" : m)),
    port: Number.isFinite(port) && port > 0 ? port : 22,
    user,
    identityFiles,
    ...(jump && jump.toLowerCase() !== "none" ? { proxyJump: jump } : {}),
    configFile,
    userKnownHostsFiles: (files(computed.userknownhostsfile) ?? []).map(expand),
    globalKnownHostsFiles: (files(computed.globalknownhostsfile) ?? DEFAULT_GLOBAL_KNOWN_HOSTS).map(expand),
    ...(alias ? { hostKeyAlias: alias } : {}),
    identitiesOnly: yes(first(computed.identitiesonly)),
    strictHostKeyChecking: strictness(first(computed.stricthostkeychecking)),
  };
}

/** Identity files OpenSSH tries when none is configured; only those that exist. */
export function defaultIdentityFiles(): string[] {
  return ["id_ed25519", "id_ecdsa", "id_rsa"].map((f) => join(homedir(), ".ssh", f)).filter((f) => existsSync(f));
}

/** "user@host:port" (or "ssh://user@host:port", or "[v6]:port") as ProxyJump writes one hop. */
export function parseJump(spec: string): JumpSpec {
  const s = spec.trim().replace(/^ssh:\/\//, "");
  const at = s.lastIndexOf("@");
  const user = at >= 0 ? s.slice(0, at) : undefined;
  const rest = at >= 0 ? s.slice(at + 1) : s;
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest) ?? /^([^:]+)(?::(\d+))?$/.exec(rest);
  const host = m?.[1] ?? rest;
  const port = m?.[2] ? Number(m[2]) : undefined;
  return { host, ...(user ? { user } : {}), ...(port ? { port } : {}) };
}

/**
 * The hop before the target. "a,b" means: reach b through a, then the target through b — so the
 * hop is b, with "a" as its own jump, as OpenSSH does it.
 */
export function previousHop(chain: string, configFile: string): ResolvedSshTarget {
  const hops = chain
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  const last = hops[hops.length - 1] ?? chain;
  const spec = parseJump(last);
  const resolved = resolveSshTarget(
    { host: spec.host, ...(spec.user ? { user: spec.user } : {}), ...(spec.port ? { port: spec.port } : {}) },
    configFile,
  );
  const before = hops.slice(0, -1).join(",");
  const { proxyJump: _own, ...rest } = resolved;
  // An explicit chain replaces the hop's own ProxyJump; a single hop keeps its own.
  return before ? { ...rest, proxyJump: before } : resolved;
}

/**
 * Every identity file a connection to the target may try, its jump hosts' included (those that
 * configure none try the defaults): what a worker needs passphrases for.
 */
export function chainIdentityFiles(target: SshTarget, configFile: string, maxHops = 8): string[] {
  const out = new Set<string>();
  let r: ResolvedSshTarget | undefined = resolveSshTarget(target, configFile);
  for (let hop = 0; r && hop <= maxHops; hop++) {
    for (const f of r.identityFiles.length > 0 ? r.identityFiles : defaultIdentityFiles()) out.add(f);
    r = r.proxyJump ? previousHop(r.proxyJump, configFile) : undefined;
  }
  return [...out];
}
