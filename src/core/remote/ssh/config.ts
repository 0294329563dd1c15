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
}

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
  const re = new RegExp(`^${base.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
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

/** OpenSSH's %-tokens that make sense for an identity file; unknown ones are left as written. */
export function expandTokens(value: string, t: { hostName: string; host: string; port: number; user: string }): string {
  const map: Record<string, string> = { "%": "%", d: homedir(), u: localUser(), h: t.hostName, n: t.host, p: String(t.port), r: t.user, i: String(process.getuid?.() ?? "") };
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
  return {
    host: target.host,
    // In HostName, %h is the name the user typed (OpenSSH: "HostName %h.example.org").
    hostName: hostName.replace(/%(.)/g, (m, c: string) => (c === "h" ? target.host : c === "%" ? "%" : m)),
    port: Number.isFinite(port) && port > 0 ? port : 22,
    user,
    identityFiles,
    ...(jump && jump.toLowerCase() !== "none" ? { proxyJump: jump } : {}),
    configFile,
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
  const hops = chain.split(",").map((h) => h.trim()).filter(Boolean);
  const last = hops[hops.length - 1] ?? chain;
  const spec = parseJump(last);
  const resolved = resolveSshTarget({ host: spec.host, ...(spec.user ? { user: spec.user } : {}), ...(spec.port ? { port: spec.port } : {}) }, configFile);
  const before = hops.slice(0, -1).join(",");
  const { proxyJump: _own, ...rest } = resolved;
  // An explicit chain replaces the hop's own ProxyJump; a single hop keeps its own.
  return before ? { ...rest, proxyJump: before } : resolved;
}
