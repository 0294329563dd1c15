// The persisted index: iterations/<t>/.index/records.idx, one file holding the string pool and every
// table's columns, so reopening an iteration reads ~40 bytes per record instead of ~1 KB of JSON.
//
//   bytes 0-7    "MJINDEX\n"
//   bytes 8-11   format version, uint32 little-endian (INDEX_FORMAT)
//   bytes 12-15  header length H, uint32 little-endian
//   bytes 16-35  SHA-1 of every byte from 40 to the end
//   40 .. 40+H   header, UTF-8 JSON: sources (path, size, mtime, head/tail hashes, bytes and lines
//                indexed), table sizes, problems, prompt previews, and the blob directory
//   then         the blobs, each 8-byte aligned, little-endian typed-array bytes, in directory order
//
// Anything that does not check out (magic, version, hash, lengths, keys out of range, offsets out
// of order) makes the reader return null and the caller rebuild: a cache is a convenience, never a
// source of truth. The hash sits before the data it covers so a reader can hash while it reads.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { COLUMNS, columnType, INDEXED_KINDS, RecordTable, type ColumnName, type IndexedKind, type TableProblem } from "./record-table.js";
import { StringPool } from "./string-pool.js";

export const INDEX_FORMAT = 1;
export const INDEX_DIR = ".index";
export const INDEX_FILE = "records.idx";
const MAGIC = Buffer.from("MJINDEX\n", "latin1");
const PREFIX = 40;
const HASH_AT = 16;

/** What an index knows about the file it was built from, to tell an append from a replacement. */
export interface SourceState {
  file: string;
  size: number;
  mtimeMs: number;
  /** The first `headLength` bytes (up to 4 KiB) hash to `headHash`. */
  headLength: number;
  headHash: string;
  /** Bytes consumed: through the last complete line, or through a final record still lacking its newline. */
  indexed: number;
  /** Hash of the (up to) 4 KiB that end at `indexed`. */
  tailHash: string;
  /** Newlines consumed. */
  lines: number;
  /** The last record was indexed before its newline was written. */
  open: boolean;
}

export interface IndexSnapshot {
  pool: StringPool;
  tables: Record<IndexedKind, RecordTable>;
  sources: Record<IndexedKind, SourceState>;
}

type BlobType = "u8" | "u32" | "i32" | "f64" | "i8";
interface Blob {
  name: string;
  type: BlobType;
  offset: number;
  length: number;
}

interface Header {
  format: number;
  sources: Record<IndexedKind, SourceState>;
  pool: { count: number };
  tables: Record<IndexedKind, { n: number; problems: TableProblem[]; problemCount: number; previews?: string[] }>;
  blobs: Blob[];
}

type Typed = Uint8Array | Uint32Array | Int32Array | Float64Array | Int8Array;

const bytesOf = (a: Typed): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const align8 = (n: number): number => (n + 7) & ~7;

/** Writes the index beside the records: a temporary file renamed over the old one, so readers see one or the other. */
export async function writeIndexFile(file: string, snap: IndexSnapshot): Promise<void> {
  const parts: { name: string; type: BlobType; data: Typed }[] = [];
  const pool = snap.pool.arrays();
  parts.push({ name: "pool.bytes", type: "u8", data: pool.bytes });
  parts.push({ name: "pool.starts", type: "u32", data: pool.starts });
  parts.push({ name: "pool.hashes", type: "u32", data: pool.hashes });
  parts.push({ name: "pool.table", type: "i32", data: pool.table });
  for (const kind of INDEXED_KINDS) {
    const t = snap.tables[kind];
    for (const c of COLUMNS[kind]) parts.push({ name: `${kind}.${c}`, type: columnType(c), data: t.column(c).subarray(0, t.n) });
  }
  const blobs: Blob[] = [];
  let at = 0;
  for (const p of parts) {
    blobs.push({ name: p.name, type: p.type, offset: at, length: p.data.length });
    at = align8(at + p.data.byteLength);
  }
  const tables = {} as Header["tables"];
  for (const kind of INDEXED_KINDS) {
    const t = snap.tables[kind];
    tables[kind] = { n: t.n, problems: t.problems, problemCount: t.problemCount, ...(kind === "prompt" ? { previews: t.previews } : {}) };
  }
  const header: Header = { format: INDEX_FORMAT, sources: snap.sources, pool: { count: pool.count }, tables, blobs };
  const headerBytes = Buffer.from(JSON.stringify(header), "utf8");
  const bodyStart = align8(PREFIX + headerBytes.length);
  const chunks: Buffer[] = [headerBytes, Buffer.alloc(bodyStart - PREFIX - headerBytes.length)];
  for (const p of parts) {
    const b = bytesOf(p.data);
    chunks.push(b);
    if (align8(b.length) > b.length) chunks.push(Buffer.alloc(align8(b.length) - b.length));
  }
  const hash = createHash("sha1");
  for (const c of chunks) hash.update(c);
  const prefix = Buffer.alloc(PREFIX);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(INDEX_FORMAT, 8);
  prefix.writeUInt32LE(headerBytes.length, 12);
  hash.digest().copy(prefix, HASH_AT);
  chunks.unshift(prefix);

  await fsp.mkdir(path.dirname(file), { recursive: true });
  // Experiments are often kept in git; a rebuildable 70 MB binary should never be committed by accident.
  await fsp.writeFile(path.join(path.dirname(file), ".gitignore"), "*\n", { flag: "wx" }).catch(() => undefined);
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  // No fsync: a cache lost or torn by a crash fails its hash and is rebuilt, so durability is not worth the wait.
  const fh = await fsp.open(tmp, "w");
  try {
    for (let i = 0; i < chunks.length; i += 256) await fh.writev(chunks.slice(i, i + 256));
  } finally {
    await fh.close();
  }
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * The saved index, or null when there is none or it cannot be trusted. The arrays are views into one
 * buffer read in a few large pieces, each hashed while the next is being read: opening costs about
 * one read, not a read, a hash and a copy.
 */
export async function readIndexFile(file: string): Promise<IndexSnapshot | null> {
  let raw: Buffer;
  try {
    raw = await readVerified(file);
  } catch {
    return null;
  }
  try {
    const headerLength = raw.readUInt32LE(12);
    if (PREFIX + headerLength > raw.length) return null;
    const header = JSON.parse(raw.toString("utf8", PREFIX, PREFIX + headerLength)) as Header;
    if (header.format !== INDEX_FORMAT || !Array.isArray(header.blobs)) return null;
    const bodyStart = align8(PREFIX + headerLength);
    const data = new Map<string, Typed>();
    for (const b of header.blobs) {
      const width = WIDTH[b.type];
      const start = bodyStart + b.offset;
      if (width === undefined || !(b.length >= 0) || start % width !== 0 || start + b.length * width > raw.length) return null;
      data.set(b.name, view(b.type, raw.buffer, raw.byteOffset + start, b.length));
    }
    return assemble(header, data);
  } catch {
    return null; // malformed header: rebuild
  }
}

const READ_PIECE = 8 * 1024 * 1024;

/** The whole file, after checking magic, version and hash; throws when any of them is off. */
async function readVerified(file: string): Promise<Buffer> {
  const fh = await fsp.open(file, "r");
  try {
    const size = (await fh.stat()).size;
    if (size < PREFIX) throw new Error("short");
    // Memory of its own, so the views start 8-byte aligned.
    const buf = Buffer.from(new ArrayBuffer(size));
    const hash = createHash("sha1");
    let pos = 0;
    let pending = fh.read(buf, 0, Math.min(READ_PIECE, size), 0);
    while (pos < size) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) throw new Error("short");
      const from = pos;
      pos += bytesRead;
      if (pos < size) pending = fh.read(buf, pos, Math.min(READ_PIECE, size - pos), pos);
      if (pos > PREFIX) hash.update(buf.subarray(Math.max(from, PREFIX), pos));
    }
    if (!buf.subarray(0, 8).equals(MAGIC) || buf.readUInt32LE(8) !== INDEX_FORMAT) throw new Error("not an index");
    if (!hash.digest().equals(buf.subarray(HASH_AT, HASH_AT + 20))) throw new Error("hash");
    return buf;
  } finally {
    await fh.close();
  }
}

const WIDTH: Record<BlobType, number> = { u8: 1, i8: 1, u32: 4, i32: 4, f64: 8 };

function view(type: BlobType, buffer: ArrayBufferLike, offset: number, length: number): Typed {
  switch (type) {
    case "u8":
      return new Uint8Array(buffer, offset, length);
    case "u32":
      return new Uint32Array(buffer, offset, length);
    case "i32":
      return new Int32Array(buffer, offset, length);
    case "f64":
      return new Float64Array(buffer, offset, length);
    case "i8":
      return new Int8Array(buffer, offset, length);
  }
}

function assemble(header: Header, data: Map<string, Typed>): IndexSnapshot | null {
  const poolArrays = {
    count: header.pool.count,
    bytes: data.get("pool.bytes") as Uint8Array | undefined,
    starts: data.get("pool.starts") as Uint32Array | undefined,
    hashes: data.get("pool.hashes") as Uint32Array | undefined,
    table: data.get("pool.table") as Int32Array | undefined,
  };
  const { bytes, starts, hashes, table } = poolArrays;
  if (!bytes || !starts || !hashes || !table) return null;
  const arrays = { count: poolArrays.count, bytes, starts, hashes, table };
  if (!StringPool.plausible(arrays)) return null;
  const pool = new StringPool(arrays);

  const tables = {} as Record<IndexedKind, RecordTable>;
  for (const kind of INDEXED_KINDS) {
    const meta = header.tables[kind];
    const source = header.sources[kind];
    if (!meta || !source || typeof source.file !== "string") return null;
    const t = new RecordTable(kind);
    t.n = meta.n;
    t.problems = meta.problems;
    t.problemCount = meta.problemCount;
    if (kind === "prompt") {
      if (!Array.isArray(meta.previews) || meta.previews.length !== meta.n) return null;
      t.previews = meta.previews;
    }
    for (const c of COLUMNS[kind]) {
      const col = data.get(`${kind}.${c}`);
      if (!col || col.length !== t.n) return null;
      t.setColumn(c, col as ReturnType<RecordTable["column"]>);
    }
    if (!consistent(t, pool.count, source.indexed)) return null;
    tables[kind] = t;
  }
  return { pool, tables, sources: header.sources };
}

const KEY_COLUMNS: ColumnName[] = ["id", "prompt", "response", "first", "second", "duplicateOf", "parseError"];

/** Offsets and lines in order, inside what was indexed, and every key inside the pool. */
function consistent(t: RecordTable, keys: number, indexed: number): boolean {
  let lastEnd = 0;
  let lastLine = 0;
  for (let r = 0; r < t.n; r++) {
    const off = t.offset[r]!;
    if (!(off >= lastEnd) || off + t.bytes[r]! > indexed || t.line[r]! <= lastLine) return false;
    lastEnd = off + t.bytes[r]!;
    lastLine = t.line[r]!;
  }
  for (const c of KEY_COLUMNS) {
    if (!t.columns.includes(c)) continue;
    const col = t.column(c);
    const optional = c === "duplicateOf" || c === "parseError";
    for (let r = 0; r < t.n; r++) {
      const k = col[r]!;
      if (k >= keys || k < (optional ? -1 : 0)) return false;
    }
  }
  return true;
}

export function indexFileFor(iterDir: string): string {
  return path.join(iterDir, INDEX_DIR, INDEX_FILE);
}

/** Whether the folder can take a cache at all (a read-only snapshot of an iteration cannot). */
export function canWrite(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
