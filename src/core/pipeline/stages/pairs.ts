// Pairs: both preference sets recomputed from the record files alone (plus annotations), no model
// calls. A paper-scale iteration (385,000 judgements, 550,000 battles) must fit well under a GiB and
// cost little more than reading it, so the three files are read through the store's byte scanner
// (pairs-scan.ts): every id becomes a key in one string pool and every text its length, and
// the records are kept as columns of numbers, not objects. Selection then runs over those columns.
import { FILES, type ActorPair, type IterationSettings, type JudgePair } from "../../schema.js";
import { BattleTally, judgePairOf, NO_VERDICT, pickBattleResponse, selectActorPair, type ActorCandidate } from "../../select.js";
import { readFlags } from "../../store/annotations.js";
import type { LineProblem } from "../../store/jsonl.js";
import { Nullable, type Fields } from "../../store/fields.js";
import { IterationStore } from "../../store/iteration.js";
import { toJsonl } from "../../store/jsonl.js";
import { PAIRS_COMMIT, writeFilesTogether } from "../../store/commit.js";
import { StringPool } from "../../store/string-pool.js";
import { badRecord, scanRecords } from "./pairs-scan.js";

export interface PairsResult {
  actor: ActorPair[];
  judge: JudgePair[];
  counts: Record<string, number>;
  /** Annotation lines that could not be read: flags they may carry were not applied. */
  annotationProblems: LineProblem[];
}

// ---- reading --------------------------------------------------------------------------------------

/**
 * A growing column of numbers. Typed arrays rather than number[]: a million entries in a plain array
 * are a million slots for every full collection to visit; a typed array's contents are never traced.
 */
class Column<A extends Int32Array | Float64Array> {
  length = 0;
  constructor(
    public data: A,
    private readonly make: (n: number) => A,
  ) {}

  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = this.make(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }
}
const ints = (): Column<Int32Array> => new Column(new Int32Array(1024), (n) => new Int32Array(n));
const floats = (): Column<Float64Array> => new Column(new Float64Array(1024), (n) => new Float64Array(n));

/** The fields selection reads, one column per field, one row per line in file order. */
class Responses {
  id = ints();
  prompt = ints();
  index = ints();
  length = ints();
}
class Judgements {
  id = ints();
  response = ints();
  /** NaN for a judgement without a valid score. */
  score = floats();
  length = ints();
}
class Battles {
  id = ints();
  response = ints();
  first = ints();
  second = ints();
  /** NO_VERDICT, FIRST_WON or SECOND_WON. */
  verdict = ints();
}

/** A string field the contract requires; ABSENT and WRONG are both below zero. */
function str(key: number, name: string, file: string, line: number): number {
  if (key < 0) badRecord(file, line, `"${name}" must be a string`);
  return key;
}

function index(f: Fields, file: string, line: number): number {
  if (f.index < 0) badRecord(file, line, `"index" must be a non-negative integer`);
  return f.index;
}

function text(f: Fields, file: string, line: number): number {
  if (f.textLength < 0) badRecord(file, line, `"text" must be a string`);
  return f.textLength;
}

async function readResponses(file: string, pool: StringPool, out: Responses, signal?: AbortSignal): Promise<void> {
  await scanRecords(
    file,
    pool,
    (f, line) => {
      const length = text(f, file, line);
      out.id.push(str(f.id, "id", file, line));
      out.prompt.push(str(f.prompt, "prompt_id", file, line));
      out.index.push(index(f, file, line));
      out.length.push(length);
    },
    signal,
  );
}

async function readJudgements(file: string, pool: StringPool, out: Judgements, signal?: AbortSignal): Promise<void> {
  await scanRecords(
    file,
    pool,
    (f, line) => {
      const id = str(f.id, "id", file, line);
      const length = text(f, file, line);
      if (f.scoreState !== Nullable.Null && f.scoreState !== Nullable.Value) badRecord(file, line, `"score" must be a number or null`);
      str(f.prompt, "prompt_id", file, line);
      out.response.push(str(f.response, "response_id", file, line));
      index(f, file, line);
      out.id.push(id);
      out.score.push(f.scoreState === Nullable.Value ? f.score : NaN);
      out.length.push(length);
    },
    signal,
  );
}

async function readBattles(file: string, pool: StringPool, out: Battles, signal?: AbortSignal): Promise<void> {
  await scanRecords(
    file,
    pool,
    (f, line) => {
      if (f.winnerState !== Nullable.Null && f.winnerState !== Nullable.Value)
        badRecord(file, line, `"winner" must be "first", "second" or null`);
      text(f, file, line);
      out.id.push(str(f.id, "id", file, line));
      str(f.prompt, "prompt_id", file, line);
      out.response.push(str(f.response, "response_id", file, line));
      out.first.push(str(f.first, "first_id", file, line));
      out.second.push(str(f.second, "second_id", file, line));
      out.verdict.push(f.winnerState === Nullable.Value ? f.winner : NO_VERDICT);
    },
    signal,
  );
}

/**
 * The three files one after the other, in the contract's order, so the first broken one is the one
 * reported. Reading them at the same time saved no time (the scanner, not the disk, sets the pace).
 */
async function readAll(
  store: IterationStore,
  pool: StringPool,
  signal?: AbortSignal,
): Promise<{ r: Responses; j: Judgements; b: Battles }> {
  const r = new Responses();
  const j = new Judgements();
  const b = new Battles();
  await readResponses(store.file("responses"), pool, r, signal);
  await readJudgements(store.file("judgements"), pool, j, signal);
  await readBattles(store.file("metaJudgements"), pool, b, signal);
  return { r, j, b };
}

// ---- the stage ------------------------------------------------------------------------------------

export async function computePairs(
  iterDir: string,
  settings: Pick<IterationSettings, "rho" | "judgement_length_cap">,
  signal?: AbortSignal,
): Promise<PairsResult> {
  const store = new IterationStore(iterDir);
  const { flagged, problems: annotationProblems } = await readFlags(store.file("annotations"));
  const counts: Record<string, number> = { flagged_excluded: 0 };
  const bump = (k: string): void => {
    counts[k] = (counts[k] ?? 0) + 1;
  };

  // Flagged ids are interned first, so "flagged" is just "a key below their count".
  const pool = new StringPool();
  for (const id of flagged) pool.internString(id);
  const nFlagged = pool.count;
  const read = await readAll(store, pool, signal);
  const r = columns(read.r);
  const j = columns(read.j);
  const b = columns(read.b);
  const n = pool.count;

  // A record whose id an earlier line holds is not a record (the contract's resume rule): first wins.
  const seen = new Uint8Array(n);
  const firstOf = (ids: Int32Array, kind: number): Uint8Array => {
    const keep = new Uint8Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if ((seen[id]! & kind) !== 0) continue;
      seen[id]! |= kind;
      if (id < nFlagged) counts.flagged_excluded!++;
      else keep[i] = 1;
    }
    return keep;
  };
  const keepR = firstOf(r.id, 1);
  const keepJ = firstOf(j.id, 2);
  const keepB = firstOf(b.id, 4);

  // Per response (by key): kept judgements, and the sum and count of their valid scores in file order.
  const kept = new Int32Array(n);
  const valid = new Int32Array(n);
  const sum = new Float64Array(n);
  for (let i = 0; i < j.id.length; i++) {
    if (keepJ[i] === 0) continue;
    const resp = j.response[i]!;
    kept[resp]!++;
    const s = j.score[i]!;
    if (s === s) {
      sum[resp]! += s;
      valid[resp]!++;
    }
  }
  const battled = new Uint8Array(n);
  for (let i = 0; i < b.id.length; i++) if (keepB[i] === 1) battled[b.response[i]!] = 1;

  // Kept judgements of battled responses, in file order: what picking the battle response and ranking its judgements read.
  const judgementsOf = new Map<number, number[]>();
  for (let i = 0; i < j.id.length; i++) {
    if (keepJ[i] === 0 || battled[j.response[i]!] === 0) continue;
    const list = judgementsOf.get(j.response[i]!);
    if (list) list.push(i);
    else judgementsOf.set(j.response[i]!, [i]);
  }

  // Candidates per prompt, from the first line of each unflagged response, in file order.
  const actorCands = new Map<number, ActorCandidate[]>();
  const battleCands = new Map<number, { id: string; key: number; index: number; scores: (number | null)[] }[]>();
  for (let i = 0; i < r.id.length; i++) {
    if (keepR[i] === 0) continue;
    const key = r.id[i]!;
    if (kept[key] === 0) continue; // a duplicate, or not judged yet
    const id = pool.get(key);
    const prompt = r.prompt[i]!;
    const cand: ActorCandidate = { id, index: r.index[i]!, score: valid[key]! > 0 ? sum[key]! / valid[key]! : null, length: r.length[i]! };
    push(actorCands, prompt, cand);
    if (battled[key] === 1) {
      const scores = judgementsOf.get(key)!.map((x) => (j.score[x]! === j.score[x]! ? j.score[x]! : null));
      push(battleCands, prompt, { id, key, index: cand.index, scores });
    }
  }

  const actor: ActorPair[] = [];
  for (const [prompt, cands] of actorCands) {
    const res = selectActorPair(pool.get(prompt), cands, settings.rho);
    if ("pair" in res) actor.push(res.pair);
    else bump(`actor_skip_${res.skip}`);
  }

  // One judge pair per prompt, as the method makes: from its battled response whose valid, unflagged
  // scores vary most, counting only battles between that response's valid, unflagged judgements.
  // A judgement's position in its response's tally is kept by key; -1 for every key that does not count.
  const position = new Int32Array(n).fill(-1);
  const owner = new Int32Array(n).fill(-1);
  const picked = new Map<number, { prompt: number; ids: string[]; lengths: number[]; tally: BattleTally }>();
  for (const [prompt, cands] of battleCands) {
    const chosen = pickBattleResponse(cands);
    if (chosen === null) {
      bump("judge_skip_no-score-variance");
      continue;
    }
    const key = cands.find((c) => c.id === chosen)!.key;
    const ids: string[] = [];
    const lengths: number[] = [];
    for (const x of judgementsOf.get(key)!) {
      if (j.score[x]! !== j.score[x]!) continue;
      position[j.id[x]!] = ids.length;
      owner[j.id[x]!] = key;
      ids.push(pool.get(j.id[x]!));
      lengths.push(j.length[x]!);
    }
    picked.set(key, { prompt, ids, lengths, tally: new BattleTally(ids.length) });
  }
  for (let i = 0; i < b.id.length; i++) {
    if (keepB[i] === 0) continue;
    const resp = b.response[i]!;
    const t = picked.get(resp);
    if (t === undefined) continue;
    const f = b.first[i]!;
    const s = b.second[i]!;
    // A judgement of another response, or one that does not count, is no player here.
    t.tally.add(owner[f] === resp ? position[f]! : -1, owner[s] === resp ? position[s]! : -1, b.verdict[i]!);
  }
  const judge: JudgePair[] = [];
  for (const [key, t] of picked) {
    const judgements = t.ids.map((id, x) => ({ id, length: t.lengths[x]! }));
    const res = judgePairOf(pool.get(t.prompt), pool.get(key), judgements, t.tally.matrix(t.ids), settings.judgement_length_cap);
    if ("pair" in res) judge.push(res.pair);
    else bump(`judge_skip_${res.skip}`);
  }
  // Records arrive in completion order; sorted output makes reruns byte-identical.
  actor.sort((a, c) => cmp(a.prompt_id, c.prompt_id));
  judge.sort((a, c) => cmp(a.prompt_id, c.prompt_id));
  counts.actor_pairs = actor.length;
  counts.judge_pairs = judge.length;
  return { actor, judge, counts, annotationProblems };
}

/** Each column of `t` as a typed array of its rows. */
function columns<T extends object>(t: T): { [K in keyof T]: T[K] extends Column<infer A> ? A : never } {
  const out: Record<string, unknown> = {};
  for (const [k, c] of Object.entries(t))
    out[k] = (c as Column<Int32Array | Float64Array>).data.subarray(0, (c as Column<Int32Array>).length);
  return out as { [K in keyof T]: T[K] extends Column<infer A> ? A : never };
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Both pair files as one step: a kill between them never leaves one from this run and one from the last. */
export function writePairs(iterDir: string, result: PairsResult): void {
  writeFilesTogether(iterDir, PAIRS_COMMIT, [
    { target: FILES.actorPairs, data: toJsonl(result.actor) },
    { target: FILES.judgePairs, data: toJsonl(result.judge) },
  ]);
}
