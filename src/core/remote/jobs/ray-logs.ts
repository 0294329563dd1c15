// Ray's GET /api/jobs/{id}/logs answers {"logs": "<the whole log>"}: possibly gigabytes in one JSON
// string. This reads that answer as a stream and keeps only the bytes asked for, decoding the JSON
// string escapes on the fly, so memory stays at one window whatever the log's size.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const KEY = Buffer.from('"logs"');

type Phase = "key" | "colon" | "open" | "string" | "done";

export class LogWindow {
  /** Bytes of the decoded log seen so far: its size once the stream has ended. */
  size = 0;
  private readonly out: Buffer;
  private filled = 0;
  private phase: Phase = "key";
  private keyMatched = 0;
  private escape: number[] | null = null; // pending bytes of an escape sequence, after the backslash
  private highSurrogate = -1;

  constructor(
    private readonly offset: number,
    private readonly maxBytes: number,
  ) {
    this.out = Buffer.allocUnsafe(Math.max(0, maxBytes));
  }

  get done(): boolean {
    return this.phase === "done";
  }

  data(): Buffer {
    return this.out.subarray(0, this.filled);
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length && this.phase !== "done") {
      if (this.phase === "key") {
        // The answer is one object whose only member is "logs"; a byte-level match is enough.
        this.keyMatched = chunk[i] === KEY[this.keyMatched] ? this.keyMatched + 1 : chunk[i] === KEY[0] ? 1 : 0;
        if (this.keyMatched === KEY.length) this.phase = "colon";
        i++;
      } else if (this.phase === "colon" || this.phase === "open") {
        const b = chunk[i++];
        if (b === 0x3a && this.phase === "colon") this.phase = "open";
        else if (b === QUOTE && this.phase === "open") this.phase = "string";
      } else if (this.escape) {
        i = this.readEscape(chunk, i);
      } else {
        // A run of plain bytes up to the next quote or backslash is copied in one go.
        let end = i;
        while (end < chunk.length && chunk[end] !== QUOTE && chunk[end] !== BACKSLASH) end++;
        if (end > i) this.emitBytes(chunk.subarray(i, end));
        if (end < chunk.length) {
          if (chunk[end] === QUOTE) this.phase = "done";
          else this.escape = [];
          end++;
        }
        i = end;
      }
    }
  }

  private readEscape(chunk: Uint8Array, i: number): number {
    const esc = this.escape!;
    esc.push(chunk[i]!);
    const kind = String.fromCharCode(esc[0]!);
    if (kind === "u") {
      if (esc.length < 5) return i + 1;
      const unit = parseInt(String.fromCharCode(...esc.slice(1)), 16);
      this.escape = null;
      this.emitUnit(Number.isNaN(unit) ? 0xfffd : unit);
      return i + 1;
    }
    this.escape = null;
    const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", '"': '"', "\\": "\\", "/": "/" };
    this.emitText(simple[kind] ?? kind);
    return i + 1;
  }

  private emitUnit(unit: number): void {
    if (unit >= 0xd800 && unit <= 0xdbff) {
      if (this.highSurrogate >= 0) this.emitText("\ufffd");
      this.highSurrogate = unit;
      return;
    }
    if (unit >= 0xdc00 && unit <= 0xdfff && this.highSurrogate >= 0) {
      const cp = 0x10000 + ((this.highSurrogate - 0xd800) << 10) + (unit - 0xdc00);
      this.highSurrogate = -1;
      this.emitText(String.fromCodePoint(cp));
      return;
    }
    this.emitText(String.fromCharCode(unit));
  }

  private emitText(text: string): void {
    if (this.highSurrogate >= 0) {
      this.highSurrogate = -1;
      this.emitBytes(Buffer.from("\ufffd"));
    }
    this.emitBytes(Buffer.from(text, "utf8"));
  }

  private emitBytes(bytes: Uint8Array): void {
    const start = this.size;
    this.size += bytes.length;
    // Only the part of these bytes inside [offset, offset + maxBytes) is kept.
    const from = Math.max(start, this.offset, this.offset + this.filled);
    const to = Math.min(this.size, this.offset + this.maxBytes);
    if (to > from) {
      this.out.set(bytes.subarray(from - start, to - start), this.filled);
      this.filled += to - from;
    }
  }
}
