// Bradley–Terry strengths from a win matrix: the ranking behind a judge pair's Elo. Split from
// select.ts because it is numerical work with its own tolerances, used only through selectJudgePair.

/**
 * Pseudo-count added to every off-diagonal cell of the battle matrix. With ten battles per judgement
 * one often wins or loses all of them, which sends its maximum-likelihood strength to infinity; the
 * prior keeps it finite and, being the same for every cell, favours no judgement.
 */
export const BT_PRIOR = 0.01;
const BT_GRADIENT_TOLERANCE = 1e-12;
const BT_MAX_ITERATIONS = 200;

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
  // One allocation for all the working arrays: a fit runs once per battled response.
  const work = new Float64Array(2 * k * k + 4 * k);
  const C = work.subarray(0, k * k);
  const A = work.subarray(k * k, 2 * k * k);
  const theta = work.subarray(2 * k * k, 2 * k * k + k);
  const grad = work.subarray(2 * k * k + k, 2 * k * k + 2 * k);
  const step = work.subarray(2 * k * k + 2 * k, 2 * k * k + 3 * k);
  const trial = work.subarray(2 * k * k + 3 * k);
  for (let m = 0; m < k; m++) {
    const row = B[m];
    for (let n = 0; n < k; n++) if (m !== n) C[m * k + n] = (row?.[n] ?? 0) + prior;
  }
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
