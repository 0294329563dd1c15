// The SSH side of remote hosts: open a shell on an alias from ~/.ssh/config, shared with every other
// shell on the same user@host:port until the last one closes.
import type { SshTarget } from "../../schema.js";
import type { HostDeps, RemoteShell } from "../types.js";
import { resolveSshTarget, type ResolvedSshTarget } from "./config.js";
import { SshPool } from "./pool.js";
import { SshShell } from "./ssh-shell.js";

export { resolveSshTarget, type ResolvedSshTarget };

// The process's one pool: connections are a per-process resource, like sockets.
const pool = new SshPool();

export interface OpenSshOptions {
  signal?: AbortSignal;
  /** How long the TCP connect + SSH handshake + authentication may take (default 20 s). */
  readyTimeoutMs?: number;
}

export async function openSshShell(target: SshTarget, deps: HostDeps, opts: OpenSshOptions = {}): Promise<RemoteShell> {
  const resolved = resolveSshTarget(target, deps.sshConfigFile);
  const dial = { ...(opts.readyTimeoutMs ? { readyTimeoutMs: opts.readyTimeoutMs } : {}) };
  const conn = await pool.acquire(resolved, deps, { ...dial, ...(opts.signal ? { signal: opts.signal } : {}) });
  return new SshShell(conn, () => pool.acquire(resolved, deps, dial));
}

/** Ends every pooled connection (extension deactivation, CLI exit). */
export function closeAllSsh(): void {
  pool.closeAll();
}
