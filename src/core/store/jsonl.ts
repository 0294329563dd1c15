// Append-only JSON Lines. A record is one line; a group of records is written with one write() so a
// kill leaves at most one torn line at the end of a file, which `repairTail` finds and moves aside.
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { MetajudgeError } from "../errors.js";
import { writeError } from "../fs-atomic.js";

// Whole-file replacement lives in fs-atomic.ts; these names stay importable from here.
export { syncDir, tempName, writeError, writeFileAtomic, writeTemp } from "../fs-atomic.js";

const NL = 0x0a;
const CHUNK = 4 * 1024 * 1024;

export interface LineProblem {
  file: string;
  line: number;
  message: string;
}

export interface ReadOptions {
  /** Throw on the first malformed line (default). When false, malformed lines go to `problems`. */
  strict?: boolean;
  signal?: AbortSignal;
}

export interface ReadSummary {
  lines: number;
  problems: LineProblem[];
  /** The file ended without a newline and its last line did not parse: a write was cut short. */
  tornTail: boolean;
}

/**
 * Streams every line of a JSONL file through `onRecord`, in file order, reading in large chunks and
 * decoding only complete lines. Blank lines are skipped. A missing file reads as empty.
 */
export async function readJsonl(
  file: string,
  onRecord: (value: unknown, line: number) => void,
  opts: ReadOptions = {},
): Promise<ReadSummary> {
  const strict = opts.strict ?? true;
  const summary: ReadSummary = { lines: 0, problems: [], tornTail: false };
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return summary;
    throw err;
  }
  try {
    let buf = Buffer.allocUnsafe(CHUNK);
    let carry = 0; // bytes of an unfinished line kept at the start of buf
    let lineNo = 0;
    const handle = (start: number, end: number, last: boolean): void => {
      lineNo++;
      // A file a person saved may begin with a UTF-8 BOM; it is not part of the first record.
      if (lineNo === 1 && end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
      // Tolerate CRLF files written on other systems.
      const stop = end > start && buf[end - 1] === 0x0d ? end - 1 : end;
      if (stop <= start) return;
      const text = buf.toString("utf8", start, stop);
      if (text.trim() === "") return;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        if (last) {
          summary.tornTail = true;
          summary.problems.push({ file, line: lineNo, message: "last line is incomplete (a write was cut short)" });
          return;
        }
        const problem = { file, line: lineNo, message: `not valid JSON: ${(err as Error).message}` };
        if (strict) throw new MetajudgeError("badInput", `${file}:${lineNo}: ${problem.message}`, { file, line: lineNo });
        summary.problems.push(problem);
        return;
      }
      summary.lines++;
      onRecord(value, lineNo);
    };
    for (;;) {
      if (opts.signal?.aborted) throw new MetajudgeError("cancelled", "cancelled");
      if (carry === buf.length) {
        // One line longer than the buffer: grow it rather than split a record.
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, carry);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, carry, buf.length - carry, null);
      const filled = carry + bytesRead;
      if (bytesRead === 0) {
        if (carry > 0) handle(0, carry, true);
        break;
      }
      let start = 0;
      let nl = buf.indexOf(NL, start);
      while (nl !== -1 && nl < filled) {
        handle(start, nl, false);
        start = nl + 1;
        nl = buf.indexOf(NL, start);
      }
      carry = filled - start;
      if (carry > 0) buf.copy(buf, 0, start, filled);
    }
  } finally {
    await fh.close();
  }
  return summary;
}

export interface TailRepair {
  file: string;
  /** Where the torn bytes were saved, or null when the tail was a whole record that only lacked its newline. */
  savedTo: string | null;
  bytes: number;
}

/**
 * Makes a file end on a line boundary before anything is appended to it. A last line without its
 * newline is either a complete record (the newline is added) or a torn one, whose bytes are moved to
 * `<file>.torn` (appended, never overwritten) so nothing is silently dropped.
 */
export function repairTail(file: string): TailRepair | null {
  let fd: number;
  try {
    fd = fs.openSync(file, "r+");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return null;
    const one = Buffer.alloc(1);
    fs.readSync(fd, one, 0, 1, size - 1);
    if (one[0] === NL) return null;
    // Walk back to the previous newline in modest steps; lines are rarely longer than a few KiB.
    let lineStart = 0;
    const step = 64 * 1024;
    const probe = Buffer.allocUnsafe(step);
    for (let end = size; end > 0; end -= step) {
      const from = Math.max(0, end - step);
      const n = fs.readSync(fd, probe, 0, end - from, from);
      const at = probe.subarray(0, n).lastIndexOf(NL);
      if (at !== -1) {
        lineStart = from + at + 1;
        break;
      }
    }
    const tail = Buffer.allocUnsafe(size - lineStart);
    fs.readSync(fd, tail, 0, tail.length, lineStart);
    if (isWholeRecord(tail)) {
      fs.writeSync(fd, "\n", size);
      fs.fsyncSync(fd);
      return { file, savedTo: null, bytes: tail.length };
    }
    const savedTo = `${file}.torn`;
    fs.appendFileSync(savedTo, Buffer.concat([tail, Buffer.from("\n")]));
    fs.ftruncateSync(fd, lineStart);
    fs.fsyncSync(fd);
    return { file, savedTo, bytes: tail.length };
  } finally {
    fs.closeSync(fd);
  }
}

function isWholeRecord(bytes: Buffer): boolean {
  try {
    const v: unknown = JSON.parse(bytes.toString("utf8"));
    return typeof v === "object" && v !== null;
  } catch {
    return false;
  }
}

/** An open append handle. Each `append` is one write() of whole lines. */
export class JsonlAppender {
  private fd: number;
  constructor(readonly file: string) {
    try {
      this.fd = fs.openSync(file, "a");
    } catch (err) {
      throw writeError(err, file, "opening it to append", "records already written are kept");
    }
  }

  append(records: readonly unknown[]): void {
    if (records.length === 0) return;
    let text = "";
    for (const r of records) text += JSON.stringify(r) + "\n";
    const data = Buffer.from(text, "utf8");
    let off = 0;
    try {
      // A short write (signal) must not leave half a group: retry until all bytes are out.
      while (off < data.length) off += fs.writeSync(this.fd, data, off, data.length - off);
    } catch (err) {
      // A full disk stops us mid-group: take back the part written, so the file ends on a whole record.
      if (off > 0) {
        try {
          fs.ftruncateSync(this.fd, fs.fstatSync(this.fd).size - off);
        } catch {
          // The torn tail is then set aside by repairTail on the next run.
        }
      }
      throw writeError(err, this.file, "appending", "records already written are kept");
    }
  }

  sync(): void {
    try {
      fs.fsyncSync(this.fd);
    } catch (err) {
      throw writeError(err, this.file, "syncing", "records already written are kept");
    }
  }

  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}

// writeFileAtomic's `<file>.tmp-<pid>`, and the lock's private `<.lock>.new-<pid>-<hex>` (see lock.ts).
const TEMP = /^(.+)\.(?:tmp-(\d+)|new-(\d+)-[0-9a-f]+)$/;

/**
 * Removes `<name>.tmp-<pid>` files in `dir` that a crashed writer left. Call it holding the
 * iteration's lock: then no writer of ours can be mid-write, and a temporary file is garbage unless its
 * pid is a live process other than this one (the editor writing something of its own).
 */
export function cleanTempFiles(dir: string, alive: (pid: number) => boolean): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP.exec(name);
    if (!m) continue;
    const pid = Number(m[2] ?? m[3]);
    if (pid !== process.pid && alive(pid)) continue;
    fs.rmSync(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

export function toJsonl(records: Iterable<unknown>): string {
  let out = "";
  for (const r of records) out += JSON.stringify(r) + "\n";
  return out;
}
