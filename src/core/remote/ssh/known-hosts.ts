// known_hosts as OpenSSH keeps it: the only thing that tells a GPU box from a machine in the middle.
// A known key that matches connects; a changed one is refused without asking; an unknown one is
// accepted only when the embedder (a modal in the editor, a prompt in the CLI) says so.
import { createHash, createHmac } from "node:crypto";
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { MetajudgeError } from "../../errors.js";
import type { HostKeyInfo } from "../types.js";
import type { StrictHostKeyChecking } from "./config.js";

export interface KnownHostEntry {
  line: number; // 1-based
  marker?: "revoked" | "cert-authority";
  patterns: string; // as written: "a,b,[c]:2222" or "|1|salt|hash"
  keyType: string;
  key: Buffer; // the public key blob
}

export type HostKeyCheck =
  | { status: "ok"; line: number }
  | { status: "unknown" }
  | { status: "changed"; line: number; oldFingerprint: string }
  | { status: "revoked"; line: number };

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split("\n").forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith("#")) return;
    let marker: KnownHostEntry["marker"];
    if (fields[0].startsWith("@")) {
      const m = fields.shift();
      if (m === "@revoked") marker = "revoked";
      else if (m === "@cert-authority") marker = "cert-authority";
      else return; // a marker we do not know: OpenSSH skips the line too
    }
    const [patterns, keyType, b64] = fields;
    if (!patterns || !keyType || !b64) return;
    const key = Buffer.from(b64, "base64");
    if (key.length === 0) return;
    out.push({ line: i + 1, ...(marker ? { marker } : {}), patterns, keyType, key });
  });
  return out;
}

/** The name a host is filed under: "host" on port 22, "[host]:port" otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function glob(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "i",
  );
  return re.test(name);
}

/** Hashed (|1|salt|hmac-sha1), comma lists, wildcards and !negations, as sshd's match_hostname does. */
export function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith("|1|")) {
    const [, , salt, hash] = patterns.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  let matched = false;
  for (const p of patterns.split(",")) {
    if (p.startsWith("!")) {
      if (glob(p.slice(1), name)) return false;
    } else if (glob(p, name)) matched = true;
  }
  return matched;
}

/** The key's algorithm, read from the blob itself (its first SSH string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString("latin1");
}

/** "SHA256:<base64 without padding>", exactly as `ssh-keygen -lf` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export function checkHostKey(entries: KnownHostEntry[], name: string, blob: Buffer): HostKeyCheck {
  const type = keyTypeOf(blob);
  let changed: HostKeyCheck | undefined;
  let ok: HostKeyCheck | undefined;
  for (const e of entries) {
    if (e.marker === "cert-authority" || !hostMatches(e.patterns, name)) continue;
    if (e.marker === "revoked") {
      if (e.key.equals(blob)) return { status: "revoked", line: e.line };
      continue;
    }
    if (e.key.equals(blob)) ok ??= { status: "ok", line: e.line };
    else if (e.keyType === type) changed ??= { status: "changed", line: e.line, oldFingerprint: fingerprint(e.key) };
  }
  // A key listed anywhere for the host wins over a stale line of the same type, as in OpenSSH.
  return ok ?? changed ?? { status: "unknown" };
}

export function appendKnownHost(file: string, name: string, blob: Buffer): void {
  if (!existsSync(dirname(file))) mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const fresh = !existsSync(file);
  const text = fresh ? "" : readFileSync(file, "utf8");
  const sep = text === "" || text.endsWith("\n") ? "" : "\n";
  appendFileSync(file, `${sep}${name} ${keyTypeOf(blob)} ${blob.toString("base64")}\n`, { mode: 0o600 });
  if (fresh) chmodSync(file, 0o600);
}

export interface VerifyContext {
  /** The user's known_hosts: read, and a confirmed unknown key is appended to it. */
  knownHostsFile: string;
  /** Read as well, never written: further UserKnownHostsFile entries, then GlobalKnownHostsFile. */
  readOnlyFiles?: string[];
  hostName: string;
  port: number;
  /** HostKeyAlias: looked up and filed under this name, without a port, as OpenSSH does. */
  hostKeyAlias?: string;
  /** "yes": an unknown key is refused without asking. Every other value asks; a changed key is always refused. */
  strict?: StrictHostKeyChecking;
  label: string; // "ssh gpu (bob@10.0.0.5:22)" for messages
  confirm(info: HostKeyInfo): Promise<boolean>;
}

type FileCheck = HostKeyCheck & { file: string };

function checkFiles(files: string[], name: string, blob: Buffer): FileCheck[] {
  return files
    .filter((f) => existsSync(f))
    .map((file) => ({ ...checkHostKey(parseKnownHosts(readFileSync(file, "utf8")), name, blob), file }));
}

/**
 * Resolves when the key may be used; throws MetajudgeError("hostKey") otherwise. Every file counts:
 * a revoked key anywhere is refused; the key listed in any file connects; otherwise a different key
 * of the same type in any file is a changed key, refused whatever StrictHostKeyChecking says — we are
 * stricter than OpenSSH, which with "no" would connect anyway.
 */
export async function verifyHostKey(ctx: VerifyContext, blob: Buffer): Promise<void> {
  const name = ctx.hostKeyAlias ?? knownHostName(ctx.hostName, ctx.port);
  const file = ctx.knownHostsFile;
  const checks = checkFiles([file, ...(ctx.readOnlyFiles ?? []).filter((f) => f !== file)], name, blob);
  const keyType = keyTypeOf(blob);
  const fp = fingerprint(blob);
  const alias = ctx.hostKeyAlias ? ` (HostKeyAlias of ${knownHostName(ctx.hostName, ctx.port)})` : "";
  const revoked = checks.find((c) => c.status === "revoked");
  if (revoked?.status === "revoked") {
    throw new MetajudgeError(
      "hostKey",
      `${ctx.label}: the host key ${fp} is marked @revoked in ${revoked.file}:${revoked.line}; do not connect until the host's owner issues a new key`,
      { file: revoked.file, line: revoked.line },
    );
  }
  if (checks.some((c) => c.status === "ok")) return;
  const changed = checks.find((c) => c.status === "changed");
  if (changed?.status === "changed") {
    const writable = changed.file === file;
    throw new MetajudgeError(
      "hostKey",
      `${ctx.label}: the ${keyType} host key of ${name}${alias} has CHANGED: ${changed.file}:${changed.line} has ${changed.oldFingerprint}, the host presented ${fp}. ` +
        `Someone may be intercepting the connection, or the host was reinstalled. If you know it was, remove line ${changed.line} (ssh-keygen -R '${name}' -f ${changed.file}${writable ? "" : ", as its owner"}) and connect again.`,
      { file: changed.file, line: changed.line },
    );
  }
  if (ctx.strict === "yes") {
    throw new MetajudgeError(
      "hostKey",
      `${ctx.label}: the host key ${keyType} ${fp} of ${name}${alias} is in no known_hosts file (${[file, ...(ctx.readOnlyFiles ?? [])].join(", ")}) and StrictHostKeyChecking is "yes", so it was refused without asking; ` +
        `compare it with the host's (ssh-keygen -lf /etc/ssh/ssh_host_${keyType.replace(/^ssh-/, "")}_key.pub on the host), then add it to ${file} (ssh-keyscan) or relax StrictHostKeyChecking to "ask"`,
      { file },
    );
  }
  const accepted = await ctx.confirm({ host: name, keyType, fingerprint: fp, status: "unknown", knownHostsFile: file });
  if (!accepted)
    throw new MetajudgeError(
      "hostKey",
      `${ctx.label}: the host key ${keyType} ${fp} of ${name}${alias} is not in ${file} and was not accepted; compare it with the host's (ssh-keygen -lf /etc/ssh/ssh_host_${keyType.replace(/^ssh-/, "")}_key.pub on the host) and accept it to connect`,
      { file },
    );
  appendKnownHost(file, name, blob);
}
