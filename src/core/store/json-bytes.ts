// Byte-level pieces of JSON for the line scanner: escapes, numbers, literals, blanks. Each takes a
// buffer and positions and allocates nothing on the common path.

const BACKSLASH = 0x5c;

/**
 * How many code points shorter the decoded string is than its raw bytes, for the escapes from the
 * first backslash at `at` up to `to`; -1 for an invalid escape. "\n" saves one, "\u00e9" five, and a
 * surrogate pair written as two \u escapes is one code point from twelve bytes, saving eleven.
 */
export function escapeSavings(b: Buffer, at: number, to: number): number {
  let saved = 0;
  let i = at;
  while (i >= 0 && i < to) {
    const c = b[i + 1];
    if (c === 0x75) {
      const unit = hex4(b, i + 2, to);
      if (unit < 0) return -1;
      const low = unit >= 0xd800 && unit <= 0xdbff && b[i + 6] === BACKSLASH && b[i + 7] === 0x75 ? hex4(b, i + 8, to) : -1;
      if (low >= 0xdc00 && low <= 0xdfff) {
        saved += 11;
        i += 12;
      } else {
        saved += 5;
        i += 6;
      }
    } else if (c === 0x22 || c === 0x5c || c === 0x2f || c === 0x62 || c === 0x66 || c === 0x6e || c === 0x72 || c === 0x74) {
      saved += 1;
      i += 2;
    } else return -1;
    i = b.indexOf(BACKSLASH, i);
  }
  return saved;
}

function hex4(b: Buffer, at: number, to: number): number {
  if (at + 4 > to) return -1;
  let v = 0;
  for (let i = at; i < at + 4; i++) {
    const c = b[i]!;
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Spaces only: a tab or CR between tokens is valid JSON but rare enough to leave to JSON.parse. */
export function skipBlanks(b: Buffer, p: number, end: number): number {
  while (p < end && b[p] === 0x20) p++;
  return p;
}

export function literal(b: Buffer, p: number, end: number, word: string): boolean {
  if (p + word.length > end) return false;
  for (let i = 0; i < word.length; i++) if (b[p + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** End of a JSON number starting at p (the grammar exactly: no "01", "1.", ".5" or "+1"); -1 if invalid. */
export function numberEnd(b: Buffer, p: number, end: number): number {
  let i = p;
  if (b[i] === 0x2d) i++;
  if (b[i] === 0x30) i++;
  else if ((i = digits(b, i, end)) < 0) return -1;
  if (b[i] === 0x2e && (i = digits(b, i + 1, end)) < 0) return -1;
  if (b[i] === 0x65 || b[i] === 0x45) {
    i++;
    if (b[i] === 0x2b || b[i] === 0x2d) i++;
    if ((i = digits(b, i, end)) < 0) return -1;
  }
  return i;
}

/** End of a run of at least one digit from i, or -1. */
function digits(b: Buffer, i: number, end: number): number {
  const s = i;
  while (i < end && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
  return i > s ? i : -1;
}

/**
 * The value of a valid JSON number, as JSON.parse gives it. Scores and indexes are short ("4", "4.75"),
 * so they are read as integer / 10^k: both exact in a double, the one division is correctly rounded,
 * hence the very double Number() returns. Longer ones and exponents go through Number().
 */
export function numberValue(b: Buffer, p: number, q: number): number {
  let i = p;
  const negative = b[i] === 0x2d;
  if (negative) i++;
  let m = 0;
  let scale = 1;
  let fraction = false;
  if (q - i > 15) return Number(b.toString("latin1", p, q));
  for (; i < q; i++) {
    const c = b[i]!;
    if (c === 0x2e) fraction = true;
    else if (c >= 0x30 && c <= 0x39) {
      m = m * 10 + (c - 0x30);
      if (fraction) scale *= 10;
    } else return Number(b.toString("latin1", p, q));
  }
  const v = m / scale;
  return negative ? -v : v;
}

export function same(b: Buffer, from: number, to: number, word: Buffer): boolean {
  if (to - from !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (b[from + i] !== word[i]) return false;
  return true;
}
