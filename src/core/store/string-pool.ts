// Interned strings (record ids, parse-error messages) as UTF-8 bytes in one growing buffer, looked up
// through an open-addressed hash table of typed arrays. A paper-scale iteration holds about a million
// ids: as JS strings in a Map they would cost ~80 MB and a million objects for the GC to trace; here
// they cost ~30 MB in four arrays that persist to disk and load back without any parsing.

const EMPTY = -1;
const MIN_TABLE = 1024;

/** FNV-1a over bytes: tiny, and good enough for ids that differ in their last characters. */
function hashBytes(src: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    h ^= src[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export interface PoolArrays {
  bytes: Uint8Array;
  starts: Uint32Array;
  hashes: Uint32Array;
  table: Int32Array;
}

export class StringPool {
  private bytes: Uint8Array;
  private text: Buffer;
  private used = 0;
  /** starts[k] .. starts[k+1] are the bytes of string k. */
  private starts: Uint32Array;
  private hashes: Uint32Array;
  private table: Int32Array;
  private n = 0;

  constructor(arrays?: PoolArrays & { count: number }) {
    if (arrays) {
      this.n = arrays.count;
      this.bytes = arrays.bytes;
      this.starts = arrays.starts;
      this.hashes = arrays.hashes;
      this.table = arrays.table;
      this.used = this.starts[this.n]!;
    } else {
      this.bytes = new Uint8Array(64 * 1024);
      this.starts = new Uint32Array(4096);
      this.hashes = new Uint32Array(4096);
      this.table = new Int32Array(MIN_TABLE).fill(EMPTY);
    }
    this.text = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  get count(): number {
    return this.n;
  }

  /** The key of the string held in src[from, to), adding it when new. */
  intern(src: Uint8Array, from: number, to: number): number {
    const h = hashBytes(src, from, to);
    const mask = this.table.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const k = this.table[slot]!;
      if (k === EMPTY) return this.add(src, from, to, h, slot);
      if (this.hashes[k] === h && this.equals(k, src, from, to)) return k;
    }
  }

  /**
   * Like intern, trying `hint` first: records of one prompt or response come together, so the
   * previous line's prompt_id or response_id is usually this line's too, and a compare is cheaper
   * than a hash and a probe.
   */
  internNear(hint: number, src: Uint8Array, from: number, to: number): number {
    if (hint >= 0 && hint < this.n && this.equals(hint, src, from, to)) return hint;
    return this.intern(src, from, to);
  }

  internString(s: string): number {
    const b = Buffer.from(s, "utf8");
    return this.intern(b, 0, b.length);
  }

  /** The key of `s`, or -1 when it was never interned. */
  find(s: string): number {
    const b = Buffer.from(s, "utf8");
    const h = hashBytes(b, 0, b.length);
    const mask = this.table.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const k = this.table[slot]!;
      if (k === EMPTY) return -1;
      if (this.hashes[k] === h && this.equals(k, b, 0, b.length)) return k;
    }
  }

  get(k: number): string {
    if (!(k >= 0 && k < this.n)) throw new RangeError(`no string ${k} in a pool of ${this.n}`);
    return this.text.toString("utf8", this.starts[k]!, this.starts[k + 1]!);
  }

  /** Views of the live arrays, trimmed to what is used (for persisting). */
  arrays(): PoolArrays & { count: number } {
    return {
      count: this.n,
      bytes: this.bytes.subarray(0, this.used),
      starts: this.starts.subarray(0, this.n + 1),
      hashes: this.hashes.subarray(0, this.n),
      table: this.table,
    };
  }

  /** Cheap consistency checks on arrays read back from disk; false means do not trust them. */
  static plausible(a: PoolArrays & { count: number }): boolean {
    const { count, bytes, starts, hashes, table } = a;
    if (starts.length !== count + 1 || hashes.length !== count || starts[0] !== 0 || starts[count] !== bytes.length) return false;
    if (table.length < MIN_TABLE || (table.length & (table.length - 1)) !== 0 || count * 2 > table.length) return false;
    for (let k = 0; k < count; k++) if (starts[k + 1]! < starts[k]!) return false;
    let filled = 0;
    for (let i = 0; i < table.length; i++) {
      const k = table[i]!;
      if (k === EMPTY) continue;
      if (!(k >= 0 && k < count)) return false;
      filled++;
    }
    return filled === count;
  }

  private equals(k: number, src: Uint8Array, from: number, to: number): boolean {
    const s = this.starts[k]!;
    if (this.starts[k + 1]! - s !== to - from) return false;
    const b = this.bytes;
    for (let i = 0; i < to - from; i++) if (b[s + i] !== src[from + i]) return false;
    return true;
  }

  private add(src: Uint8Array, from: number, to: number, h: number, slot: number): number {
    const len = to - from;
    if (this.used + len > this.bytes.length) {
      const bigger = new Uint8Array(Math.max(this.bytes.length * 2, this.used + len));
      bigger.set(this.bytes.subarray(0, this.used));
      this.bytes = bigger;
      this.text = Buffer.from(bigger.buffer, bigger.byteOffset, bigger.byteLength);
    }
    if (this.n + 2 > this.starts.length) {
      const starts = new Uint32Array(this.starts.length * 2);
      starts.set(this.starts.subarray(0, this.n + 1));
      this.starts = starts;
      const hashes = new Uint32Array(this.starts.length);
      hashes.set(this.hashes.subarray(0, this.n));
      this.hashes = hashes;
    }
    // Ids are short: a loop beats allocating a subarray view for each of a million of them.
    if (len <= 64) for (let i = 0; i < len; i++) this.bytes[this.used + i] = src[from + i]!;
    else this.bytes.set(src.subarray(from, to), this.used);
    const k = this.n++;
    this.used += len;
    this.starts[k] = this.used - len;
    this.starts[k + 1] = this.used;
    this.hashes[k] = h;
    this.table[slot] = k;
    if (this.n * 2 > this.table.length) this.rehash(this.table.length * 2);
    return k;
  }

  private rehash(size: number): void {
    const table = new Int32Array(size).fill(EMPTY);
    const mask = size - 1;
    for (let k = 0; k < this.n; k++) {
      let slot = this.hashes[k]! & mask;
      while (table[slot] !== EMPTY) slot = (slot + 1) & mask;
      table[slot] = k;
    }
    this.table = table;
  }
}
