// Links between indexed records: which record holds an id, and each parent's children in file
// order (a prompt's responses, a response's judgements and battles). Kept as typed arrays indexed
// by pool key or record number and extended record by record as files grow, so a refresh during a
// run costs what was appended, not the iteration.
import type { IndexChanges, IndexedKind, IterationIndex, RecordTable } from "../store/index.js";
import { INDEXED_KINDS } from "../store/index.js";

/** An Int32Array able to hold index `i`, new slots -1; the same array when it already can. */
function fit(a: Int32Array<ArrayBuffer>, i: number): Int32Array<ArrayBuffer> {
  if (i < a.length) return a;
  const b = new Int32Array(Math.max(i + 1, Math.ceil(a.length * 1.5), 1024)).fill(-1);
  b.set(a);
  return b;
}

/** Children of each parent key as singly linked lists threaded through the child records. */
export class Chain {
  private head = new Int32Array(0);
  private tail = new Int32Array(0);
  private next = new Int32Array(0);
  private count = new Int32Array(0);

  /** Makes room for parents up to `parent` and records up to `rec`, so `add` never grows anything. */
  reserve(parent: number, rec: number): void {
    this.head = fit(this.head, parent);
    this.tail = fit(this.tail, parent);
    this.count = fit(this.count, parent);
    this.next = fit(this.next, rec);
  }

  add(parent: number, rec: number): void {
    this.next[rec] = -1;
    const t = this.tail[parent]!;
    if (t < 0) {
      this.head[parent] = rec;
      this.count[parent] = 1;
    } else {
      this.next[t] = rec;
      this.count[parent]!++;
    }
    this.tail[parent] = rec;
  }

  /** Records under `parent`, in the order they were added (file order). */
  list(parent: number): number[] {
    const out: number[] = [];
    if (parent < 0 || parent >= this.head.length) return out;
    for (let r = this.head[parent]!; r >= 0; r = this.next[r]!) out.push(r);
    return out;
  }

  size(parent: number): number {
    return parent >= 0 && parent < this.count.length ? Math.max(0, this.count[parent]!) : 0;
  }
}

export class RecordGraph {
  /** Children (first occurrences only) of a prompt key / a response key. */
  responsesOf = new Chain();
  judgementsOf = new Chain();
  battlesOf = new Chain();
  private recordOf = {} as Record<IndexedKind, Int32Array<ArrayBuffer>>;
  /** 1 where a record repeats an id seen earlier in its file: the first one counts, as in `metajudge pairs`. */
  private repeat = {} as Record<IndexedKind, Uint8Array>;
  private seen = {} as Record<IndexedKind, number>;
  private tables = {} as Record<IndexedKind, RecordTable>;

  constructor(private readonly index: IterationIndex) {
    for (const kind of INDEXED_KINDS) this.clear(kind);
  }

  /** Brings the links up to date with the index: appended records are linked, rebuilt files relinked. */
  update(changes?: IndexChanges): void {
    const rebuild = new Set<IndexedKind>(changes?.rebuilt ?? []);
    for (const kind of INDEXED_KINDS) if (this.tables[kind] !== this.index.tables[kind]) rebuild.add(kind);
    // Children hang off keys, not records, so relinking one kind's lists means relinking that kind only.
    for (const kind of rebuild) this.clear(kind);
    if (rebuild.has("response")) this.responsesOf = new Chain();
    if (rebuild.has("judgement")) this.judgementsOf = new Chain();
    if (rebuild.has("meta_judgement")) this.battlesOf = new Chain();
    for (const kind of INDEXED_KINDS) this.extend(kind);
  }

  /** The first record of `kind` with pool key `key`, or -1. */
  record(kind: IndexedKind, key: number): number {
    const m = this.recordOf[kind];
    return key >= 0 && key < m.length ? m[key]! : -1;
  }

  recordById(kind: IndexedKind, id: string): number {
    const key = this.index.pool.find(id);
    return key < 0 ? -1 : this.record(kind, key);
  }

  isRepeat(kind: IndexedKind, rec: number): boolean {
    return this.repeat[kind][rec] === 1;
  }

  /** The arrays behind isRepeat and record, for loops over every record (valid until the next update). */
  repeats(kind: IndexedKind): Uint8Array {
    return this.repeat[kind];
  }

  records(kind: IndexedKind): Int32Array {
    return this.recordOf[kind];
  }

  private clear(kind: IndexedKind): void {
    this.recordOf[kind] = new Int32Array(0);
    this.repeat[kind] = new Uint8Array(0);
    this.seen[kind] = 0;
    this.tables[kind] = this.index.tables[kind];
  }

  private extend(kind: IndexedKind): void {
    const t = this.tables[kind];
    const from = this.seen[kind];
    if (t.n === from) return;
    if (this.repeat[kind].length < t.n) {
      const r = new Uint8Array(Math.max(t.n, Math.ceil(this.repeat[kind].length * 1.5)));
      r.set(this.repeat[kind]);
      this.repeat[kind] = r;
    }
    const parents = kind === "response" ? t.prompt : kind === "prompt" ? null : t.response;
    const chain =
      kind === "response" ? this.responsesOf : kind === "judgement" ? this.judgementsOf : kind === "meta_judgement" ? this.battlesOf : null;
    let maxKey = -1;
    let maxParent = -1;
    for (let r = from; r < t.n; r++) {
      if (t.id[r]! > maxKey) maxKey = t.id[r]!;
      if (parents && parents[r]! > maxParent) maxParent = parents[r]!;
    }
    const map = (this.recordOf[kind] = fit(this.recordOf[kind], maxKey));
    chain?.reserve(maxParent, t.n - 1);
    const repeat = this.repeat[kind];
    for (let r = from; r < t.n; r++) {
      const key = t.id[r]!;
      if (map[key]! >= 0) {
        repeat[r] = 1;
        continue;
      }
      map[key] = r;
      if (chain && parents) chain.add(parents[r]!, r);
    }
    this.seen[kind] = t.n;
  }
}
