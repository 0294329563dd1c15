// Reading a record file for `metajudge pairs` through the store's byte scanner: ids become pool
// keys and texts only their lengths, with no JSON.parse, string or object per line. A line the
// scanner declines goes to JSON.parse and is read the same way, so the result never depends on
// which path a line took; lines are read and rejected exactly as readJsonl reads them.
import { isUtf8 } from "node:buffer";
import * as fsp from "node:fs/promises";
import { MetajudgeError } from "../../errors.js";
import { Fields, fieldsFromValue } from "../../store/fields.js";
import { LineScanner } from "../../store/line-scan.js";
import type { StringPool } from "../../store/string-pool.js";

const NL = 0x0a;
const CHUNK = 4 * 1024 * 1024;

/** A record that breaks the contract: where, what, and what to do. */
export function badRecord(file: string, line: number, what: string): never {
  throw new MetajudgeError("badInput", `${file}:${line}: ${what}; fix or remove that line (records are never rewritten by Metajudge)`, {
    file,
    line,
  });
}

/**
 * Calls `onLine` with the fields of every record of `file`, in file order (`line` is 1-based). The
 * Fields object is reused from line to line. Blank lines are skipped; a last line that was cut
 * short is ignored; any other line that is not a JSON object is an error. A missing file is empty.
 */
export async function scanRecords(
  file: string,
  pool: StringPool,
  onLine: (f: Fields, line: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    // A small file gets a small buffer: tests read thousands of them. allocUnsafeSlow is 4-byte aligned, as the scanner needs.
    let buf = Buffer.allocUnsafeSlow(Math.max(1024, Math.min(CHUNK, (size + 8) & ~3)));
    let scanner = new LineScanner(buf, pool);
    const f = new Fields();
    let carry = 0;
    let lineNo = 0;
    for (;;) {
      if (signal?.aborted) throw new MetajudgeError("cancelled", "cancelled");
      if (carry === buf.length) {
        // One line longer than the buffer: grow it rather than split a record.
        const bigger = Buffer.allocUnsafeSlow(buf.length * 2);
        buf.copy(bigger, 0, 0, carry);
        buf = bigger;
        scanner = new LineScanner(buf, pool);
      }
      const { bytesRead } = await fh.read(buf, carry, buf.length - carry, null);
      const filled = carry + bytesRead;
      if (bytesRead === 0) {
        if (carry > 0) line(buf, scanner, f, 0, carry, ++lineNo, true, false, pool, file, onLine);
        break;
      }
      const lastNl = buf.lastIndexOf(NL, filled - 1);
      let start = 0;
      if (lastNl >= 0) {
        // Invalid UTF-8 decodes to U+FFFD, which only the JSON.parse path reproduces.
        const utf8 = isUtf8(buf.subarray(0, lastNl));
        for (let nl = buf.indexOf(NL, 0); nl !== -1 && nl <= lastNl; nl = buf.indexOf(NL, start)) {
          line(buf, scanner, f, start, nl, ++lineNo, false, utf8, pool, file, onLine);
          start = nl + 1;
        }
      }
      carry = filled - start;
      if (carry > 0 && start > 0) buf.copy(buf, 0, start, filled);
    }
  } finally {
    await fh.close();
  }
}

function line(
  buf: Buffer,
  scanner: LineScanner,
  f: Fields,
  start: number,
  end: number,
  lineNo: number,
  last: boolean,
  utf8: boolean,
  pool: StringPool,
  file: string,
  onLine: (f: Fields, line: number) => void,
): void {
  // Tolerate CRLF files written on other systems.
  const stop = end > start && buf[end - 1] === 0x0d ? end - 1 : end;
  if (stop <= start) return;
  if (utf8 && buf[start] === 0x7b) {
    f.reset();
    if (scanner.scan(start, stop, f)) {
      onLine(f, lineNo);
      return;
    }
  }
  const text = buf.toString("utf8", start, stop);
  if (text.trim() === "") return;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    if (last) return; // a write cut short: the record was never complete
    throw new MetajudgeError("badInput", `${file}:${lineNo}: not valid JSON: ${(err as Error).message}`, { file, line: lineNo });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) badRecord(file, lineNo, "not a JSON object");
  fieldsFromValue(value, f, pool);
  onLine(f, lineNo);
}
