// GGUF v3, the single-file model format llama.cpp loads: a header, typed key–value metadata, tensor
// descriptors, then tensor data aligned to `general.alignment`. Everything is little-endian. Only what
// the embedded model needs is here: reading metadata (keeping each entry's bytes so it can be copied
// unchanged into another file) and writing a file from metadata and tensors.

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
export const GGUF_VERSION = 3;
export const DEFAULT_ALIGNMENT = 32;

export enum ValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** ggml tensor element types used here (ggml numbers them; only these two are written). */
export enum TensorType {
  F32 = 0,
  F16 = 1,
}

export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufEntry {
  key: string;
  type: ValueType;
  /** For arrays, the element type. */
  itemType?: ValueType;
  value: GgufValue;
  /** The entry exactly as stored (key included), for copying it verbatim. */
  raw: Buffer;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the innermost (contiguous) dimension. */
  dims: number[];
  type: TensorType | number;
  offset: bigint;
}

export interface GgufHeader {
  version: number;
  entries: GgufEntry[];
  tensors: GgufTensorInfo[];
  /** Byte offset where tensor data starts. */
  dataOffset: number;
}

const SCALAR_SIZE: Partial<Record<ValueType, number>> = {
  [ValueType.UINT8]: 1,
  [ValueType.INT8]: 1,
  [ValueType.BOOL]: 1,
  [ValueType.UINT16]: 2,
  [ValueType.INT16]: 2,
  [ValueType.UINT32]: 4,
  [ValueType.INT32]: 4,
  [ValueType.FLOAT32]: 4,
  [ValueType.UINT64]: 8,
  [ValueType.INT64]: 8,
  [ValueType.FLOAT64]: 8,
};

export class GgufFormatError extends Error {}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length)
      throw new GgufFormatError(`truncated GGUF: needs ${n} bytes at offset ${this.pos}, file has ${this.buf.length}`);
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  // Every counted item takes at least a byte, so a count beyond the bytes left means a cut-off file.
  count(what: string): number {
    const v = this.u64();
    const left = this.buf.length - this.pos;
    if (v > BigInt(left)) throw new GgufFormatError(`truncated GGUF: ${what} ${v} at offset ${this.pos - 8}, but ${left} bytes follow`);
    return Number(v);
  }
  string(): string {
    const n = this.count("string length");
    this.need(n);
    const s = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  scalar(t: ValueType): GgufValue {
    const size = SCALAR_SIZE[t];
    if (size === undefined) throw new GgufFormatError(`unknown GGUF value type ${t} at offset ${this.pos}`);
    this.need(size);
    const b = this.buf;
    const p = this.pos;
    this.pos += size;
    switch (t) {
      case ValueType.UINT8:
        return b.readUInt8(p);
      case ValueType.INT8:
        return b.readInt8(p);
      case ValueType.BOOL:
        return b.readUInt8(p) !== 0;
      case ValueType.UINT16:
        return b.readUInt16LE(p);
      case ValueType.INT16:
        return b.readInt16LE(p);
      case ValueType.UINT32:
        return b.readUInt32LE(p);
      case ValueType.INT32:
        return b.readInt32LE(p);
      case ValueType.FLOAT32:
        return b.readFloatLE(p);
      case ValueType.UINT64:
        return b.readBigUInt64LE(p);
      case ValueType.INT64:
        return b.readBigInt64LE(p);
      default:
        return b.readDoubleLE(p);
    }
  }
  value(t: ValueType): GgufValue {
    if (t === ValueType.STRING) return this.string();
    if (t !== ValueType.ARRAY) return this.scalar(t);
    const itemType = this.u32() as ValueType;
    const n = this.count("array length");
    const out: GgufValue[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.value(itemType);
    return out;
  }
}

/** Reads the header, metadata and tensor descriptors (not the tensor data). */
export function readGguf(buf: Buffer): GgufHeader {
  const r = new Reader(buf);
  if (buf.length < 4 || r.u32() !== GGUF_MAGIC) throw new GgufFormatError("not a GGUF file (bad magic)");
  const version = r.u32();
  if (version !== 2 && version !== 3) throw new GgufFormatError(`GGUF version ${version} is not supported (2 or 3 are)`);
  const tensorCount = r.count("tensor count");
  const kvCount = r.count("metadata count");
  const entries: GgufEntry[] = [];
  for (let i = 0; i < kvCount; i++) {
    const start = r.pos;
    const key = r.string();
    const type = r.u32() as ValueType;
    const itemType = type === ValueType.ARRAY ? buf.readUInt32LE(r.pos) : undefined;
    const value = r.value(type);
    entries.push({ key, type, value, raw: buf.subarray(start, r.pos), ...(itemType === undefined ? {} : { itemType }) });
  }
  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = r.string();
    const nDims = r.u32();
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(Number(r.u64()));
    tensors.push({ name, dims, type: r.u32(), offset: r.u64() });
  }
  const alignment = Number(entries.find((e) => e.key === "general.alignment")?.value ?? DEFAULT_ALIGNMENT);
  return { version, entries, tensors, dataOffset: align(r.pos, alignment) };
}

export function metadataValue(h: GgufHeader, key: string): GgufValue | undefined {
  return h.entries.find((e) => e.key === key)?.value;
}

// ---- writing -------------------------------------------------------------------------------------

/** Accumulates little-endian bytes in growing chunks, so a 10 MB file is not copied per field. */
export class ByteSink {
  private chunks: Buffer[] = [];
  private cur = Buffer.alloc(1 << 16);
  private used = 0;
  private done = 0;

  get length(): number {
    return this.done + this.used;
  }
  private room(n: number): void {
    if (this.used + n <= this.cur.length) return;
    this.chunks.push(this.cur.subarray(0, this.used));
    this.done += this.used;
    this.cur = Buffer.alloc(Math.max(1 << 16, n));
    this.used = 0;
  }
  u8(v: number): void {
    this.room(1);
    this.cur.writeUInt8(v, this.used++);
  }
  u32(v: number): void {
    this.room(4);
    this.cur.writeUInt32LE(v, this.used);
    this.used += 4;
  }
  u64(v: number | bigint): void {
    this.room(8);
    this.cur.writeBigUInt64LE(BigInt(v), this.used);
    this.used += 8;
  }
  f32(v: number): void {
    this.room(4);
    this.cur.writeFloatLE(v, this.used);
    this.used += 4;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.cur.set(b, this.used);
    this.used += b.length;
  }
  string(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.bytes(b);
  }
  padTo(alignment: number): void {
    while (this.length % alignment !== 0) this.u8(0);
  }
  toBuffer(): Buffer {
    return Buffer.concat([...this.chunks, this.cur.subarray(0, this.used)]);
  }
}

/** One metadata entry to write: either typed here, or copied verbatim from another file. */
export type NewEntry =
  | { key: string; type: ValueType.UINT32 | ValueType.FLOAT32 | ValueType.BOOL; value: number | boolean }
  | { key: string; type: ValueType.STRING; value: string }
  | { raw: Buffer; key: string };

export interface NewTensor {
  name: string;
  dims: number[];
  type: TensorType;
  data: Uint8Array;
}

export function align(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function writeEntry(s: ByteSink, e: NewEntry): void {
  if ("raw" in e) return s.bytes(e.raw);
  s.string(e.key);
  s.u32(e.type);
  if (e.type === ValueType.STRING) s.string(e.value);
  else if (e.type === ValueType.UINT32) s.u32(e.value as number);
  else if (e.type === ValueType.FLOAT32) s.f32(e.value as number);
  else s.u8(e.value ? 1 : 0);
}

/** A complete GGUF v3 file. Tensors are laid out in the order given, each at an aligned offset. */
export function writeGguf(entries: NewEntry[], tensors: NewTensor[], alignment = DEFAULT_ALIGNMENT): Buffer {
  if (alignment !== DEFAULT_ALIGNMENT && !entries.some((e) => e.key === "general.alignment")) {
    throw new Error("a non-default alignment must be recorded as general.alignment");
  }
  const s = new ByteSink();
  s.u32(GGUF_MAGIC);
  s.u32(GGUF_VERSION);
  s.u64(tensors.length);
  s.u64(entries.length);
  for (const e of entries) writeEntry(s, e);
  let offset = 0;
  for (const t of tensors) {
    s.string(t.name);
    s.u32(t.dims.length);
    for (const d of t.dims) s.u64(d);
    s.u32(t.type);
    s.u64(offset);
    offset = align(offset + t.data.length, alignment);
  }
  s.padTo(alignment);
  for (const t of tensors) {
    s.bytes(t.data);
    s.padTo(alignment);
  }
  return s.toBuffer();
}

// ---- half floats ---------------------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of `v`, rounded to nearest even (Node 20 has no Float16Array). */
export function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf, nan
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to inf
  if (e <= 0) {
    if (e < -10) return sign; // too small even for a subnormal
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (rest > mid || (rest === mid && half & 1) ? half + 1 : half);
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // a carry into the exponent is the right rounding
  return sign | half;
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
