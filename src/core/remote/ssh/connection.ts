// One authenticated ssh2 connection, made the way OpenSSH would make it: agent and identity files,
// passphrases asked of the embedder, the host key checked against known_hosts, ProxyJump through a
// stream of the previous hop. Failures come back as MetajudgeErrors that say what to do.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import {
  Client,
  utils,
  type AnyAuthMethod,
  type AuthenticationType,
  type AuthHandlerMiddleware,
  type ConnectConfig,
  type NextAuthHandler,
  type ParsedKey,
} from "ssh2";
import { MetajudgeError } from "../../errors.js";
import type { HostDeps, HostKeyInfo } from "../types.js";
import { defaultIdentityFiles, type ResolvedSshTarget } from "./config.js";
import { verifyHostKey } from "./known-hosts.js";

export interface ConnectOptions {
  signal?: AbortSignal;
  readyTimeoutMs?: number;
  sock?: Readable; // the stream through the previous hop (ProxyJump)
}

export function sshLabel(r: ResolvedSshTarget): string {
  return `ssh ${r.host} (${r.user}@${r.hostName}:${r.port})`;
}

type Candidate = { kind: "agent"; sock: string } | { kind: "key"; file: string };

function candidates(r: ResolvedSshTarget): Candidate[] {
  const out: Candidate[] = [];
  const agent = process.env.SSH_AUTH_SOCK;
  // IdentitiesOnly: a host that counts failed keys must not see the agent's whole keyring first.
  if (agent && !r.identitiesOnly) out.push({ kind: "agent", sock: agent });
  const files = r.identityFiles.length > 0 ? r.identityFiles : defaultIdentityFiles();
  for (const file of files) out.push({ kind: "key", file });
  return out;
}

const isEncryptedError = (e: Error): boolean => /passphrase|encrypted/i.test(e.message);

/**
 * Walks agent then identity files one at a time, asking for a passphrase only when a key needs one.
 * `tried` collects what was attempted for the error message: files and outcomes, never a passphrase.
 */
function authHandler(r: ResolvedSshTarget, deps: HostDeps, tried: string[]) {
  const queue = candidates(r);
  const next = async (methodsLeft: AuthenticationType[] | null): Promise<AnyAuthMethod | false> => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const allowed = (m: AuthenticationType) =>
        methodsLeft === null || methodsLeft.includes(m) || (m === "agent" && methodsLeft.includes("publickey"));
      if (c.kind === "agent") {
        if (!allowed("agent")) continue;
        tried.push(`agent (${c.sock})`);
        return { type: "agent", username: r.user, agent: c.sock };
      }
      if (!allowed("publickey")) continue;
      if (!existsSync(c.file)) {
        if (r.identityFiles.includes(c.file)) tried.push(`${c.file} (no such file)`);
        continue;
      }
      const text = readFileSync(c.file);
      let key: ParsedKey | ParsedKey[] | Error = utils.parseKey(text);
      if (key instanceof Error && isEncryptedError(key)) {
        const pass = await deps.passphrase(c.file);
        if (pass === undefined) {
          tried.push(`${c.file} (encrypted; no passphrase given)`);
          continue;
        }
        key = utils.parseKey(text, pass);
        if (key instanceof Error) {
          tried.push(`${c.file} (wrong passphrase)`);
          continue;
        }
      }
      if (key instanceof Error) {
        tried.push(`${c.file} (unreadable: ${key.message})`);
        continue;
      }
      tried.push(c.file);
      return { type: "publickey", username: r.user, key: Array.isArray(key) ? key[0]! : key };
    }
    return false;
  };
  return (methodsLeft: AuthenticationType[] | null, _partial: boolean | null, callback: NextAuthHandler): void => {
    // ssh2 documents `false` as "no more methods"; @types/ssh2 leaves it out of the callback type.
    const done = callback as (m: AnyAuthMethod | false) => void;
    next(methodsLeft).then(done, () => done(false));
  };
}

function mapError(err: Error & { code?: string; level?: string }, r: ResolvedSshTarget, tried: string[]): MetajudgeError {
  const label = sshLabel(r);
  if (err.level === "client-authentication") {
    const what = tried.length > 0 ? tried.join(", ") : "nothing (no agent, no identity file found)";
    return new MetajudgeError(
      "auth",
      `${label}: the host refused every key; tried ${what}. Put the public key in ~/.ssh/authorized_keys of ${r.user} on the host, or set identity_file (or IdentityFile in ${r.configFile})`,
      undefined,
      { cause: err },
    );
  }
  if (err.level === "client-timeout")
    return new MetajudgeError(
      "timeout",
      `${label}: no SSH handshake within the timeout; is ${r.hostName}:${r.port} an SSH server, and reachable?`,
      undefined,
      { cause: err },
    );
  switch (err.code) {
    case "ECONNREFUSED":
      return new MetajudgeError(
        "refused",
        `${label}: connection refused: nothing listens on ${r.hostName}:${r.port}; check the host and Port (${r.configFile})`,
        undefined,
        { cause: err },
      );
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return new MetajudgeError(
        "badInput",
        r.hostName === r.host
          ? `${label}: "${r.host}" is neither a Host alias in ${r.configFile} nor a host name that resolves; add "Host ${r.host}" with a HostName there, or fix the host profile`
          : `${label}: the HostName "${r.hostName}" of alias "${r.host}" in ${r.configFile} does not resolve`,
        { file: r.configFile },
        { cause: err },
      );
    case "ETIMEDOUT":
      return new MetajudgeError("timeout", `${label}: connecting to ${r.hostName}:${r.port} timed out`, undefined, { cause: err });
    default:
      return new MetajudgeError("refused", `${label}: the connection failed: ${err.message}`, undefined, { cause: err });
  }
}

/**
 * The known_hosts files for a target, as OpenSSH reads them. The embedder's file counts as
 * `ssh -o UserKnownHostsFile=` when it is not the default ~/.ssh/known_hosts (METAJUDGE_KNOWN_HOSTS,
 * the editor's setting) and then wins over the config; otherwise the config's UserKnownHostsFile
 * entries do, the first one receiving new keys. GlobalKnownHostsFile is always read, never written.
 */
export function knownHostsFiles(r: ResolvedSshTarget, deps: Pick<HostDeps, "knownHostsFile">): { append: string; readOnly: string[] } {
  const chosen = resolve(deps.knownHostsFile) !== join(homedir(), ".ssh", "known_hosts");
  const user = chosen || r.userKnownHostsFiles.length === 0 ? [deps.knownHostsFile] : r.userKnownHostsFiles;
  return { append: user[0]!, readOnly: [...user.slice(1), ...r.globalKnownHostsFiles] };
}

export function connectClient(r: ResolvedSshTarget, deps: HostDeps, opts: ConnectOptions = {}): Promise<Client> {
  const label = sshLabel(r);
  return new Promise<Client>((resolve, reject) => {
    const client = new Client();
    const tried: string[] = [];
    let hostKeyError: MetajudgeError | undefined;
    let settled = false;
    const finish = (err: MetajudgeError | undefined): void => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener("abort", onAbort);
      if (err) {
        // end() only says goodbye once the handshake is done; before that the socket must be torn down.
        client.destroy();
        reject(err);
      } else resolve(client);
    };
    const onAbort = (): void => finish(new MetajudgeError("cancelled", `${label}: connecting was cancelled`));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });

    client.on("ready", () => {
      // Nagle's algorithm holds each small SFTP read request until the last one is acknowledged, and
      // delayed ACKs make that ~40 ms: downloads crawled at 16 reads in flight (bench/remote.ts).
      client.setNoDelay(true);
      deps.log?.(`${label}: connected`);
      finish(undefined);
    });
    client.on("error", (err: Error & { code?: string; level?: string }) => finish(hostKeyError ?? mapError(err, r, tried)));
    client.on("close", () =>
      finish(hostKeyError ?? new MetajudgeError("refused", `${label}: the host closed the connection before it was ready`)),
    );

    const config: ConnectConfig = {
      host: r.hostName,
      port: r.port,
      username: r.user,
      readyTimeout: opts.readyTimeoutMs ?? 20_000,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      authHandler: authHandler(r, deps, tried) as AuthHandlerMiddleware,
      // The async form: known_hosts may need the embedder's answer before the handshake goes on.
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void): void => {
        const files = knownHostsFiles(r, deps);
        const ctx = {
          knownHostsFile: files.append,
          readOnlyFiles: files.readOnly,
          hostName: r.hostName,
          port: r.port,
          ...(r.hostKeyAlias ? { hostKeyAlias: r.hostKeyAlias } : {}),
          strict: r.strictHostKeyChecking,
          label,
          confirm: (info: HostKeyInfo) => deps.confirmHostKey(info),
        };
        verifyHostKey(ctx, key).then(
          () => verify(true),
          (e: unknown) => {
            hostKeyError =
              e instanceof MetajudgeError ? e : new MetajudgeError("hostKey", `${label}: could not check the host key: ${String(e)}`);
            verify(false);
          },
        );
      },
      ...(opts.sock ? { sock: opts.sock } : {}),
    };
    client.connect(config);
  });
}
