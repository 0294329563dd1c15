// Pair selection: which responses become an actor pair (quality tiers with length control) and which
// judgements become a judge pair (position-weighted meta-judge battles ranked by Bradley–Terry Elo).
// Pure and deterministic: the same records give the same pairs on every machine, so an iteration can
// be re-selected with new settings and diffed. It runs once per prompt at paper scale, hence the loops
// instead of filter/map chains.
import { bradleyTerry, BT_PRIOR } from "./bradley-terry.js";
import type { ActorPair, JudgePair } from "./schema.js";

export { bradleyTerry, BT_PRIOR };

/**
 * Slack for threshold comparisons on scores. Scores are means such as 11/3 and the tier thresholds are
 * weighted sums of such means, so a response whose score equals a threshold in exact arithmetic can
 * land an ulp (~1e-15) on the wrong side of it: with rho = 0.4, S_max = 5 and S_min = 5/3 the float
 * threshold is 3.666666666666667 while the mean 11/3 is 3.6666666666666665. 1e-9 absorbs such
 * rounding and is far below the gaps real scores leave (judges emit a couple of decimals at most, and
 * a mean has at most 64 terms).
 */
export const SCORE_EPSILON = 1e-9;
/** Elo points within which two judgements count as tied for the top or the bottom: far above the solver's residual, far below a real gap. */
export const ELO_TIE_TOLERANCE = 1e-6;
/** Variances within this of the maximum tie, so a reordered but equal set of scores cannot win by an ulp. */
export const VARIANCE_TIE_TOLERANCE = 1e-12;

const ELO_BASE = 1000;
const ELO_SCALE = 400 / Math.LN10; // 400·log10(e^θ) = θ·400/ln 10

// ---- actor pair -----------------------------------------------------------------------------------

export interface ActorCandidate {
  id: string;
  index: number;
  /** Mean of the response's valid judgement scores; null when it has none. */
  score: number | null;
  length: number;
}

export type ActorSkipReason = "too-few-scored" | "all-tied" | "no-separation";
export type ActorPairResult = { pair: ActorPair } | { skip: ActorSkipReason; detail?: string };

/**
 * chosen = the SHORTEST response with S >= (1-rho)·S_max + rho·S_min; rejected = the LONGEST with
 * S <= (1-rho)·S_min + rho·S_max. Equal lengths go to the lowest index, whatever the input order.
 * Unscored responses take no part, not even in S_max/S_min.
 */
export function selectActorPair(promptId: string, candidates: readonly ActorCandidate[], rho: number): ActorPairResult {
  if (!(rho >= 0 && rho <= 1)) throw new RangeError(`rho must be in [0, 1], got ${rho}`);
  let scored = 0;
  let sMax = -Infinity;
  let sMin = Infinity;
  for (const c of candidates) {
    if (c.score === null) continue;
    scored++;
    if (c.score > sMax) sMax = c.score;
    if (c.score < sMin) sMin = c.score;
  }
  if (scored < 2) return { skip: "too-few-scored", detail: `${scored} scored response(s)` };
  if (sMax - sMin <= SCORE_EPSILON) return { skip: "all-tied", detail: `every scored response has ${sMax}` };

  const upper = (1 - rho) * sMax + rho * sMin;
  const lower = (1 - rho) * sMin + rho * sMax;
  let chosen: ActorCandidate | undefined;
  let rejected: ActorCandidate | undefined;
  for (const c of candidates) {
    if (c.score === null) continue;
    if (
      c.score >= upper - SCORE_EPSILON &&
      (chosen === undefined || c.length < chosen.length || (c.length === chosen.length && c.index < chosen.index))
    ) {
      chosen = c;
    }
    if (
      c.score <= lower + SCORE_EPSILON &&
      (rejected === undefined || c.length > rejected.length || (c.length === rejected.length && c.index < rejected.index))
    ) {
      rejected = c;
    }
  }
  // Both tiers always hold a member (S_max and S_min themselves); the guard is for the type checker.
  if (chosen === undefined || rejected === undefined || chosen.score === null || rejected.score === null) {
    return { skip: "no-separation", detail: "an empty tier" };
  }
  // With rho >= 0.5 the tiers overlap, and the short "good" one may be the long "bad" one or score below it.
  if (chosen.id === rejected.id || chosen.score <= rejected.score + SCORE_EPSILON) {
    return { skip: "no-separation", detail: `chosen ${chosen.id} (${chosen.score}) vs rejected ${rejected.id} (${rejected.score})` };
  }
  return {
    pair: {
      prompt_id: promptId,
      chosen_id: chosen.id,
      rejected_id: rejected.id,
      chosen_score: chosen.score,
      rejected_score: rejected.score,
      chosen_length: chosen.length,
      rejected_length: rejected.length,
      upper_bound: upper,
      lower_bound: lower,
    },
  };
}

// ---- scores and the battle response ---------------------------------------------------------------

export function meanScore(scores: readonly (number | null)[]): number | null {
  let n = 0;
  let sum = 0;
  for (const s of scores) {
    if (s === null) continue;
    n++;
    sum += s;
  }
  return n === 0 ? null : sum / n;
}

/** Population variance of the valid scores; null with fewer than two. */
export function scoreVariance(scores: readonly (number | null)[]): number | null {
  // Deviations are taken from the first valid score, so equal scores give exactly 0 (never an ulp
  // above), which the "variance > 0" rule for the battle response depends on.
  let n = 0;
  let shift = 0;
  let sum = 0;
  for (const s of scores) {
    if (s === null) continue;
    if (n === 0) shift = s;
    n++;
    sum += s - shift;
  }
  if (n < 2) return null;
  const mean = sum / n;
  let sq = 0;
  for (const s of scores) {
    if (s === null) continue;
    const d = s - shift - mean;
    sq += d * d;
  }
  return sq / n;
}

/**
 * The response whose valid judgement scores vary most: the one the meta-judge learns most from. Needs
 * two valid scores and a variance above 0; near-equal variances go to the lowest index.
 */
export function pickBattleResponse(responses: readonly { id: string; index: number; scores: readonly (number | null)[] }[]): string | null {
  let best = 0;
  for (const r of responses) {
    const v = scoreVariance(r.scores);
    if (v !== null && v > best) best = v;
  }
  if (best === 0) return null;
  // Second pass rather than a running comparison, so the winner does not depend on the input order.
  let pick: { id: string; index: number } | undefined;
  for (const r of responses) {
    const v = scoreVariance(r.scores);
    if (v === null || v <= 0 || v < best - VARIANCE_TIE_TOLERANCE) continue;
    if (pick === undefined || r.index < pick.index) pick = r;
  }
  return pick?.id ?? null;
}

/**
 * Every ordered pair of valid judgements: for each unordered pair (m, n) with index m < n, first m/n
 * then n/m, pairs in ascending (m, n). v valid judgements give v·(v−1) battles. Equal indexes (not
 * expected) fall back to id order.
 */
export function battlePlan(
  judgements: readonly { id: string; index: number; score: number | null }[],
): { first_id: string; second_id: string }[] {
  const valid: { id: string; index: number }[] = [];
  for (const j of judgements) if (j.score !== null) valid.push(j);
  valid.sort((a, b) => a.index - b.index || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const plan: { first_id: string; second_id: string }[] = [];
  for (let m = 0; m < valid.length; m++) {
    const a = (valid[m] as { id: string }).id;
    for (let n = m + 1; n < valid.length; n++) {
      const b = (valid[n] as { id: string }).id;
      plan.push({ first_id: a, second_id: b }, { first_id: b, second_id: a });
    }
  }
  return plan;
}

// ---- judge pair -----------------------------------------------------------------------------------

export interface Battle {
  first_id: string;
  second_id: string;
  winner: "first" | "second" | null;
}

export interface BattleStats {
  /** Decisive battles won by the judgement shown first. */
  win_1st: number;
  /** Decisive battles won by the judgement shown second. */
  win_2nd: number;
  /** Weight of a first-position win, win_2nd / decisive (0 when nothing was decided). */
  w1: number;
  /** Weight of a second-position win, win_1st / decisive (0 when nothing was decided). */
  w2: number;
  decisive: number;
  /** Battles between two known, distinct judgements, decided or not. */
  battles: number;
}

export interface BattleMatrix {
  /** Judgements that fought at least one counted battle, in the order given. */
  ids: string[];
  /** B[m][n] = w1·#(ids[m] first, won, vs ids[n]) + w2·#(ids[m] second, won, vs ids[n]). */
  B: number[][];
  stats: BattleStats;
}

/** Verdict codes for BattleTally.add. */
export const NO_VERDICT = 0;
export const FIRST_WON = 1;
export const SECOND_WON = 2;

/**
 * Counts battles between k judgements known by position (0..k-1), so a caller holding a million
 * battles as numbers never makes an object per battle. Positions outside 0..k-1 (a judgement that
 * does not count: unknown, flagged, without a score) and a judgement against itself are ignored.
 */
export class BattleTally {
  // One array, as a tally is made per response: wins[m·k+n] counts m shown first beating n,
  // wins[k² + m·k+n] m shown second beating n, and wins[2k² + m] is 1 when m fought.
  private readonly wins: Float64Array;
  private win1st = 0;
  private win2nd = 0;
  private counted = 0;

  constructor(readonly k: number) {
    this.wins = new Float64Array(2 * k * k + k);
  }

  add(f: number, s: number, verdict: number): void {
    const k = this.k;
    if (!(f >= 0 && f < k && s >= 0 && s < k) || f === s) return;
    this.counted++;
    const w = this.wins;
    w[2 * k * k + f] = 1;
    w[2 * k * k + s] = 1;
    if (verdict === FIRST_WON) {
      this.win1st++;
      w[f * k + s]! += 1;
    } else if (verdict === SECOND_WON) {
      this.win2nd++;
      w[k * k + s * k + f]! += 1;
    }
  }

  /** The matrix over the judgements that fought, named by `ids` (one per position). */
  matrix(ids: readonly string[]): BattleMatrix {
    const k = this.k;
    const decisive = this.win1st + this.win2nd;
    const w1 = decisive === 0 ? 0 : this.win2nd / decisive;
    const w2 = decisive === 0 ? 0 : this.win1st / decisive;
    const named: string[] = [];
    const slots: number[] = [];
    const w = this.wins;
    for (let p = 0; p < k; p++) {
      if (w[2 * k * k + p] === 1) {
        named.push(ids[p]!);
        slots.push(p);
      }
    }
    const B: number[][] = [];
    for (const pm of slots) {
      const row: number[] = [];
      for (const pn of slots) row.push(pm === pn ? 0 : w1 * w[pm * k + pn]! + w2 * w[k * k + pm * k + pn]!);
      B.push(row);
    }
    return { ids: named, B, stats: { win_1st: this.win1st, win_2nd: this.win2nd, w1, w2, decisive, battles: this.counted } };
  }
}

/**
 * Position-weighted win matrix. Battles naming a judgement not in `judgements` (an excluded one) or a
 * judgement against itself are ignored; the first of duplicate ids counts.
 */
export function battleMatrix(judgements: readonly { id: string }[], battles: readonly Battle[]): BattleMatrix {
  const { ids, tally } = tallyBattles(judgements, battles);
  return tally.matrix(ids);
}

function tallyBattles(judgements: readonly { id: string }[], battles: readonly Battle[]): { ids: string[]; tally: BattleTally } {
  const pos = new Map<string, number>();
  for (const j of judgements) if (!pos.has(j.id)) pos.set(j.id, pos.size);
  const tally = new BattleTally(pos.size);
  for (const b of battles) {
    tally.add(
      pos.get(b.first_id) ?? -1,
      pos.get(b.second_id) ?? -1,
      b.winner === "first" ? FIRST_WON : b.winner === "second" ? SECOND_WON : NO_VERDICT,
    );
  }
  return { ids: [...pos.keys()], tally };
}

/**
 * An empty object in V8's dictionary mode. Elo maps are keyed by judgement ids no other object
 * shares, so a plain literal would make a new hidden class for every key of every response (55,000
 * at paper scale); deleting a property that is not the last switches the object to a hash table first.
 */
function dictionary(): Record<string, number> {
  const o: Record<string, number> = { a: 0, b: 0 };
  delete o.a;
  delete o.b;
  return o;
}

export type JudgeSkipReason = "too-few-judgements" | "no-decisive-battles" | "tied-extreme" | "over-length-cap";

export type JudgePairResult =
  | { pair: JudgePair; elo: Record<string, number>; stats: BattleStats }
  | { skip: JudgeSkipReason; detail?: string; elo?: Record<string, number>; stats?: BattleStats };

/**
 * chosen = highest Elo, rejected = lowest, among the judgements that fought a counted battle. Skipped
 * when either extreme is shared (within ELO_TIE_TOLERANCE), and when the chosen judgement is longer
 * than `lengthCap` characters (null = no cap); a skip after the ranking still carries the Elo.
 */
export function selectJudgePair(
  promptId: string,
  responseId: string,
  judgements: readonly { id: string; length: number }[],
  battles: readonly Battle[],
  lengthCap: number | null,
): JudgePairResult {
  const { ids, tally } = tallyBattles(judgements, battles);
  return judgePairOf(promptId, responseId, judgements, tally.matrix(ids), lengthCap);
}

/** selectJudgePair from battles already counted; `judgements` supplies the lengths. */
export function judgePairOf(
  promptId: string,
  responseId: string,
  judgements: readonly { id: string; length: number }[],
  matrix: BattleMatrix,
  lengthCap: number | null,
): JudgePairResult {
  const { ids, B, stats } = matrix;
  if (ids.length < 2) return { skip: "too-few-judgements", detail: `${ids.length} judgement(s) in battles`, stats };
  if (stats.decisive === 0) return { skip: "no-decisive-battles", detail: `${stats.battles} battle(s), none decided`, stats };

  const theta = bradleyTerry(B);
  const elo = dictionary();
  let top = 0;
  let bottom = 0;
  for (let m = 0; m < ids.length; m++) {
    elo[ids[m]!] = ELO_BASE + ELO_SCALE * theta[m]!;
    if (theta[m]! > theta[top]!) top = m;
    if (theta[m]! < theta[bottom]!) bottom = m;
  }
  const hi = ELO_SCALE * theta[top]!;
  const lo = ELO_SCALE * theta[bottom]!;
  let atTop = 0;
  let atBottom = 0;
  for (let m = 0; m < ids.length; m++) {
    const e = ELO_SCALE * theta[m]!;
    if (hi - e <= ELO_TIE_TOLERANCE) atTop++;
    if (e - lo <= ELO_TIE_TOLERANCE) atBottom++;
  }
  if (atTop > 1 || atBottom > 1) {
    return { skip: "tied-extreme", detail: `${atTop} judgement(s) share the top, ${atBottom} the bottom`, elo, stats };
  }

  const chosenId = ids[top]!;
  const rejectedId = ids[bottom]!;
  const lengthOf = (id: string): number | undefined => judgements.find((j) => j.id === id)?.length;
  const chosenLength = lengthOf(chosenId);
  const rejectedLength = lengthOf(rejectedId);
  if (lengthCap !== null && chosenLength !== undefined && chosenLength > lengthCap) {
    return { skip: "over-length-cap", detail: `chosen ${chosenId} has ${chosenLength} > ${lengthCap} characters`, elo, stats };
  }
  const pair: JudgePair = { prompt_id: promptId, response_id: responseId, chosen_id: chosenId, rejected_id: rejectedId, elo };
  if (chosenLength !== undefined) pair.chosen_length = chosenLength;
  if (rejectedLength !== undefined) pair.rejected_length = rejectedLength;
  return { pair, elo, stats };
}
