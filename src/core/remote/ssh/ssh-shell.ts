// RemoteShell over a pooled SSH connection. A shell outlives a dropped link: its next call takes a
// fresh connection from the pool instead of failing for the rest of a long job.
import { createServer, type Socket } from "node:net";
import type { ClientChannel } from "ssh2";
import { MetajudgeError } from "../../errors.js";
import { remotePath } from "../shell.js";
import type { ExecOptions, ExecResult, Forward, RemoteShell, TransferOptions, TransferResult } from "../types.js";
import type { SshConnection } from "./pool.js";
import { downloadFile, uploadFile, type TransferHost } from "./transfer.js";

const MAX_COLLECTED = 4 * 1024 * 1024;
const START_ATTEMPTS = 6; // about 1.5 s of backing off in all

function brief(command: string): string {
  const one = command.replace(/\s+/g, " ").trim();
  return one.length > 160 ? `${one.slice(0, 157)}...` : one;
}

class Collector {
  private readonly parts: Buffer[] = [];
  private size = 0;
  add(chunk: Buffer): void {
    if (this.size >= MAX_COLLECTED) return;
    const keep = chunk.subarray(0, MAX_COLLECTED - this.size);
    this.parts.push(keep);
    this.size += keep.length;
  }
  text(): string {
    return Buffer.concat(this.parts).toString("utf8");
  }
}

/**
 * A "signal" request on the channel (sshd killpg()s the command). ssh2's channel.signal() sends it only
 * while our side is writable, and we send EOF on stdin at once so commands that read it do not hang;
 * the request is still valid after EOF, so it goes out through the protocol object directly.
 */
function signalChannel(channel: ClientChannel, name: string): void {
  const internals = channel as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal?(id: number, signal: string): void } };
  };
  const protocol = internals._client?._protocol;
  try {
    const state = internals.outgoing?.state;
    if (internals.outgoing && (state === "open" || state === "eof") && protocol?.signal) protocol.signal(internals.outgoing.id, name);
    else channel.signal(name);
  } catch {
    // the channel is already gone
  }
}

class StartFailed extends Error {
  constructor(readonly error: MetajudgeError) {
    super(error.message);
  }
}

export class SshShell implements RemoteShell {
  private closed = false;
  private reconnecting?: Promise<SshConnection>;

  constructor(
    private conn: SshConnection,
    private readonly reconnect: () => Promise<SshConnection>,
  ) {}

  get label(): string {
    return this.conn.label;
  }

  private async connection(): Promise<SshConnection> {
    if (this.closed) throw new MetajudgeError("internal", `${this.label}: this shell was closed`);
    if (this.conn.alive) return this.conn;
    // Calls that find the link dead together share one reconnect, so the shell holds one reference.
    this.reconnecting ??= this.reconnect().then(
      (fresh) => {
        this.reconnecting = undefined;
        this.conn.release();
        this.conn = fresh;
        return fresh;
      },
      (e: unknown) => {
        this.reconnecting = undefined;
        throw e;
      },
    );
    return this.reconnecting;
  }

  /** Runs the command in a channel slot; rejects with StartFailed when the channel could not even be opened. */
  private async run(conn: SshConnection, command: string, opts: ExecOptions): Promise<ExecResult> {
    const free = await conn.slot();
    try {
      return await this.runInSlot(conn, command, opts);
    } finally {
      free();
    }
  }

  private runInSlot(conn: SshConnection, command: string, opts: ExecOptions): Promise<ExecResult> {
    const label = conn.label;
    return new Promise<ExecResult>((resolve, reject) => {
      const startFailed = (openErr: Error): void =>
        reject(
          new StartFailed(
            new MetajudgeError("refused", `${label}: cannot start a command (${openErr.message}): ${brief(command)}`, undefined, {
              cause: openErr,
            }),
          ),
        );
      // ssh2 throws "Not connected" at once on a socket it already knows is gone.
      const started = (fn: () => void): void => {
        try {
          fn();
        } catch (e) {
          startFailed(e instanceof Error ? e : new Error(String(e)));
        }
      };
      started(() =>
        conn.client.exec(command, (openErr, channel) => {
          if (openErr) return startFailed(openErr);
          // Listeners go on in this callback, not after an await: a quick command's output, exit status
          // and close can arrive in the same read as the go-ahead, and an "exit" missed is a code lost.
          const out = new Collector();
          const err = new Collector();
          let code: number | null = null;
          let signal: string | undefined;
          let sawExit = false;
          let stopped: MetajudgeError | undefined;
          // A timeout or a cancel answers at once: on a dead link the channel's close could take minutes.
          const stop = (e: MetajudgeError): void => {
            if (stopped) return;
            stopped = e;
            opts.signal?.removeEventListener("abort", onAbort);
            if (timer) clearTimeout(timer);
            reject(e);
            // Ask sshd to kill the command, then close the channel: a command without a pty would otherwise run on.
            signalChannel(channel, "KILL");
            channel.close();
          };
          const onAbort = (): void => stop(new MetajudgeError("cancelled", `${label}: cancelled: ${brief(command)}`));
          opts.signal?.addEventListener("abort", onAbort, { once: true });
          const timer =
            opts.timeoutMs === undefined
              ? undefined
              : setTimeout(
                  () => stop(new MetajudgeError("timeout", `${label}: no end after ${opts.timeoutMs} ms, killed: ${brief(command)}`)),
                  opts.timeoutMs,
                );

          channel.on("data", (d: Buffer) => (opts.onStdout ? opts.onStdout(d) : out.add(d)));
          channel.stderr.on("data", (d: Buffer) => (opts.onStderr ? opts.onStderr(d) : err.add(d)));
          channel.on("exit", (c: number | null, s?: string) => {
            sawExit = true;
            code = typeof c === "number" ? c : null;
            if (s) signal = s;
          });
          channel.on("close", () => {
            opts.signal?.removeEventListener("abort", onAbort);
            if (timer) clearTimeout(timer);
            if (stopped) return;
            if (!sawExit && !conn.alive)
              return reject(
                new MetajudgeError(
                  "refused",
                  `${label}: the connection dropped while running: ${brief(command)}; the command may still be running on the host`,
                ),
              );
            resolve({ code, ...(signal ? { signal } : {}), stdout: out.text(), stderr: err.text() });
          });
          if (opts.signal?.aborted) onAbort();
          if (opts.stdin !== undefined) channel.end(opts.stdin);
          else channel.end();
        }),
      );
    });
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    let lastError: MetajudgeError | undefined;
    // A channel that could not be opened never ran its command, so trying again is always safe: the
    // link may have died before we noticed (the next try dials again), or sshd may still be counting
    // a session that just ended against MaxSessions (the next try, a moment later, gets in).
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      const conn = await this.connection();
      if (opts.signal?.aborted) throw new MetajudgeError("cancelled", `${conn.label}: cancelled before running: ${brief(command)}`);
      try {
        return await this.run(conn, command, opts);
      } catch (e) {
        if (!(e instanceof StartFailed)) throw e;
        lastError = e.error;
        await new Promise((r) => setTimeout(r, conn.alive ? 50 * 2 ** attempt : 0));
      }
    }
    throw lastError ?? new MetajudgeError("internal", `${this.label}: cannot start: ${brief(command)}`);
  }

  async home(): Promise<string> {
    const conn = await this.connection();
    return conn.home(async () => {
      const r = await this.exec(`printf '%s' "$HOME"`);
      const home = r.stdout.trim();
      if (r.code !== 0 || !home.startsWith("/"))
        throw new MetajudgeError("server", `${this.label}: cannot find the remote home directory ($HOME is "${home}")`);
      return home;
    });
  }

  private transferHost(): TransferHost {
    return {
      label: this.label,
      exec: (c, o) => this.exec(c, o),
      sftp: async () => (await this.connection()).sftp(),
    };
  }

  async upload(localPath: string, remote: string, opts?: TransferOptions): Promise<TransferResult> {
    return uploadFile(this.transferHost(), localPath, remotePath(remote, await this.home()), opts);
  }

  async download(remote: string, localPath: string, opts?: TransferOptions): Promise<TransferResult> {
    return downloadFile(this.transferHost(), remotePath(remote, await this.home()), localPath, opts);
  }

  async forward(targetHost: string, targetPort: number): Promise<Forward> {
    await this.connection();
    const sockets = new Set<Socket>();
    const server = createServer((sock) => {
      sockets.add(sock);
      sock.on("close", () => sockets.delete(sock));
      sock.on("error", () => sock.destroy());
      sock.pause();
      this.connection()
        .then((conn) =>
          conn.client.forwardOut("127.0.0.1", sock.remotePort ?? 0, targetHost, targetPort, (err, channel) => {
            // The host refused this one connection (nothing listens there): the client sees a reset, as with -L.
            if (err) return sock.destroy();
            channel.on("error", () => sock.destroy());
            channel.on("close", () => sock.destroy());
            sock.on("close", () => channel.close());
            sock.pipe(channel).pipe(sock);
            sock.resume();
          }),
        )
        .catch(() => sock.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new MetajudgeError("internal", "forward: the local listener has no port");
    return {
      localPort: address.port,
      close: () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.release();
  }
}
