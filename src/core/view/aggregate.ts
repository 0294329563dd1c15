// What the prompt list sorts and counts by, computed in one pass over the index after each change
// (never per call): per response the judgement counts and the mean score, per prompt the spread,
// parse failures and flags. The rules are those of `metajudge pairs`: the first record of an id
// counts, and an item flagged suspicious takes no part in means, spreads or pairs.
import type { IndexedKind, IterationIndex, RecordTable } from "../store/index.js";
import { WINNER_NULL } from "../store/index.js";
import type { RecordGraph } from "./graph.js";
import type { PairFile } from "./side-files.js";
import type { FlaggedItem, PromptSort, TargetKind } from "./types.js";

const KIND_ORDER: Record<TargetKind, number> = { response: 0, judgement: 1, meta_judgement: 2 };
const collator = new Intl.Collator("en", { numeric: true });

export class Aggregates {
  /** Per response record: distinct judgements; those neither flagged nor unscored; and the sum of their scores. */
  readonly judged: Int32Array;
  readonly unflagged: Int32Array;
  readonly valid: Int32Array;
  readonly sum: Float64Array;
  readonly battles: Int32Array;
  /** Prompt keys in list order (the prompt set's order, then prompts only the responses name). */
  readonly rowKeys: number[] = [];
  /** Row of a prompt key, -1 when none. */
  private rowOf = new Int32Array(0).fill(-1);
  readonly rowResponses: Int32Array;
  readonly rowJudgements: Int32Array;
  readonly rowFailures: Int32Array;
  readonly rowFlags: Int32Array;
  /** NaN when fewer than two responses are scored. */
  readonly rowSpread: Float64Array;
  readonly flaggedItems: FlaggedItem[] = [];
  /** Records per file, each id counted once. */
  readonly distinct = { response: 0, judgement: 0, meta_judgement: 0 };
  private orders = new Map<PromptSort, Int32Array>();
  private idRank: Int32Array | null = null;

  constructor(
    private readonly index: IterationIndex,
    private readonly tables: Record<IndexedKind, RecordTable>,
    private readonly graph: RecordGraph,
    /** 1 at the pool key of every id whose latest annotation is "suspicious". */
    readonly suspicious: Uint8Array,
    private readonly actorPairs: PairFile,
    private readonly judgePairs: PairFile,
  ) {
    const { prompt: P, response: R, judgement: J, meta_judgement: M } = tables;
    // Hot loops over a million records: raw arrays hoisted, no per-record lookups by kind.
    const repeatR = graph.repeats("response");
    const repeatJ = graph.repeats("judgement");
    const repeatM = graph.repeats("meta_judgement");
    const responseOf = graph.records("response");
    const flagged = suspicious;
    const nFlag = suspicious.length;

    for (let p = 0; p < P.n; p++) this.row(P.id[p]!, p);
    for (let r = 0; r < R.n; r++) if (repeatR[r] !== 1) this.row(R.prompt[r]!, -1);
    const rows = this.rowKeys.length;
    this.rowResponses = new Int32Array(rows);
    this.rowJudgements = new Int32Array(rows);
    this.rowFailures = new Int32Array(rows);
    this.rowFlags = new Int32Array(rows);
    this.rowSpread = new Float64Array(rows).fill(NaN);

    this.judged = new Int32Array(R.n);
    this.unflagged = new Int32Array(R.n);
    this.valid = new Int32Array(R.n);
    this.sum = new Float64Array(R.n);
    this.battles = new Int32Array(R.n);
    const rowOf = this.rowOf;
    const nRow = rowOf.length;
    const nResp = responseOf.length;

    // File order, as `metajudge pairs` adds them up, so a mean here is the very same double.
    for (let j = 0; j < J.n; j++) {
      if (repeatJ[j] === 1) continue;
      this.distinct.judgement++;
      const pk = J.prompt[j]!;
      const row = pk < nRow ? rowOf[pk]! : -1;
      const score = J.score[j]!;
      const idKey = J.id[j]!;
      const isFlagged = idKey < nFlag && flagged[idKey] === 1;
      if (row >= 0) {
        this.rowJudgements[row]!++;
        if (score !== score) this.rowFailures[row]!++; // NaN: no score
        if (isFlagged) this.rowFlags[row]!++;
      }
      const rk = J.response[j]!;
      const r = rk < nResp ? responseOf[rk]! : -1;
      if (r < 0) continue;
      this.judged[r]!++;
      if (isFlagged) continue;
      this.unflagged[r]!++;
      if (score === score) {
        this.valid[r]!++;
        this.sum[r]! += score;
      }
    }
    for (let b = 0; b < M.n; b++) {
      if (repeatM[b] === 1) continue;
      this.distinct.meta_judgement++;
      const pk = M.prompt[b]!;
      const row = pk < nRow ? rowOf[pk]! : -1;
      if (row >= 0) {
        if (M.winner[b] === WINNER_NULL) this.rowFailures[row]!++;
        const idKey = M.id[b]!;
        if (idKey < nFlag && flagged[idKey] === 1) this.rowFlags[row]!++;
      }
      const rk = M.response[b]!;
      const r = rk < nResp ? responseOf[rk]! : -1;
      if (r >= 0) this.battles[r]!++;
    }
    const hi = new Float64Array(rows).fill(-Infinity);
    const lo = new Float64Array(rows).fill(Infinity);
    const scored = new Int32Array(rows);
    for (let r = 0; r < R.n; r++) {
      if (repeatR[r] === 1) continue;
      this.distinct.response++;
      const pk = R.prompt[r]!;
      const row = pk < nRow ? rowOf[pk]! : -1;
      if (row < 0) continue;
      this.rowResponses[row]!++;
      const idKey = R.id[r]!;
      if (idKey < nFlag && flagged[idKey] === 1) {
        this.rowFlags[row]!++;
        continue;
      }
      const s = this.mean(r);
      if (this.unflagged[r]! === 0 || s === null) continue;
      scored[row]!++;
      if (s > hi[row]!) hi[row] = s;
      if (s < lo[row]!) lo[row] = s;
    }
    for (let row = 0; row < rows; row++) if (scored[row]! >= 2) this.rowSpread[row] = hi[row]! - lo[row]!;
    this.collectFlagged();
  }

  /** Mean of the response's unflagged valid scores (S(y) of the method), or null. */
  mean(r: number): number | null {
    return this.valid[r]! > 0 ? this.sum[r]! / this.valid[r]! : null;
  }

  /** Takes part in actor-pair selection: unflagged, with at least one unflagged judgement (as `metajudge pairs`). */
  isCandidate(r: number): boolean {
    const key = this.tables.response.id[r]!;
    return !this.graph.isRepeat("response", r) && !(key < this.suspicious.length && this.suspicious[key] === 1) && this.unflagged[r]! > 0;
  }

  hasActorPair(row: number): boolean {
    return this.actorPairs.prompts.has(this.index.pool.get(this.rowKeys[row]!));
  }

  hasJudgePair(row: number): boolean {
    return this.judgePairs.prompts.has(this.index.pool.get(this.rowKeys[row]!));
  }

  /** Row numbers in the order of `sort`; ties and the "id" order compare ids numerically-aware. */
  order(sort: PromptSort): Int32Array {
    let o = this.orders.get(sort);
    if (o) return o;
    const rank = this.ranks();
    const rows = Array.from({ length: this.rowKeys.length }, (_, i) => i);
    const desc =
      (m: Int32Array | Float64Array) =>
      (a: number, b: number): number => {
        const x = m[a]!;
        const y = m[b]!;
        // NaN (no spread) sorts after every number.
        if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
        return y - x;
      };
    const metric =
      sort === "spread"
        ? desc(this.rowSpread)
        : sort === "parse_failures"
          ? desc(this.rowFailures)
          : sort === "flags"
            ? desc(this.rowFlags)
            : () => 0;
    rows.sort((a, b) => metric(a, b) || rank[a]! - rank[b]!);
    o = Int32Array.from(rows);
    this.orders.set(sort, o);
    return o;
  }

  private ranks(): Int32Array {
    if (this.idRank) return this.idRank;
    const ids = this.rowKeys.map((k) => this.index.pool.get(k));
    const rows = Array.from({ length: ids.length }, (_, i) => i);
    rows.sort((a, b) => collator.compare(ids[a]!, ids[b]!) || a - b);
    const rank = new Int32Array(ids.length);
    rows.forEach((row, i) => (rank[row] = i));
    this.idRank = rank;
    return rank;
  }

  rowOfKey(key: number): number {
    return key >= 0 && key < this.rowOf.length ? this.rowOf[key]! : -1;
  }

  private row(key: number, promptRecord: number): void {
    if (key >= this.rowOf.length) {
      const bigger = new Int32Array(Math.max(key + 1, this.rowOf.length * 2, 1024)).fill(-1);
      bigger.set(this.rowOf);
      this.rowOf = bigger;
    }
    if (this.rowOf[key]! >= 0) return;
    if (promptRecord < 0 && this.graph.record("prompt", key) >= 0) return; // listed in the prompt set's order instead
    this.rowOf[key] = this.rowKeys.length;
    this.rowKeys.push(key);
  }

  /** Every flagged record, by prompt (in id order), then response / judgement / battle, then file line. */
  private collectFlagged(): void {
    if (!this.suspicious.includes(1)) return;
    const { pool } = this.index;
    const tables = this.tables;
    const items: { item: FlaggedItem; row: number; kind: number; line: number }[] = [];
    for (const [kind, t] of [
      ["response", tables.response],
      ["judgement", tables.judgement],
      ["meta_judgement", tables.meta_judgement],
    ] as const) {
      for (let r = 0; r < t.n; r++) {
        const key = t.id[r]!;
        if (!(key < this.suspicious.length && this.suspicious[key] === 1) || this.graph.isRepeat(kind, r)) continue;
        const promptKey = t.prompt[r]!;
        items.push({
          item: { id: pool.get(key), kind, promptId: pool.get(promptKey) },
          row: this.rowOfKey(promptKey),
          kind: KIND_ORDER[kind],
          line: t.line[r]!,
        });
      }
    }
    if (items.length === 0) return;
    const rank = this.ranks();
    const r = (row: number): number => (row < 0 ? Number.MAX_SAFE_INTEGER : rank[row]!);
    items.sort((a, b) => r(a.row) - r(b.row) || a.kind - b.kind || a.line - b.line);
    for (const x of items) this.flaggedItems.push(x.item);
  }
}
