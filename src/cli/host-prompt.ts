// What the command line answers when the host layer asks: trust this host key? the passphrase of
// this key? the value of this secret? A person at a terminal is asked; a worker spawned by the
// editor gets its answers through its environment (never argv); anything else is refused, with a
// message that says how to answer next time.
import * as os from "node:os";
import * as path from "node:path";
import type { HostDeps, HostKeyInfo } from "../core/remote/types.js";

export interface CliHostDepsOptions {
  trustNewHostKey: boolean;
  /** Where notes for the person go (stderr): never stdout, which may carry --json events. */
  note(message: string): void;
  env?: NodeJS.ProcessEnv;
  stdin?: NodeJS.ReadStream;
}

export interface CliHostDeps extends HostDeps {
  /** The unknown host key that was refused because nobody could be asked, for the error message. */
  refusedKey(): HostKeyInfo | undefined;
  /** The host keys seen while connecting (unknown ones, trusted or not). */
  seenKeys(): HostKeyInfo[];
}

export function describeKey(info: HostKeyInfo): string {
  return `${info.host} ${info.keyType} ${info.fingerprint}`;
}

export function cliHostDeps(opts: CliHostDepsOptions): CliHostDeps {
  const env = opts.env ?? process.env;
  const stdin = opts.stdin ?? process.stdin;
  const home = os.homedir();
  let refused: HostKeyInfo | undefined;
  const seen: HostKeyInfo[] = [];
  let byFile: Map<string, string> | undefined;
  return {
    sshConfigFile: env.METAJUDGE_SSH_CONFIG || path.join(home, ".ssh", "config"),
    knownHostsFile: env.METAJUDGE_KNOWN_HOSTS || path.join(home, ".ssh", "known_hosts"),
    async confirmHostKey(info) {
      seen.push(info);
      if (info.status !== "unknown") return false;
      if (opts.trustNewHostKey) {
        opts.note(`trusting the new host key ${describeKey(info)}; added to ${info.knownHostsFile}`);
        return true;
      }
      if (stdin.isTTY) {
        const answer = await ask(
          stdin,
          `The authenticity of host ${info.host} cannot be established.\n${info.keyType} key fingerprint is ${info.fingerprint}.\nTrust it and connect (added to ${info.knownHostsFile})? [y/N] `,
          false,
        );
        return /^y(es)?$/i.test(answer.trim());
      }
      refused = info;
      return false;
    },
    async passphrase(identityFile) {
      byFile ??= passphrases(env.METAJUDGE_SSH_PASSPHRASES, opts.note);
      const own = byFile.get(path.resolve(identityFile));
      if (own) return own;
      if (env.METAJUDGE_SSH_PASSPHRASE) return env.METAJUDGE_SSH_PASSPHRASE;
      if (!stdin.isTTY) return undefined;
      const v = await ask(stdin, `Passphrase for ${identityFile}: `, true);
      return v === "" ? undefined : v;
    },
    async secret(name) {
      const v = env[name];
      return v === undefined || v === "" ? undefined : v;
    },
    log: (message) => opts.note(message),
    refusedKey: () => refused,
    seenKeys: () => [...seen],
  };
}

/**
 * METAJUDGE_SSH_PASSPHRASES: {"<identity file>": "<passphrase>"}, one per key, for a worker whose
 * host and jump hosts use different keys. Paths may start with "~/". A malformed value is ignored
 * with a note that never repeats it (it holds secrets).
 */
export function passphrases(raw: string | undefined, note: (message: string) => void): Map<string, string> {
  const out = new Map<string, string>();
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    note("METAJUDGE_SSH_PASSPHRASES is not a JSON object of identity file to passphrase; ignored");
    return out;
  }
  for (const [file, value] of Object.entries(parsed)) {
    if (typeof value !== "string" || value === "") continue;
    const abs = file === "~" || file.startsWith("~/") ? path.join(os.homedir(), file.slice(1)) : file;
    out.set(path.resolve(abs), value);
  }
  return out;
}

/** One line from the terminal; `hidden` turns echo off (raw mode) so a passphrase never shows. */
function ask(stdin: NodeJS.ReadStream, prompt: string, hidden: boolean): Promise<string> {
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let line = "";
    const wasRaw = stdin.isRaw;
    if (hidden) stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    const done = (err?: Error): void => {
      stdin.off("data", onData);
      if (hidden) {
        stdin.setRawMode(wasRaw);
        process.stderr.write("\n");
      }
      stdin.pause();
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === "\n" || ch === "\r") return done();
        if (ch === "\u0003") return done(Object.assign(new Error("interrupted"), { name: "AbortError" }));
        if (ch === "\u007f" || ch === "\b") line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.on("data", onData);
    stdin.resume();
  });
}
