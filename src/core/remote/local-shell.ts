// This machine as a RemoteShell, so the "local" host kind and the tests of every executor run the same
// code paths as an SSH host: commands through /bin/sh, files copied the way SFTP copies them (a .part
// file that survives an interruption, sha256 checked on both ends, then a rename).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { MetajudgeError } from "../errors.js";
import type { ExecOptions, ExecResult, Forward, RemoteShell, TransferOptions, TransferResult } from "./types.js";

const COLLECT_LIMIT = 4 * 1024 * 1024;

class Collector {
  private parts: Buffer[] = [];
  private size = 0;
  push(chunk: Buffer): void {
    if (this.size >= COLLECT_LIMIT) return;
    const keep = chunk.subarray(0, COLLECT_LIMIT - this.size);
    this.parts.push(keep);
    this.size += keep.length;
  }
  text(): string {
    return Buffer.concat(this.parts).toString("utf8");
  }
}

function expandHome(p: string): string {
  if (p === "~") return os.homedir();
  if (p.startsWith("~/")) return path.join(os.homedir(), p.slice(2));
  return p;
}

export class LocalShell implements RemoteShell {
  readonly label = "local";

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(new MetajudgeError("cancelled", `cancelled before running on local: ${command}`));
        return;
      }
      // A group of its own, so a timeout or an abort ends the command's children too.
      const child = spawn("/bin/sh", ["-c", command], { detached: true, stdio: ["pipe", "pipe", "pipe"] });
      const out = new Collector();
      const err = new Collector();
      let failure: MetajudgeError | undefined;
      const killGroup = (): void => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      };
      const onAbort = (): void => {
        failure ??= new MetajudgeError("cancelled", `cancelled while running on local: ${command}`);
        killGroup();
      };
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      const timer =
        opts.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              failure ??= new MetajudgeError("timeout", `local: "${command}" did not finish within ${opts.timeoutMs} ms`);
              killGroup();
            }, opts.timeoutMs);
      child.stdout.on("data", (c: Buffer) => (opts.onStdout ? opts.onStdout(c) : out.push(c)));
      child.stderr.on("data", (c: Buffer) => (opts.onStderr ? opts.onStderr(c) : err.push(c)));
      child.stdin.on("error", () => {
        // the command may exit without reading its stdin
      });
      child.stdin.end(opts.stdin ?? "");
      child.on("error", (e) => {
        failure ??= new MetajudgeError("internal", `local: could not start /bin/sh for "${command}": ${e.message}`);
      });
      child.on("close", (code, signal) => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        if (failure) reject(failure);
        else resolve({ code, ...(signal ? { signal } : {}), stdout: out.text(), stderr: err.text() });
      });
    });
  }

  async home(): Promise<string> {
    return os.homedir();
  }

  upload(localPath: string, remotePath: string, opts?: TransferOptions): Promise<TransferResult> {
    return copyResumable(localPath, expandHome(remotePath), opts);
  }

  download(remotePath: string, localPath: string, opts?: TransferOptions): Promise<TransferResult> {
    return copyResumable(expandHome(remotePath), localPath, opts);
  }

  forward(targetHost: string, targetPort: number): Promise<Forward> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((client) => {
      const upstream = net.connect(targetPort, targetHost);
      sockets.add(client).add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    return new Promise((resolve, reject) => {
      server.once("error", (e) =>
        reject(
          new MetajudgeError("internal", `local: cannot listen on 127.0.0.1 for a forward to ${targetHost}:${targetPort}: ${e.message}`),
        ),
      );
      server.listen(0, "127.0.0.1", () => {
        const address = server.address() as net.AddressInfo;
        resolve({
          localPort: address.port,
          close: () =>
            new Promise<void>((done) => {
              for (const s of sockets) s.destroy();
              server.close(() => done());
            }),
        });
      });
    });
  }

  close(): void {
    // Nothing is held open between calls.
  }
}

async function sha256File(file: string, limit?: number): Promise<string> {
  const hash = createHash("sha256");
  if (limit === 0) return hash.digest("hex");
  const stream = fs.createReadStream(file, limit === undefined ? {} : { start: 0, end: limit - 1 });
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await fsp.stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Copies src to dest through dest.part; a .part that is a prefix of src is kept and continued. */
async function copyResumable(src: string, dest: string, opts: TransferOptions = {}): Promise<TransferResult> {
  const total = await sizeOf(src);
  if (total === undefined) throw new MetajudgeError("badInput", `local: ${src} does not exist; nothing to copy to ${dest}`, { file: src });
  const sha256 = await sha256File(src);
  if ((await sizeOf(dest)) === total && (await sha256File(dest)) === sha256) {
    return { bytes: total, sha256, skipped: true, resumedFrom: 0 };
  }
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  let resumedFrom = 0;
  const partSize = await sizeOf(part);
  if (partSize !== undefined && partSize <= total && (await sha256File(part)) === (await sha256File(src, partSize))) {
    resumedFrom = partSize;
  } else if (partSize !== undefined) {
    await fsp.rm(part, { force: true });
  }
  let done = resumedFrom;
  await new Promise<void>((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new MetajudgeError("cancelled", `cancelled copying ${src} to ${dest}`));
    const input = fs.createReadStream(src, { start: resumedFrom });
    const output = fs.createWriteStream(part, { flags: resumedFrom > 0 ? "a" : "w" });
    const onAbort = (): void => {
      input.destroy();
      output.destroy();
      reject(new MetajudgeError("cancelled", `cancelled copying ${src} to ${dest} (${done} of ${total} bytes kept in ${part})`));
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    input.on("data", (c) => {
      done += c.length;
      opts.onProgress?.(done, total);
    });
    input.on("error", (e) => reject(new MetajudgeError("internal", `local: reading ${src}: ${e.message}`)));
    output.on("error", (e) => reject(new MetajudgeError("internal", `local: writing ${part}: ${e.message}`)));
    output.on("close", () => {
      opts.signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    input.pipe(output);
  });
  const copied = await sha256File(part);
  if (copied !== sha256) {
    await fsp.rm(part, { force: true });
    throw new MetajudgeError(
      "internal",
      `local: the copy of ${src} at ${part} does not match it (sha256 ${copied} vs ${sha256}); it was removed, try again`,
    );
  }
  await fsp.rename(part, dest);
  return { bytes: total, sha256, skipped: false, resumedFrom };
}
