// Rows of the tree and the hints, made from index columns on demand: a handful per call, so nothing
// here is cached except the judge pair of a battled response (a Bradley–Terry fit per response).
import {
  pickBattleResponse,
  scoreVariance,
  selectActorPair,
  selectJudgePair,
  type ActorCandidate,
  type ActorPairResult,
  type Battle,
  type JudgePairResult,
} from "../select.js";
import type { Annotation } from "../schema.js";
import type { IndexedKind, IterationIndex, RecordTable } from "../store/index.js";
import { WINNER_FIRST, WINNER_NULL } from "../store/index.js";
import type { Aggregates } from "./aggregate.js";
import type { RecordGraph } from "./graph.js";
import type { PairFile, ViewSettings } from "./side-files.js";
import type { AnnotationLabel, BattleRow, JudgementRow, ResponseRow } from "./types.js";

export interface ViewData {
  index: IterationIndex;
  /** The tables as they were when this view was made: a file rebuilt meanwhile gets a new table, not this one. */
  tables: Record<IndexedKind, RecordTable>;
  graph: RecordGraph;
  agg: Aggregates;
  annotations: Map<string, Annotation>;
  actorPairs: PairFile;
  judgePairs: PairFile;
  settings: ViewSettings;
  /** Memo of judgePair by response key, emptied on every change. */
  judgePairMemo: Map<number, JudgePairResult | null>;
}

export function labelOf(v: ViewData, id: string): AnnotationLabel | undefined {
  return v.annotations.get(id)?.label;
}

function isFlagged(v: ViewData, key: number): boolean {
  return key < v.agg.suspicious.length && v.agg.suspicious[key] === 1;
}

const byIndex =
  (index: Int32Array) =>
  (a: number, b: number): number =>
    index[a]! - index[b]! || a - b;

/** First-occurrence responses of a prompt, by index. */
export function responseRecords(v: ViewData, promptKey: number): number[] {
  return v.graph.responsesOf.list(promptKey).sort(byIndex(v.tables.response.index));
}

/** First-occurrence judgements of a response, by index. */
export function judgementRecords(v: ViewData, responseKey: number): number[] {
  return v.graph.judgementsOf.list(responseKey).sort(byIndex(v.tables.judgement.index));
}

/** First-occurrence battles of a response, by the indexes of the judgements shown first, then second. */
export function battleRecords(v: ViewData, responseKey: number): number[] {
  const M = v.tables.meta_judgement;
  const J = v.tables.judgement;
  const indexOf = (key: number): number => {
    const j = v.graph.record("judgement", key);
    return j < 0 ? Number.MAX_SAFE_INTEGER : J.index[j]!;
  };
  return v.graph.battlesOf
    .list(responseKey)
    .map((b) => ({ b, f: indexOf(M.first[b]!), s: indexOf(M.second[b]!) }))
    .sort((x, y) => x.f - y.f || x.s - y.s || x.b - y.b)
    .map((x) => x.b);
}

/**
 * The response of a prompt that holds its judge pair, picked as `metajudge pairs` picks it: among
 * the unflagged responses with an unflagged battle, the one whose valid, unflagged scores vary most
 * (lowest index, then the first line, on a tie). -1 when there is none.
 */
export function judgeResponse(v: ViewData, promptKey: number): number {
  const R = v.tables.response;
  const J = v.tables.judgement;
  const M = v.tables.meta_judgement;
  const cands: { id: string; key: number; index: number; scores: (number | null)[] }[] = [];
  for (const r of responseRecords(v, promptKey)) {
    const key = R.id[r]!;
    if (isFlagged(v, key) || !v.graph.battlesOf.list(key).some((b) => !isFlagged(v, M.id[b]!))) continue;
    const scores: (number | null)[] = [];
    for (const j of v.graph.judgementsOf.list(key))
      if (!isFlagged(v, J.id[j]!)) scores.push(Number.isNaN(J.score[j]!) ? null : J.score[j]!);
    cands.push({ id: v.index.pool.get(key), key, index: R.index[r]!, scores });
  }
  const picked = pickBattleResponse(cands);
  return picked === null ? -1 : cands.find((c) => c.id === picked)!.key;
}

/**
 * The judge pair of a response exactly as `metajudge pairs` computes it: null unless the response is
 * its prompt's judge-pair response; only battles between its valid, unflagged judgements count.
 */
export function judgePair(v: ViewData, responseKey: number): JudgePairResult | null {
  if (v.judgePairMemo.has(responseKey)) return v.judgePairMemo.get(responseKey)!;
  const { pool } = v.index;
  const tables = v.tables;
  const J = tables.judgement;
  const M = tables.meta_judgement;
  const r = v.graph.record("response", responseKey);
  let result: JudgePairResult | null = null;
  if (r >= 0 && judgeResponse(v, tables.response.prompt[r]!) === responseKey) {
    const battles: Battle[] = [];
    for (const b of v.graph.battlesOf.list(responseKey)) {
      if (isFlagged(v, M.id[b]!)) continue;
      const w = M.winner[b]!;
      battles.push({
        first_id: pool.get(M.first[b]!),
        second_id: pool.get(M.second[b]!),
        winner: w === WINNER_NULL ? null : w === WINNER_FIRST ? "first" : "second",
      });
    }
    // File order, as `metajudge pairs` reads them: the order the Elo is solved in.
    const judgements: { id: string; length: number }[] = [];
    for (const j of v.graph.judgementsOf.list(responseKey)) {
      if (!isFlagged(v, J.id[j]!) && !Number.isNaN(J.score[j]!)) judgements.push({ id: pool.get(J.id[j]!), length: J.textLength[j]! });
    }
    result = selectJudgePair(pool.get(tables.response.prompt[r]!), pool.get(responseKey), judgements, battles, v.settings.lengthCap);
  }
  v.judgePairMemo.set(responseKey, result);
  return result;
}

/** Actor-pair candidates of a prompt as `metajudge pairs` builds them, and the selection under the iteration's rho. */
export function actorPair(v: ViewData, promptKey: number): { candidates: ActorCandidate[]; result: ActorPairResult } {
  const R = v.tables.response;
  const candidates: ActorCandidate[] = [];
  for (const r of v.graph.responsesOf.list(promptKey)) {
    if (!v.agg.isCandidate(r)) continue;
    candidates.push({ id: v.index.pool.get(R.id[r]!), index: R.index[r]!, score: v.agg.mean(r), length: R.textLength[r]! });
  }
  return { candidates, result: selectActorPair(v.index.pool.get(promptKey), candidates, v.settings.rho) };
}

export function responseRow(v: ViewData, r: number): ResponseRow {
  const { pool } = v.index;
  const tables = v.tables;
  const R = tables.response;
  const J = tables.judgement;
  const id = pool.get(R.id[r]!);
  // Variance over every valid score, flagged or not: it is what chose the battled response.
  const scores: (number | null)[] = [];
  for (const j of v.graph.judgementsOf.list(R.id[r]!)) scores.push(Number.isNaN(J.score[j]!) ? null : J.score[j]!);
  const row: ResponseRow = {
    id,
    promptId: pool.get(R.prompt[r]!),
    index: R.index[r]!,
    length: R.textLength[r]!,
    meanScore: v.agg.mean(r),
    judgements: v.agg.judged[r]!,
    validJudgements: v.agg.valid[r]!,
    variance: scoreVariance(scores),
    battled: v.agg.battles[r]! > 0,
  };
  if (R.duplicateOf[r]! >= 0) row.duplicateOf = pool.get(R.duplicateOf[r]!);
  const role = v.actorPairs.roles.get(id);
  if (role) row.pairRole = role;
  const flag = labelOf(v, id);
  if (flag) row.flag = flag;
  return row;
}

export function judgementRow(v: ViewData, j: number, elo: Record<string, number> | undefined): JudgementRow {
  const { pool } = v.index;
  const tables = v.tables;
  const J = tables.judgement;
  const id = pool.get(J.id[j]!);
  const score = J.score[j]!;
  const row: JudgementRow = {
    id,
    responseId: pool.get(J.response[j]!),
    index: J.index[j]!,
    score: Number.isNaN(score) ? null : score,
    length: J.textLength[j]!,
  };
  if (J.parseError[j]! >= 0) row.parseError = pool.get(J.parseError[j]!);
  const e = elo?.[id];
  if (e !== undefined) row.elo = e;
  const role = v.judgePairs.roles.get(id);
  if (role) row.pairRole = role;
  const flag = labelOf(v, id);
  if (flag) row.flag = flag;
  return row;
}

export function battleRow(v: ViewData, b: number): BattleRow {
  const { pool } = v.index;
  const tables = v.tables;
  const M = tables.meta_judgement;
  const id = pool.get(M.id[b]!);
  const w = M.winner[b]!;
  const row: BattleRow = {
    id,
    firstId: pool.get(M.first[b]!),
    secondId: pool.get(M.second[b]!),
    winner: w === WINNER_NULL ? null : w === WINNER_FIRST ? "first" : "second",
  };
  if (M.parseError[b]! >= 0) row.parseError = pool.get(M.parseError[b]!);
  const flag = labelOf(v, id);
  if (flag) row.flag = flag;
  return row;
}

/** The kinds a record id is looked for in, in this order. */
export const LOOKUP_ORDER: readonly IndexedKind[] = ["response", "judgement", "meta_judgement", "prompt"];
