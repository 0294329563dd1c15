// Whole-file reads and replacements, one way for the whole code base: a file that may not exist
// yet is read as null, and a file is replaced by writing a synced temporary beside it and renaming
// it over, so readers (and a crash) see the old file or the new one, never half of either.
import * as fs from "node:fs";
import * as path from "node:path";
import { MetajudgeError } from "./errors.js";

/** The file's text, or null when there is no such file; any other error is thrown as it is. */
export function readIfExists(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** The temporary name writeFileAtomic writes under; a crash can leave it behind (see cleanTempFiles). */
export function tempName(file: string): string {
  return `${file}.tmp-${process.pid}`;
}

/**
 * Writes `data` to `<file>.tmp-<pid>` and syncs it, without renaming; a write error removes the
 * temporary file and names the real one.
 */
export function writeTemp(file: string, data: string | Buffer): string {
  const tmp = tempName(file);
  try {
    const fd = fs.openSync(tmp, "w");
    try {
      const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      let off = 0;
      while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw writeError(err, file, "writing", "the previous version of the file is kept");
  }
  return tmp;
}

/**
 * Replaces a whole file (pairs, dpo, manifest, a job record, metajudge.json) atomically: readers
 * see the old file or the new one. The data is synced before the rename and the folder after it,
 * so once this returns the new file survives a power cut.
 */
export function writeFileAtomic(file: string, data: string | Buffer): void {
  const tmp = writeTemp(file, data);
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw writeError(err, file, "replacing", "the previous version of the file is kept");
  }
  syncDir(path.dirname(file));
}

/** Makes renames and unlinks in `dir` durable. Some systems cannot open a folder for sync; then there is nothing to do. */
export function syncDir(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, "r");
  } catch {
    return;
  }
  try {
    fs.fsyncSync(fd);
  } catch {
    // EISDIR/EINVAL on some platforms and file systems: the rename itself is still atomic.
  } finally {
    fs.closeSync(fd);
  }
}

const WHAT_TO_DO: Record<string, string> = {
  ENOSPC: "free space",
  EDQUOT: "free space or raise your disk quota",
  EROFS: "the file system is read-only; remount it writable or move the experiment",
  EACCES: "check the folder's permissions",
  EPERM: "check the folder's permissions",
  EIO: "the disk reported an I/O error; check it",
};

/**
 * A write error as the user needs it: which file, what the system said, and what to do:
 * "…/judgements.jsonl: no space left on device (ENOSPC) while appending; free space and run again
 * (records already written are kept)".
 */
export function writeError(err: unknown, file: string, doing: string, kept: string): Error {
  const e = err as NodeJS.ErrnoException;
  if (err instanceof MetajudgeError || typeof e?.code !== "string") return err as Error;
  const said = (e.message ?? "").replace(/^[A-Z]+: /, "").replace(/, \w+.*$/, "") || e.code;
  const todo = WHAT_TO_DO[e.code];
  return new MetajudgeError(
    "io",
    `${file}: ${said} (${e.code}) while ${doing}; ${todo ? `${todo} and ` : ""}run again (${kept})`,
    { file },
    { cause: err },
  );
}
