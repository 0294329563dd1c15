// Pair selection: which responses become an actor pair (quality tiers with length control) and which
// judgements become a judge pair (position-weighted meta-judge battles ranked by Bradley–Terry Elo).
// Pure and deterministic: the same records give the same pairs on every machine, so an iteration can
// be re-selected with new settings and diffed. It runs once per prompt at paper scale, hence the loops
// instead of filter/map chains.
import type { ActorPair, JudgePair } from "./schema.js";

/**
 * Slack for threshold comparisons on scores. Scores are means such as 11/3 and the tier thresholds are
 * weighted sums of such means, so a response whose score equals a threshold in exact arithmetic can
 * land an ulp (~1e-15) on the wrong side of it: with rho = 0.4, S_max = 5 and S_min = 5/3 the float
 * threshold is 3.666666666666667 while the mean 11/3 is 3.6666666666666665. 1e-9 absorbs such
 * rounding and is far below the gaps real scores leave (judges emit a couple of decimals at most, and
 * a mean has at most 64 terms).
 */
export const SCORE_EPSILON = 1e-9;
/**
 * Pseudo-count added to every off-diagonal cell of the battle matrix. With ten battles per judgement
 * one often wins or loses all of them, which sends its maximum-likelihood strength to infinity; the
 * prior keeps it finite and, being the same for every cell, favours no judgement.
 */
export const BT_PRIOR = 0.01;
/** Elo points within which two judgements count as tied for the top or the bottom: far above the solver's residual, far below a real gap. */
export const ELO_TIE_TOLERANCE = 1e-6;
/** Variances within this of the maximum tie, so a reordered but equal set of scores cannot win by an ulp. */
export const VARIANCE_TIE_TOLERANCE = 1e-12;

const ELO_BASE = 1000;
const ELO_SCALE = 400 / Math.LN10; // 400·log10(e^θ) = θ·400/ln 10
const BT_GRADIENT_TOLERANCE = 1e-12;
const BT_MAX_ITERATIONS = 200;

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

/**
 * Bradley–Terry maximum-likelihood log-strengths θ (mean zero) of a win matrix B, maximising
 * Σ (B[m][n] + prior)·log σ(θ_m − θ_n) over m ≠ n. Newton's method with step halving: the objective
 * is concave and its Hessian is a weighted graph Laplacian, so for a few dozen players it converges
 * in a handful of steps, where the MM iteration converges only linearly and crawls on lopsided data. With prior > 0 the
 * optimum is unique and finite; with prior 0 it exists only when every split of the players has wins
 * both ways, and otherwise the result is wherever the iteration stopped.
 */
export function bradleyTerry(B: readonly (readonly number[])[], prior: number = BT_PRIOR): number[] {
  if (!(prior >= 0)) throw new RangeError(`prior must be >= 0, got ${prior}`);
  const k = B.length;
  if (k === 0) return [];
  const C = new Float64Array(k * k);
  for (let m = 0; m < k; m++) {
    const row = B[m];
    for (let n = 0; n < k; n++) if (m !== n) C[m * k + n] = (row?.[n] ?? 0) + prior;
  }
  const theta = new Float64Array(k);
  const grad = new Float64Array(k);
  const step = new Float64Array(k);
  const trial = new Float64Array(k);
  const A = new Float64Array(k * k);
  // Gradient terms are as large as a player's total of battles, so the stopping test scales with it.
  let mass = 1;
  for (let m = 0; m < k; m++) {
    let row = 0;
    for (let n = 0; n < k; n++) row += C[m * k + n]! + C[n * k + m]!;
    if (row > mass) mass = row;
  }
  const gtol = BT_GRADIENT_TOLERANCE * mass;
  let ll = logLikelihood(C, theta, k);
  for (let iter = 0; iter < BT_MAX_ITERATIONS; iter++) {
    // Gradient g_m = Σ_n C_mn − N_mn·σ(θ_m − θ_n); Hessian = −L with L_mn = −N_mn·σ(1−σ). Solving
    // (L + 11ᵀ)·δ = g gives the Newton step with Σδ = 0, which keeps the mean of θ at zero.
    A.fill(1);
    grad.fill(0);
    // Each unordered pair once: σ(θ_n − θ_m) = 1 − σ(θ_m − θ_n) halves the exponentials.
    for (let m = 0; m < k; m++) {
      for (let n = m + 1; n < k; n++) {
        const cmn = C[m * k + n]!;
        const cnm = C[n * k + m]!;
        const p = sigmoid(theta[m]! - theta[n]!);
        grad[m]! += cmn - (cmn + cnm) * p;
        grad[n]! += cnm - (cmn + cnm) * (1 - p);
        const w = (cmn + cnm) * p * (1 - p);
        A[m * k + n]! -= w;
        A[n * k + m]! -= w;
        A[m * k + m]! += w;
        A[n * k + n]! += w;
      }
    }
    let gmax = 0;
    for (let m = 0; m < k; m++) gmax = Math.max(gmax, Math.abs(grad[m]!));
    if (gmax <= gtol) break;
    if (!solveInPlace(A, grad, step, k)) break;
    // Near the optimum the gain of a step is below the rounding of the log-likelihood itself, so a
    // step that loses no more than that rounding still counts as an ascent; far from it, a bad step
    // loses far more and is halved.
    const slack = 1e-13 * (1 + Math.abs(ll));
    let t = 1;
    let improved = false;
    for (let halvings = 0; halvings < 60; halvings++, t /= 2) {
      for (let m = 0; m < k; m++) trial[m] = theta[m]! + t * step[m]!;
      const llTrial = logLikelihood(C, trial, k);
      if (llTrial >= ll - slack) {
        theta.set(trial);
        ll = llTrial;
        improved = true;
        break;
      }
    }
    if (!improved) break;
  }
  // Newton steps sum to zero only up to rounding; recentre so callers can rely on the mean.
  let mean = 0;
  for (let m = 0; m < k; m++) mean += theta[m]!;
  mean /= k;
  const out: number[] = [];
  for (let m = 0; m < k; m++) out.push(theta[m]! - mean);
  return out;
}

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** log σ(x) without overflow for large |x|. */
function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

function logLikelihood(C: Float64Array, theta: Float64Array, k: number): number {
  let ll = 0;
  for (let m = 0; m < k; m++) {
    for (let n = m + 1; n < k; n++) {
      const d = theta[m]! - theta[n]!;
      const ls = logSigmoid(d);
      // log σ(−d) = log σ(d) − d
      ll += C[m * k + n]! * ls + C[n * k + m]! * (ls - d);
    }
  }
  return ll;
}

/** Gaussian elimination with partial pivoting on a k×k system; A and b are overwritten. False when singular. */
function solveInPlace(A: Float64Array, b: Float64Array, x: Float64Array, k: number): boolean {
  for (let col = 0; col < k; col++) {
    let piv = col;
    for (let r = col + 1; r < k; r++) if (Math.abs(A[r * k + col]!) > Math.abs(A[piv * k + col]!)) piv = r;
    const pv = A[piv * k + col]!;
    if (!(Math.abs(pv) > 1e-300)) return false;
    if (piv !== col) {
      for (let c = 0; c < k; c++) {
        const tmp = A[col * k + c]!;
        A[col * k + c] = A[piv * k + c]!;
        A[piv * k + c] = tmp;
      }
      const tb = b[col]!;
      b[col] = b[piv]!;
      b[piv] = tb;
    }
    for (let r = col + 1; r < k; r++) {
      const f = A[r * k + col]! / pv;
      if (f === 0) continue;
      for (let c = col; c < k; c++) A[r * k + c]! -= f * A[col * k + c]!;
      b[r]! -= f * b[col]!;
    }
  }
  for (let r = k - 1; r >= 0; r--) {
    let s = b[r]!;
    for (let c = r + 1; c < k; c++) s -= A[r * k + c]! * x[c]!;
    x[r] = s / A[r * k + r]!;
  }
  return true;
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
