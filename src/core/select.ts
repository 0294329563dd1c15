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
    if (c.score >= upper - SCORE_EPSILON && (chosen === undefined || c.length < chosen.length || (c.length === chosen.length && c.index < chosen.index))) {
      chosen = c;
    }
    if (c.score <= lower + SCORE_EPSILON && (rejected === undefined || c.length > rejected.length || (c.length === rejected.length && c.index < rejected.index))) {
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
export function battlePlan(judgements: readonly { id: string; index: number; score: number | null }[]): { first_id: string; second_id: string }[] {
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

/**
 * Position-weighted win matrix. Battles naming a judgement not in `judgements` (an excluded one) or a
 * judgement against itself are ignored; the first of duplicate ids counts.
 */
export function battleMatrix(judgements: readonly { id: string }[], battles: readonly Battle[]): BattleMatrix {
  const pos = new Map<string, number>();
  for (const j of judgements) if (!pos.has(j.id)) pos.set(j.id, pos.size);
  const k = pos.size;
  // firstWins[m·k+n]: m shown first beat n; secondWins[m·k+n]: m shown second beat n.
  const firstWins = new Float64Array(k * k);
  const secondWins = new Float64Array(k * k);
  const fought = new Uint8Array(k);
  let win1st = 0;
  let win2nd = 0;
  let counted = 0;
  for (const b of battles) {
    const f = pos.get(b.first_id);
    const s = pos.get(b.second_id);
    if (f === undefined || s === undefined || f === s) continue;
    counted++;
    fought[f] = 1;
    fought[s] = 1;
    if (b.winner === "first") {
      win1st++;
      firstWins[f * k + s]! += 1;
    } else if (b.winner === "second") {
      win2nd++;
      secondWins[s * k + f]! += 1;
    }
  }
  const decisive = win1st + win2nd;
  const w1 = decisive === 0 ? 0 : win2nd / decisive;
  const w2 = decisive === 0 ? 0 : win1st / decisive;

  const ids: string[] = [];
  const slots: number[] = [];
  for (const [id, p] of pos) {
    if (fought[p] === 1) {
      ids.push(id);
      slots.push(p);
    }
  }
  const B: number[][] = [];
  for (const pm of slots) {
    const row: number[] = [];
    for (const pn of slots) row.push(pm === pn ? 0 : w1 * firstWins[pm * k + pn]! + w2 * secondWins[pm * k + pn]!);
    B.push(row);
  }
  return { ids, B, stats: { win_1st: win1st, win_2nd: win2nd, w1, w2, decisive, battles: counted } };
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
  const { ids, B, stats } = battleMatrix(judgements, battles);
  if (ids.length < 2) return { skip: "too-few-judgements", detail: `${ids.length} judgement(s) in battles`, stats };
  if (stats.decisive === 0) return { skip: "no-decisive-battles", detail: `${stats.battles} battle(s), none decided`, stats };

  const theta = bradleyTerry(B);
  const elo: Record<string, number> = {};
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
