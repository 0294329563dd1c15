// Byte-offset indexes of an iteration's record files (and of the prompt set), so a view can open a
// million-record iteration without holding its texts: per record, where its line is and the few
// small fields a view sorts and counts by. Built by streaming the files in large chunks, extended
// by scanning only what was appended since, and saved beside the records (index-file.ts) so a
// reopened iteration reads its index instead of its gigabyte of JSON.
import { isUtf8 } from "node:buffer";
import { createHash } from "node:crypto";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { MetajudgeError } from "../errors.js";
import { FILES } from "../schema.js";
import { canWrite, indexFileFor, readIndexFile, writeIndexFile, type SourceState } from "./index-file.js";
import { Fields, fieldsFromValue } from "./fields.js";
import { LineScanner } from "./line-scan.js";
import { INDEXED_KINDS, RecordTable, type IndexedKind } from "./record-table.js";
import { StringPool } from "./string-pool.js";

export {
  INDEXED_KINDS,
  RecordTable,
  WINNER_FIRST,
  WINNER_NULL,
  WINNER_SECOND,
  type IndexedKind,
  type TableProblem,
} from "./record-table.js";
export { StringPool } from "./string-pool.js";
export { INDEX_DIR, INDEX_FILE, INDEX_FORMAT, type SourceState } from "./index-file.js";

export interface IndexProgress {
  file: string;
  bytes: number;
  total: number;
}

export interface IndexOptions {
  signal?: AbortSignal;
  onProgress?: (p: IndexProgress) => void;
}

export interface IndexChanges {
  /** Kinds with records added at the end; earlier records kept their slots. */
  appended: IndexedKind[];
  /** Kinds indexed from scratch: the file was replaced, shrank, or first seen. */
  rebuilt: IndexedKind[];
}

const CHUNK = 1024 * 1024;
const HEAD = 4096;
const PREVIEW = 160;
/** Appended bytes after which a refresh saves the index again, so a long run's reopen stays cheap. */
const SAVE_AFTER_BYTES = 64 * 1024 * 1024;
const NL = 0x0a;

const RECORD_FILES: Record<Exclude<IndexedKind, "prompt">, string> = {
  response: FILES.responses,
  judgement: FILES.judgements,
  meta_judgement: FILES.metaJudgements,
};

/** Thrown inside a scan when what follows the indexed bytes shows the file was not merely appended to. */
class NotAnAppend extends Error {}

const sha1 = (b: Uint8Array): string => createHash("sha1").update(b).digest("hex");

function emptySource(file: string): SourceState {
  return { file, size: 0, mtimeMs: 0, headLength: 0, headHash: "", indexed: 0, tailHash: "", lines: 0, open: false };
}

export class IterationIndex {
  readonly cacheFile: string;
  pool = new StringPool();
  tables = {} as Record<IndexedKind, RecordTable>;
  /** Bytes of record and prompt files read since opening: 0 when all of it came from the saved index. */
  scannedBytes = 0;
  private sources = {} as Record<IndexedKind, SourceState>;
  private files: Record<IndexedKind, string>;
  private queue: Promise<unknown> = Promise.resolve();
  private unsaved = 0;
  private buffer: Buffer | null = null;
  private disposed = false;

  private constructor(
    readonly iterDir: string,
    promptsFile: string,
  ) {
    this.cacheFile = indexFileFor(iterDir);
    this.files = {
      prompt: path.resolve(promptsFile),
      response: path.join(iterDir, RECORD_FILES.response),
      judgement: path.join(iterDir, RECORD_FILES.judgement),
      meta_judgement: path.join(iterDir, RECORD_FILES.meta_judgement),
    };
    for (const kind of INDEXED_KINDS) this.reset(kind);
  }

  /** Loads the saved index when it still describes the files, brings it up to date, and saves it if that took any scanning. */
  static async open(iterDir: string, promptsFile: string, opts: IndexOptions = {}): Promise<IterationIndex> {
    const idx = new IterationIndex(iterDir, promptsFile);
    const saved = await readIndexFile(idx.cacheFile);
    if (saved) {
      idx.pool = saved.pool;
      for (const kind of INDEXED_KINDS) {
        const src = saved.sources[kind];
        // Paths are saved relative to the iteration, so a copied or moved experiment keeps its index.
        if (path.resolve(iterDir, src.file) !== idx.files[kind]) continue;
        idx.tables[kind] = saved.tables[kind];
        idx.sources[kind] = { ...src, file: idx.files[kind] };
      }
    }
    await idx.refresh(opts);
    if (!saved || idx.scannedBytes > 0) await idx.save().catch(() => undefined);
    return idx;
  }

  file(kind: IndexedKind): string {
    return this.files[kind];
  }

  kindOfFile(file: string): IndexedKind | null {
    const abs = path.resolve(file);
    // Editors on Windows may spell the drive letter in either case.
    const same = process.platform === "win32" ? (a: string) => a.toLowerCase() === abs.toLowerCase() : (a: string) => a === abs;
    for (const kind of INDEXED_KINDS) if (same(this.files[kind])) return kind;
    return null;
  }

  /** Points the prompt index at another prompt set (the config changed); indexed on the next refresh. */
  setPromptsFile(file: string): void {
    const abs = path.resolve(file);
    if (abs === this.files.prompt) return;
    this.files.prompt = abs;
    this.reset("prompt");
  }

  /** Stats every file and indexes what changed: only the appended bytes, unless a file was replaced. */
  refresh(opts: IndexOptions = {}): Promise<IndexChanges> {
    return this.exclusive(async () => {
      const changes: IndexChanges = { appended: [], rebuilt: [] };
      for (const kind of INDEXED_KINDS) {
        const what = await this.refreshOne(kind, opts);
        if (what !== "unchanged") changes[what].push(kind);
      }
      if (this.unsaved >= SAVE_AFTER_BYTES) await this.saveNow().catch(() => undefined);
      return changes;
    });
  }

  save(): Promise<void> {
    return this.exclusive(() => this.saveNow());
  }

  dispose(): void {
    this.disposed = true;
    this.buffer = null;
  }

  /** Whether records were indexed since the index was last saved. */
  get dirty(): boolean {
    return this.unsaved > 0;
  }

  private async saveNow(): Promise<void> {
    if (!canWrite(this.iterDir)) return;
    const sources = {} as Record<IndexedKind, SourceState>;
    for (const kind of INDEXED_KINDS) sources[kind] = { ...this.sources[kind], file: path.relative(this.iterDir, this.files[kind]) };
    await writeIndexFile(this.cacheFile, { pool: this.pool, tables: this.tables, sources });
    this.unsaved = 0;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private reset(kind: IndexedKind): void {
    this.tables[kind] = new RecordTable(kind);
    this.sources[kind] = emptySource(this.files[kind]);
  }

  private async refreshOne(kind: IndexedKind, opts: IndexOptions): Promise<"unchanged" | "appended" | "rebuilt"> {
    const file = this.files[kind];
    let src = this.sources[kind];
    let st: { size: number; mtimeMs: number } | null = null;
    try {
      st = await fsp.stat(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (st === null) {
      if (src.indexed === 0 && src.size === 0) return "unchanged";
      this.reset(kind);
      return "rebuilt";
    }
    if (st.size === src.size && st.mtimeMs === src.mtimeMs) return "unchanged";
    const fh = await fsp.open(file, "r");
    try {
      let rebuilt = src.indexed === 0 && this.tables[kind].n === 0;
      if (st.size < src.indexed || !(await this.unchangedPrefix(fh, src))) {
        this.reset(kind);
        rebuilt = true;
      }
      const before = this.tables[kind].n;
      try {
        await this.scan(kind, fh, st.size, opts);
      } catch (err) {
        if (!(err instanceof NotAnAppend)) throw err;
        this.reset(kind);
        rebuilt = true;
        await this.scan(kind, fh, st.size, opts);
      }
      src = this.sources[kind];
      src.size = st.size;
      src.mtimeMs = st.mtimeMs;
      if (src.headLength < Math.min(HEAD, src.indexed)) {
        src.headLength = Math.min(HEAD, src.indexed);
        src.headHash = sha1(await readAt(fh, 0, src.headLength));
      }
      src.tailHash = await tailHash(fh, src.indexed);
      if (rebuilt) return "rebuilt";
      return this.tables[kind].n > before ? "appended" : "unchanged";
    } finally {
      await fh.close();
    }
  }

  /** The bytes indexed before are still there: same first 4 KiB, same 4 KiB before the end of what was indexed. */
  private async unchangedPrefix(fh: fsp.FileHandle, src: SourceState): Promise<boolean> {
    if (src.indexed === 0) return true;
    if (sha1(await readAt(fh, 0, src.headLength)) !== src.headHash) return false;
    return (await tailHash(fh, src.indexed)) === src.tailHash;
  }

  private async scan(kind: IndexedKind, fh: fsp.FileHandle, size: number, opts: IndexOptions): Promise<void> {
    const src = this.sources[kind];
    const table = this.tables[kind];
    if (src.open) {
      // The last record was indexed before its newline: what follows must be exactly that newline.
      if (src.indexed >= size) return;
      const next = await readAt(fh, src.indexed, Math.min(2, size - src.indexed));
      const skip = next[0] === NL ? 1 : next[0] === 0x0d && next[1] === NL ? 2 : 0;
      if (skip === 0) {
        if (next[0] === 0x0d && next.length < 2) return;
        throw new NotAnAppend();
      }
      src.indexed += skip;
      src.lines++;
      src.open = false;
    }
    let buf = (this.buffer ??= Buffer.allocUnsafeSlow(CHUNK));
    let scanner = new LineScanner(buf, this.pool);
    const f = new Fields();
    let base = src.indexed;
    let carry = 0;
    while (base + carry < size) {
      if (opts.signal?.aborted || this.disposed) throw new MetajudgeError("cancelled", "indexing cancelled");
      if (carry === buf.length) {
        // One line longer than the buffer: grow it rather than split a record.
        const bigger = Buffer.allocUnsafeSlow(buf.length * 2);
        buf.copy(bigger, 0, 0, carry);
        buf = this.buffer = bigger;
        scanner = new LineScanner(buf, this.pool);
      }
      const want = Math.min(buf.length - carry, size - base - carry);
      const { bytesRead } = await fh.read(buf, carry, want, base + carry);
      if (bytesRead === 0) break; // truncated under us; the next refresh sees it
      this.scannedBytes += bytesRead;
      this.unsaved += bytesRead;
      const filled = carry + bytesRead;
      const lastNl = buf.lastIndexOf(NL, filled - 1);
      if (lastNl >= 0) {
        // Invalid UTF-8 decodes to U+FFFD, which only the JSON.parse path reproduces.
        const utf8 = isUtf8(buf.subarray(0, lastNl));
        let start = 0;
        for (let nl = buf.indexOf(NL, 0); nl !== -1 && nl <= lastNl; nl = buf.indexOf(NL, start)) {
          this.line(table, scanner, f, buf, start, nl, base, src.lines + 1, utf8);
          src.lines++;
          start = nl + 1;
        }
        buf.copy(buf, 0, start, filled);
        base += start;
        carry = filled - start;
        src.indexed = base;
      } else carry = filled;
      opts.onProgress?.({ file: this.files[kind], bytes: base + carry, total: size });
    }
    // A last line without its newline is either a write still under way (left for the next refresh)
    // or a whole record whose writer stopped short of the newline, as repairTail also decides.
    if (carry > 0 && wholeObject(buf, 0, carry)) {
      this.line(table, scanner, f, buf, 0, carry, base, src.lines + 1, false);
      src.indexed = base + carry;
      src.open = true;
    }
  }

  private line(
    table: RecordTable,
    scanner: LineScanner,
    f: Fields,
    buf: Buffer,
    start: number,
    end: number,
    base: number,
    line: number,
    utf8: boolean,
  ): void {
    // A BOM a person's editor saved before the first line: the record (and its offset) starts after it.
    if (base + start === 0 && end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
    let stop = end;
    if (stop > start && buf[stop - 1] === 0x0d) stop--; // CRLF files written elsewhere
    if (stop === start) return;
    if (utf8 && table.kind !== "prompt" && buf[start] === 0x7b) {
      f.reset();
      if (scanner.scan(start, stop, f)) {
        table.add(f, base + start, stop - start, line);
        return;
      }
    }
    const text = buf.toString("utf8", start, stop);
    if (text.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      table.problem(line, `not valid JSON: ${(err as Error).message}`);
      return;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      table.problem(line, "not a JSON object");
      return;
    }
    if (table.kind === "prompt") this.promptLine(table, value as Record<string, unknown>, base + start, stop - start, line);
    else {
      fieldsFromValue(value, f, this.pool);
      table.add(f, base + start, stop - start, line);
    }
  }

  /** The prompt set's own rules (prompts.ts): integer ids become strings, an empty prompt is a problem. */
  private promptLine(table: RecordTable, rec: Record<string, unknown>, offset: number, bytes: number, line: number): void {
    const id = typeof rec.id === "number" && Number.isInteger(rec.id) ? String(rec.id) : rec.id;
    if (typeof id !== "string" || id === "") return table.problem(line, `"id" must be a non-empty string`);
    if (typeof rec.prompt !== "string" || rec.prompt.trim() === "")
      return table.problem(line, `prompt ${JSON.stringify(id)}: "prompt" must be a non-empty string`);
    table.addPrompt(this.pool.internString(id), preview(rec.prompt), offset, bytes, line);
  }
}

/** The first PREVIEW characters of a prompt on one line: each run of whitespace becomes one space. */
export function preview(text: string): string {
  let out = "";
  let i = 0;
  // Word by word (a slice each), not character by character: 5,000 prompts open in a few milliseconds.
  while (i < text.length && out.length < PREVIEW) {
    while (i < text.length && isBlank(text.charCodeAt(i))) i++;
    const start = i;
    while (i < text.length && !isBlank(text.charCodeAt(i))) i++;
    if (i > start) out += (out === "" ? "" : " ") + text.slice(start, i);
  }
  while (i < text.length && isBlank(text.charCodeAt(i))) i++;
  if (out.length <= PREVIEW && i >= text.length) return out;
  // Never end on half of a surrogate pair.
  const cut = /[\uD800-\uDBFF]/.test(out.charAt(PREVIEW - 1)) ? PREVIEW - 1 : PREVIEW;
  return `${out.slice(0, cut)}…`;
}

/** The characters JavaScript's \s matches that occur in practice. */
function isBlank(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x2028 || c === 0x2029 || c === 0xfeff || c === 0x3000;
}

function wholeObject(buf: Buffer, start: number, end: number): boolean {
  if (buf[start] !== 0x7b) return false;
  try {
    const v: unknown = JSON.parse(buf.toString("utf8", start, end));
    return typeof v === "object" && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

async function readAt(fh: fsp.FileHandle, position: number, length: number): Promise<Buffer> {
  const b = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(b, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? b : b.subarray(0, got);
}

async function tailHash(fh: fsp.FileHandle, end: number): Promise<string> {
  const from = Math.max(0, end - HEAD);
  return sha1(await readAt(fh, from, end - from));
}
