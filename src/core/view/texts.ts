// Reading records back by their byte offsets: the only way a view ever sees a text. Neighbouring
// lines (a response's judgements were written together) are fetched in one read.
import * as fsp from "node:fs/promises";

export interface Slice {
  offset: number;
  bytes: number;
}

/** Lines closer than this are read together rather than with one read each. */
const GAP = 64 * 1024;
const MAX_READ = 8 * 1024 * 1024;

/** The bytes of each slice, in the order asked. A slice past the end of the file comes back short. */
export async function readSlices(file: string, slices: readonly Slice[]): Promise<Buffer[]> {
  const out: Buffer[] = new Array<Buffer>(slices.length);
  if (slices.length === 0) return out;
  const order = slices.map((_, i) => i).sort((a, b) => slices[a]!.offset - slices[b]!.offset);
  const fh = await fsp.open(file, "r");
  try {
    let i = 0;
    while (i < order.length) {
      const first = slices[order[i]!]!;
      let end = first.offset + first.bytes;
      let j = i + 1;
      while (j < order.length) {
        const s = slices[order[j]!]!;
        if (s.offset - end > GAP || s.offset + s.bytes - first.offset > MAX_READ) break;
        end = Math.max(end, s.offset + s.bytes);
        j++;
      }
      const buf = Buffer.alloc(end - first.offset);
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, first.offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      for (let k = i; k < j; k++) {
        const s = slices[order[k]!]!;
        const from = s.offset - first.offset;
        out[order[k]!] = buf.subarray(Math.min(from, got), Math.min(from + s.bytes, got));
      }
      i = j;
    }
  } finally {
    await fh.close();
  }
  return out;
}

/** Each slice parsed as a JSON object; null for one that no longer parses (the file was replaced). */
export async function readObjects(file: string, slices: readonly Slice[]): Promise<(Record<string, unknown> | null)[]> {
  const bufs = await readSlices(file, slices);
  return bufs.map((b) => {
    try {
      const v: unknown = JSON.parse(b.toString("utf8"));
      return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  });
}
