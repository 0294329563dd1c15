// Files to and from a host over SFTP, the way a flaky link to a GPU box needs it: through <dest>.part,
// resuming a partial copy only if its bytes are the ones we would have sent, checked with sha256 on
// both ends before the rename. Streams in fixed chunks with a few requests in flight; never whole files.
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, open, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { dirname, posix } from "node:path";
import type { SFTPWrapper } from "ssh2";
import { MetajudgeError } from "../../errors.js";
import { quote } from "../shell.js";
import type { ExecOptions, ExecResult, TransferOptions, TransferResult } from "../types.js";

const CHUNK = 32 * 1024; // within every SFTP server's packet limit
const IN_FLIGHT = 16;

export interface TransferHost {
  label: string;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  sftp(): Promise<SFTPWrapper>;
}

export async function sha256Local(file: string, length?: number): Promise<string> {
  if (length === 0) return createHash("sha256").digest("hex");
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, length === undefined ? {} : { start: 0, end: length - 1 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function cancelled(label: string, what: string): MetajudgeError {
  return new MetajudgeError("cancelled", `${label}: ${what} was cancelled; the partial copy is kept and the next attempt resumes it`);
}

interface Probe {
  size?: number; // absent: no such file
  sha?: string;
  partSize?: number;
  partSha?: string; // of the whole .part (upload) or of the file's first prefix bytes (download)
}

/**
 * Size and sha256 of a remote file, plus either its .part (to resume an upload) or the sha256 of its
 * first bytes (to check a local .part against), in one round trip.
 */
async function probeRemote(host: TransferHost, file: string, also: { part?: string; prefix?: number } = {}): Promise<Probe> {
  const f = quote(file);
  const lines = [`if [ -f ${f} ]; then printf 'file %s %s\\n' "$(wc -c < ${f} | tr -d ' ')" "$(sha256sum < ${f} | cut -d' ' -f1)"; fi`];
  if (also.part !== undefined) {
    const p = quote(also.part);
    lines.push(`if [ -f ${p} ]; then printf 'part %s %s\\n' "$(wc -c < ${p} | tr -d ' ')" "$(sha256sum < ${p} | cut -d' ' -f1)"; fi`);
  }
  if (also.prefix)
    lines.push(
      `if [ -f ${f} ]; then printf 'part %s %s\\n' ${also.prefix} "$(head -c ${also.prefix} ${f} | sha256sum | cut -d' ' -f1)"; fi`,
    );
  const script = lines.join("; ");
  const r = await host.exec(script);
  if (r.code !== 0)
    throw new MetajudgeError(
      "server",
      `${host.label}: checking ${file} failed (exit ${r.code}): ${r.stderr.trim()}; the host needs sha256sum (coreutils)`,
    );
  const out: Probe = {};
  for (const line of r.stdout.split("\n")) {
    const [kind, size, sha] = line.split(" ");
    if (kind === "file") Object.assign(out, { size: Number(size), sha });
    if (kind === "part") Object.assign(out, { partSize: Number(size), partSha: sha });
  }
  return out;
}

function sftpCall<T>(label: string, what: string, fn: (cb: (err: Error | null | undefined, v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) =>
    fn((err, v) =>
      err ? reject(new MetajudgeError("server", `${label}: ${what}: ${err.message}`, undefined, { cause: err })) : resolve(v),
    ),
  );
}

/** Runs `work(offset, length)` over [from, total) in chunks, a few at a time, in order of offsets handed out. */
async function chunked(
  from: number,
  total: number,
  signal: AbortSignal | undefined,
  onAbort: () => MetajudgeError,
  work: (offset: number, length: number) => Promise<void>,
  progress: (n: number) => void,
): Promise<void> {
  let next = from;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < total && failed === undefined) {
      if (signal?.aborted) throw onAbort();
      const offset = next;
      const length = Math.min(CHUNK, total - offset);
      next += length;
      await work(offset, length);
      progress(length);
    }
  };
  const workers = Array.from({ length: IN_FLIGHT }, () =>
    worker().catch((e: unknown) => {
      failed ??= e;
    }),
  );
  await Promise.all(workers);
  if (failed !== undefined) throw failed;
}

export async function uploadFile(host: TransferHost, localPath: string, dest: string, opts: TransferOptions = {}): Promise<TransferResult> {
  const label = host.label;
  if (!existsSync(localPath))
    throw new MetajudgeError("badInput", `upload to ${label}: no such local file ${localPath}`, { file: localPath });
  const total = (await stat(localPath)).size;
  const sha256 = await sha256Local(localPath);
  const part = `${dest}.part`;
  const remote = await probeRemote(host, dest, { part });
  if (remote.sha === sha256) {
    opts.onProgress?.(total, total);
    return { bytes: total, sha256, skipped: true, resumedFrom: 0 };
  }
  let resumedFrom = 0;
  if (remote.partSize && remote.partSize <= total && remote.partSha === (await sha256Local(localPath, remote.partSize)))
    resumedFrom = remote.partSize;
  // The host is POSIX whatever this machine is.
  const destDir = posix.dirname(dest);
  const mk = await host.exec(`mkdir -p -- ${quote(destDir)}`);
  if (mk.code !== 0) throw new MetajudgeError("server", `${label}: cannot create ${destDir}: ${mk.stderr.trim()}`);

  const sftp = await host.sftp();
  // "w" truncates a .part we do not trust; "r+" keeps the prefix we checked.
  const handle = await sftpCall<Buffer>(label, `cannot open ${part} for writing`, (cb) =>
    sftp.open(part, resumedFrom > 0 ? "r+" : "w", cb),
  );
  const local = await open(localPath, "r");
  let done = resumedFrom;
  opts.onProgress?.(done, total);
  try {
    await chunked(
      resumedFrom,
      total,
      opts.signal,
      () => cancelled(label, `uploading ${localPath}`),
      async (offset, length) => {
        const buf = Buffer.allocUnsafe(length);
        const { bytesRead } = await local.read(buf, 0, length, offset);
        if (bytesRead !== length) throw new MetajudgeError("internal", `upload to ${label}: ${localPath} changed while it was being sent`);
        await sftpCall<void>(label, `writing ${part}`, (cb) => sftp.write(handle, buf, 0, length, offset, (err) => cb(err, undefined)));
      },
      (n) => opts.onProgress?.((done += n), total),
    );
  } finally {
    await local.close();
    await sftpCall<void>(label, `closing ${part}`, (cb) => sftp.close(handle, (err) => cb(err, undefined))).catch(() => undefined);
  }

  const check = await probeRemote(host, part);
  if (check.sha !== sha256 || check.size !== total) {
    await host.exec(`rm -f -- ${quote(part)}`);
    throw new MetajudgeError(
      "server",
      `${label}: ${dest} arrived corrupted (sha256 ${check.sha ?? "none"}, expected ${sha256}); the partial copy was removed, try again`,
    );
  }
  const mv = await host.exec(`mv -f -- ${quote(part)} ${quote(dest)}`);
  if (mv.code !== 0) throw new MetajudgeError("server", `${label}: cannot rename ${part} to ${dest}: ${mv.stderr.trim()}`);
  return { bytes: total, sha256, skipped: false, resumedFrom };
}

export async function downloadFile(
  host: TransferHost,
  src: string,
  localPath: string,
  opts: TransferOptions = {},
): Promise<TransferResult> {
  const label = host.label;
  const part = `${localPath}.part`;
  const partSize = existsSync(part) ? (await stat(part)).size : 0;
  const remote = await probeRemote(host, src, { prefix: partSize });
  if (remote.sha === undefined || remote.size === undefined)
    throw new MetajudgeError("badInput", `${label}: no such file ${src} on the host`);
  const total = remote.size;
  const sha256 = remote.sha;
  if (existsSync(localPath) && (await sha256Local(localPath)) === sha256) {
    opts.onProgress?.(total, total);
    return { bytes: total, sha256, skipped: true, resumedFrom: 0 };
  }
  let resumedFrom = 0;
  if (partSize > 0 && partSize <= total && remote.partSha === (await sha256Local(part))) resumedFrom = partSize;
  await mkdir(dirname(localPath), { recursive: true });

  const sftp = await host.sftp();
  const handle = await sftpCall<Buffer>(label, `cannot open ${src}`, (cb) => sftp.open(src, "r", cb));
  let local: FileHandle | undefined;
  let done = resumedFrom;
  opts.onProgress?.(done, total);
  try {
    local = await open(part, resumedFrom > 0 ? "r+" : "w");
    const out = local;
    await chunked(
      resumedFrom,
      total,
      opts.signal,
      () => cancelled(label, `downloading ${src}`),
      async (offset, length) => {
        // A read may return less than asked: keep reading until the chunk is whole.
        let got = 0;
        while (got < length) {
          const buf = Buffer.allocUnsafe(length - got);
          const n = await sftpCall<number>(label, `reading ${src}`, (cb) =>
            sftp.read(handle, buf, 0, length - got, offset + got, (err, bytes) => cb(err, bytes)),
          );
          if (n === 0) throw new MetajudgeError("server", `${label}: ${src} shrank while it was being read`);
          await out.write(buf, 0, n, offset + got);
          got += n;
        }
      },
      (n) => opts.onProgress?.((done += n), total),
    );
  } finally {
    await local?.close();
    await sftpCall<void>(label, `closing ${src}`, (cb) => sftp.close(handle, (err) => cb(err, undefined))).catch(() => undefined);
  }

  const got = await sha256Local(part);
  if (got !== sha256) {
    await rm(part, { force: true });
    throw new MetajudgeError(
      "server",
      `${label}: ${src} arrived corrupted (sha256 ${got}, expected ${sha256}); the partial copy was removed, try again`,
    );
  }
  await rename(part, localPath);
  return { bytes: total, sha256, skipped: false, resumedFrom };
}
