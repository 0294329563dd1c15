// One connection per resolved user@host:port (and jump chain), shared by every shell on it and
// counted: the last close() ends it. A connection that drops leaves the pool at once, so the next
// open — or the next command of a shell that held it — dials again.
import type { Readable } from "node:stream";
import type { Client, SFTPWrapper } from "ssh2";
import { MetajudgeError } from "../../errors.js";
import type { HostDeps } from "../types.js";
import { previousHop, type ResolvedSshTarget } from "./config.js";
import { connectClient, sshLabel, type ConnectOptions } from "./connection.js";

export type DialOptions = Omit<ConnectOptions, "sock">;

const MAX_COMMAND_CHANNELS = 8;

export class SshConnection {
  alive = true;
  private refs = 0;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private sftpSession?: Promise<SFTPWrapper>;
  private homeDir?: Promise<string>;

  constructor(
    readonly key: string,
    readonly client: Client,
    readonly label: string,
    private readonly onGone: (c: SshConnection) => void,
    private readonly jump?: SshConnection,
  ) {
    const gone = (): void => {
      if (!this.alive) return;
      this.alive = false;
      this.onGone(this);
      this.jump?.release();
    };
    client.on("close", gone);
    client.on("end", gone);
    // After "ready", errors (a reset link, a keepalive timeout) end in "close"; keep them from throwing.
    client.on("error", () => undefined);
  }

  /**
   * A slot for one command channel. sshd allows 10 sessions per connection by default (MaxSessions),
   * the SFTP session included; beyond that a channel is refused, so the rest wait their turn here.
   */
  async slot(): Promise<() => void> {
    if (this.running >= MAX_COMMAND_CHANNELS) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      this.running--;
      this.waiting.shift()?.();
    };
  }

  acquire(): this {
    this.refs++;
    return this;
  }

  release(): void {
    this.refs = Math.max(0, this.refs - 1);
    if (this.refs === 0 && this.alive) {
      this.alive = false;
      this.onGone(this);
      this.client.end();
      this.jump?.release();
    }
  }

  sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise<SFTPWrapper>((resolve, reject) => {
      if (!this.alive) return reject(new MetajudgeError("refused", `${this.label}: the connection is gone`));
      this.client.sftp((err, s) => {
        if (err) {
          this.sftpSession = undefined;
          reject(
            new MetajudgeError(
              "refused",
              `${this.label}: the host offers no SFTP subsystem (${err.message}); enable "Subsystem sftp" in its sshd_config`,
              undefined,
              { cause: err },
            ),
          );
        } else {
          s.on("close", () => (this.sftpSession = undefined));
          resolve(s);
        }
      });
    });
    return this.sftpSession;
  }

  /** Cached per connection: one round trip, not one per path. */
  home(run: () => Promise<string>): Promise<string> {
    this.homeDir ??= run().catch((e: unknown) => {
      this.homeDir = undefined;
      throw e;
    });
    return this.homeDir;
  }
}

const MAX_JUMPS = 8;

export class SshPool {
  private readonly entries = new Map<string, Promise<SshConnection>>();

  /**
   * user@host:port and the jump chain name the connection; the keys and the known_hosts file it was
   * checked against are part of its identity too, so a shell never rides on credentials it was not given.
   */
  private static keyOf(r: ResolvedSshTarget, deps: HostDeps): string {
    return JSON.stringify([`${r.user}@${r.hostName}:${r.port}`, r.proxyJump ?? "", r.identityFiles, deps.knownHostsFile, r.configFile]);
  }

  async acquire(r: ResolvedSshTarget, deps: HostDeps, opts: DialOptions = {}, depth = 0): Promise<SshConnection> {
    const key = SshPool.keyOf(r, deps);
    for (;;) {
      let pending = this.entries.get(key);
      if (!pending) {
        pending = this.dial(key, r, deps, opts, depth);
        this.entries.set(key, pending);
        pending.catch(() => {
          if (this.entries.get(key) === pending) this.entries.delete(key);
        });
      }
      const conn = await pending;
      if (conn.alive) return conn.acquire();
      if (this.entries.get(key) === pending) this.entries.delete(key);
    }
  }

  private async dial(key: string, r: ResolvedSshTarget, deps: HostDeps, opts: DialOptions, depth: number): Promise<SshConnection> {
    const forget = (c: SshConnection): void => {
      void this.entries.get(key)?.then((cur) => {
        if (cur === c) this.entries.delete(key);
      });
    };
    if (!r.proxyJump) return new SshConnection(key, await connectClient(r, deps, opts), sshLabel(r), forget);
    if (depth >= MAX_JUMPS)
      throw new MetajudgeError("badInput", `${sshLabel(r)}: ProxyJump goes more than ${MAX_JUMPS} hops deep (a loop?) in ${r.configFile}`, {
        file: r.configFile,
      });
    const hop = previousHop(r.proxyJump, r.configFile);
    const jump = await this.acquire(hop, deps, opts, depth + 1);
    try {
      const sock = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
        jump.client.forwardOut("127.0.0.1", 0, r.hostName, r.port, (err, stream) =>
          err
            ? reject(
                new MetajudgeError(
                  "refused",
                  `${sshLabel(r)}: the jump host ${jump.label} could not reach ${r.hostName}:${r.port}: ${err.message}`,
                  undefined,
                  { cause: err },
                ),
              )
            : resolve(stream),
        ),
      );
      const client = await connectClient(r, deps, { ...opts, sock: sock as Readable });
      return new SshConnection(key, client, `${sshLabel(r)} via ${jump.label}`, forget, jump);
    } catch (e) {
      jump.release();
      throw e;
    }
  }

  closeAll(): void {
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const p of all)
      void p.then(
        (c) => c.client.end(),
        () => undefined,
      );
  }
}
