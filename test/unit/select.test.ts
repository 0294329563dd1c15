// Pair selection against hand-computed cases: each expectation is derived in the comment above it, so
// a failure points at either the arithmetic or the code, never at a snapshot.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  BT_PRIOR,
  battleMatrix,
  battlePlan,
  bradleyTerry,
  meanScore,
  pickBattleResponse,
  scoreVariance,
  selectActorPair,
  selectJudgePair,
  type ActorCandidate,
  type ActorPairResult,
  type Battle,
  type JudgePairResult,
} from "../../src/core/select.js";

function close(actual: number | undefined, expected: number, tol: number, what: string): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= tol, `${what}: ${actual} is not within ${tol} of ${expected}`);
}

function cand(index: number, score: number | null, length: number): ActorCandidate {
  return { id: `r${index}`, index, score, length };
}

function actorPair(r: ActorPairResult): { chosen: string; rejected: string; upper: number; lower: number } {
  assert.ok("pair" in r, `expected a pair, got skip ${"skip" in r ? r.skip : ""}`);
  return { chosen: r.pair.chosen_id, rejected: r.pair.rejected_id, upper: r.pair.upper_bound ?? NaN, lower: r.pair.lower_bound ?? NaN };
}

function actorSkip(r: ActorPairResult): string {
  assert.ok("skip" in r, "expected a skip");
  return r.skip;
}

function judgePair(r: JudgePairResult): Extract<JudgePairResult, { pair: unknown }> {
  assert.ok("pair" in r, `expected a pair, got skip ${"skip" in r ? `${r.skip} (${r.detail ?? ""})` : ""}`);
  return r;
}

function judgeSkip(r: JudgePairResult): Extract<JudgePairResult, { skip: unknown }> {
  assert.ok("skip" in r, "expected a skip");
  return r;
}

function battles(spec: string): Battle[] {
  // "a/b:first c/a:null" → battles; the judgement before the slash is shown first.
  return spec.split(/\s+/).map((tok) => {
    const [pairText, w] = tok.split(":");
    const [first_id, second_id] = (pairText ?? "").split("/");
    assert.ok(first_id && second_id && (w === "first" || w === "second" || w === "null"), `bad battle ${tok}`);
    return { first_id, second_id, winner: w === "null" ? null : w };
  });
}

/** Deterministic Fisher–Yates with a linear congruential generator, so "shuffled" is reproducible. */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = xs.slice();
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const judgementsOf = (...ids: string[]): { id: string; length: number }[] => ids.map((id) => ({ id, length: 100 }));

// ---- actor pair -----------------------------------------------------------------------------------

test("rho = 0 is best versus worst, whatever the lengths", () => {
  // S_max = 5, S_min = 1; upper = 1·5 + 0·1 = 5, lower = 1·1 + 0·5 = 1. Only r2 reaches 5 (though it is
  // the longest) and only r3 is at or below 1 (though it is the shortest).
  const r = selectActorPair("p", [cand(0, 4, 300), cand(1, 2, 100), cand(2, 5, 900), cand(3, 1, 50)], 0);
  assert.deepEqual(actorPair(r), { chosen: "r2", rejected: "r3", upper: 5, lower: 1 });
  assert.ok("pair" in r);
  assert.equal(r.pair.prompt_id, "p");
  assert.equal(r.pair.chosen_score, 5);
  assert.equal(r.pair.rejected_score, 1);
  assert.equal(r.pair.chosen_length, 900);
  assert.equal(r.pair.rejected_length, 50);
});

test("rho = 0.4: the shortest of the top tier against the longest of the bottom tier", () => {
  // S_max = 5, S_min = 1. upper = 0.6·5 + 0.4·1 = 3.4; lower = 0.6·1 + 0.4·5 = 2.6.
  // Top tier (S >= 3.4): r0 (5, 800), r1 (3.5, 200), r2 (4, 500) → shortest is r1, not the top scorer r0.
  // Bottom tier (S <= 2.6): r3 (1, 100), r4 (2.5, 700) → longest is r4, not the bottom scorer r3.
  // r5 (3, 1000) is the longest response overall but sits between the tiers.
  const cands = [cand(0, 5, 800), cand(1, 3.5, 200), cand(2, 4, 500), cand(3, 1, 100), cand(4, 2.5, 700), cand(5, 3, 1000)];
  const got = actorPair(selectActorPair("p", cands, 0.4));
  assert.equal(got.chosen, "r1");
  assert.equal(got.rejected, "r4");
  close(got.upper, 3.4, 1e-12, "upper");
  close(got.lower, 2.6, 1e-12, "lower");
});

test("a score equal to a threshold in arithmetic qualifies despite float rounding", () => {
  // Scores are means of three judgements: r0 [5,5,5] = 5, r1 [4,4,3] = 11/3, r2 [2,2,1] = 5/3.
  // upper = 0.6·5 + 0.4·5/3 = 3 + 2/3 = 11/3 exactly, but in floats upper = 3.666666666666667 while
  // 11/3 = 3.6666666666666665, so without the epsilon r1 would miss the top tier and r0 would be chosen.
  const s0 = meanScore([5, 5, 5]);
  const s1 = meanScore([4, 4, 3]);
  const s2 = meanScore([2, 2, 1]);
  assert.ok(s1 !== null && s1 < 0.6 * 5 + 0.4 * (5 / 3), "the float trap this test is about is present");
  const up = actorPair(selectActorPair("p", [cand(0, s0, 900), cand(1, s1, 300), cand(2, s2, 400)], 0.4));
  assert.equal(up.chosen, "r1");
  assert.equal(up.rejected, "r2"); // lower = 0.6·5/3 + 0.4·5 = 3: only r2 (5/3)

  // Mirror image for the bottom tier: r0 [3,3,2] = 8/3, r1 [2,2,1] = 5/3, r2 [1,1,1] = 1.
  // lower = 0.6·1 + 0.4·8/3 = 3/5 + 16/15 = 5/3 exactly; floats give 1.6666666666666665 < 5/3's
  // 1.6666666666666667. r1 is the longest, so it must be rejected; upper = 0.6·8/3 + 0.4·1 = 2 keeps r0 alone on top.
  const low = actorPair(
    selectActorPair("p", [cand(0, meanScore([3, 3, 2]), 100), cand(1, meanScore([2, 2, 1]), 900), cand(2, meanScore([1, 1, 1]), 200)], 0.4),
  );
  assert.equal(low.chosen, "r0");
  assert.equal(low.rejected, "r1");
});

test("equal lengths go to the lowest index, in any input order", () => {
  // rho = 0: top tier = the two 5s (r3, r1, both 200 chars) → r1; bottom tier = the two 1s (r4, r2, both 600) → r2.
  const cands = [cand(3, 5, 200), cand(4, 1, 600), cand(0, 3, 50), cand(1, 5, 200), cand(2, 1, 600)];
  for (const order of [cands, cands.slice().reverse(), shuffled(cands, 7)]) {
    const got = actorPair(selectActorPair("p", order, 0));
    assert.equal(got.chosen, "r1");
    assert.equal(got.rejected, "r2");
  }
});

test("fewer than two scored responses skip the prompt", () => {
  assert.equal(actorSkip(selectActorPair("p", [cand(0, 4, 100), cand(1, null, 50)], 0)), "too-few-scored");
  assert.equal(actorSkip(selectActorPair("p", [], 0)), "too-few-scored");
});

test("all scored responses tied skip the prompt", () => {
  // S_max = S_min = 4. meanScore([4.2, 3.9, 3.9]) and meanScore([3.9, 3.9, 4.2]) both mean 4 in arithmetic.
  assert.equal(actorSkip(selectActorPair("p", [cand(0, 4, 100), cand(1, 4, 200), cand(2, 4, 300), cand(3, null, 10)], 0.4)), "all-tied");
  const a = meanScore([4.2, 3.9, 3.9]);
  const b = meanScore([3.9, 3.9, 4.2]);
  assert.equal(actorSkip(selectActorPair("p", [cand(0, a, 100), cand(1, b, 200)], 0)), "all-tied");
});

test("an unscored response takes no part, not even in S_min", () => {
  // Scored: r0 5 (300), r1 4 (100), r2 2 (400). S_max = 5, S_min = 2 (r3's null is not a 0).
  // upper = 0.6·5 + 0.4·2 = 3.8 → {r0, r1} → shortest r1; lower = 0.6·2 + 0.4·5 = 3.2 → {r2} → r2.
  // r3 would be the rejected one (longest) if it counted.
  const got = actorPair(selectActorPair("p", [cand(0, 5, 300), cand(1, 4, 100), cand(2, 2, 400), cand(3, null, 5000)], 0.4));
  assert.equal(got.chosen, "r1");
  assert.equal(got.rejected, "r2");
  close(got.upper, 3.8, 1e-12, "upper");
  close(got.lower, 3.2, 1e-12, "lower");
});

test("overlapping tiers at rho >= 0.5 skip when they give no separation", () => {
  // rho = 0.5: upper = lower = 0.5·5 + 0.5·1 = 3. Top tier {r0 (500), r1 (100)} → r1; bottom tier
  // {r1 (100), r2 (50)} → longest r1. Same response both ways.
  assert.equal(actorSkip(selectActorPair("p", [cand(0, 5, 500), cand(1, 3, 100), cand(2, 1, 50)], 0.5)), "no-separation");
  // rho = 0.8: upper = 0.2·5 + 0.8·1 = 1.8, lower = 0.2·1 + 0.8·5 = 4.2. Top tier {r0 (500), r1 (10),
  // r3 (950)} → r1 with 2; bottom tier {r1, r2 (900), r3 (950)} → r3 with 4. Chosen 2 <= rejected 4.
  assert.equal(actorSkip(selectActorPair("p", [cand(0, 5, 500), cand(1, 2, 10), cand(2, 1, 900), cand(3, 4, 950)], 0.8)), "no-separation");
  // Overlap alone is not a skip: rho = 0.5, tiers meet at 3; top tier {r0 (100), r1 (300)} → r0 (5),
  // bottom tier {r1 (300), r2 (500)} → r2 (1).
  const got = actorPair(selectActorPair("p", [cand(0, 5, 100), cand(1, 3, 300), cand(2, 1, 500)], 0.5));
  assert.deepEqual([got.chosen, got.rejected], ["r0", "r2"]);
});

test("rho outside [0, 1] is a programming error", () => {
  for (const rho of [-0.1, 1.1, NaN]) assert.throws(() => selectActorPair("p", [cand(0, 5, 1), cand(1, 1, 1)], rho), RangeError);
});

// ---- scores and the battle response ---------------------------------------------------------------

test("mean and population variance use valid scores only", () => {
  assert.equal(meanScore([4, null, 3, 4]), 11 / 3);
  assert.equal(meanScore([null, null]), null);
  assert.equal(meanScore([]), null);
  // [3, 5]: mean 4, deviations ±1 → (1 + 1) / 2 = 1 (population, not the n−1 sample variance 2).
  assert.equal(scoreVariance([3, null, 5]), 1);
  // [1, 2, 3, 4.5]: mean 2.625; squared deviations 2.640625 + 0.390625 + 0.140625 + 3.515625 = 6.6875; / 4 = 1.671875.
  close(scoreVariance([1, 2, 3, 4.5]) ?? NaN, 1.671875, 1e-15, "variance");
  assert.equal(scoreVariance([4, null]), null);
  // Equal fractional scores give exactly 0, not a rounding residue that would pass "variance > 0".
  assert.equal(scoreVariance([3.7, 3.7, 3.7, null, 3.7]), 0);
});

test("the battle response has the highest variance, ties to the lowest index", () => {
  // r0 [4,4,4] → 0; r1 [3,5,null] → 1; r2 [5,3] → 1; r3 [5] → too few; r4 [4,4.5] → 0.0625.
  const rs = [
    { id: "r0", index: 0, scores: [4, 4, 4] },
    { id: "r1", index: 1, scores: [3, 5, null] },
    { id: "r2", index: 2, scores: [5, 3] },
    { id: "r3", index: 3, scores: [5, null] },
    { id: "r4", index: 4, scores: [4, 4.5] },
  ];
  assert.equal(pickBattleResponse(rs), "r1");
  assert.equal(pickBattleResponse(rs.slice().reverse()), "r1");
  // Nothing varies (r0: variance 0, r3: one valid score) → no battles for this prompt.
  assert.equal(pickBattleResponse([rs[0]!, rs[3]!]), null);
  assert.equal(pickBattleResponse([]), null);
});

test("battle plan: both orders of every valid pair, by index", () => {
  const js = [
    { id: "j2", index: 2, score: 3 },
    { id: "jx", index: 3, score: null },
    { id: "j0", index: 0, score: 4 },
    { id: "j1", index: 1, score: 5 },
  ];
  const plan = battlePlan(js).map((b) => `${b.first_id}/${b.second_id}`);
  assert.deepEqual(plan, ["j0/j1", "j1/j0", "j0/j2", "j2/j0", "j1/j2", "j2/j1"]);
  // 11 judgements, 2 without a score: v = 9 → 9·8 = 72 battles, every ordered pair exactly once.
  const eleven = Array.from({ length: 11 }, (_, i) => ({ id: `j${i}`, index: i, score: i === 3 || i === 7 ? null : 4 }));
  const big = battlePlan(eleven);
  assert.equal(big.length, 9 * 8);
  assert.equal(new Set(big.map((b) => `${b.first_id}/${b.second_id}`)).size, 72);
  assert.ok(big.every((b) => b.first_id !== "j3" && b.second_id !== "j7" && b.first_id !== b.second_id));
  assert.deepEqual(battlePlan([{ id: "j0", index: 0, score: 4 }]), []);
});

// ---- battle matrix and Bradley–Terry ------------------------------------------------------------

// a beats everyone, b beats c, c beats nobody; one battle undecided.
const ABC = battles("a/b:first b/a:second a/c:first c/a:second b/c:first c/b:null");

test("battle matrix: win counts, position weights and every cell by hand", () => {
  // Decisive: a/b (a, 1st), b/a (a, 2nd), a/c (a, 1st), c/a (a, 2nd), b/c (b, 1st); c/b undecided.
  // win_1st = 3, win_2nd = 2, decisive = 5, battles = 6.
  // w1 = win_2nd / 5 = 0.4 (weight of a first-position win), w2 = win_1st / 5 = 0.6.
  // B[a][b] = 0.4·#(a 1st beat b = 1) + 0.6·#(a 2nd beat b = 1) = 1
  // B[a][c] = 0.4·1 + 0.6·1 = 1
  // B[b][c] = 0.4·1 + 0.6·0 = 0.4
  // B[b][a] = B[c][a] = B[c][b] = 0
  const { ids, B, stats } = battleMatrix(judgementsOf("a", "b", "c"), ABC);
  assert.deepEqual(ids, ["a", "b", "c"]);
  assert.deepEqual(stats, { win_1st: 3, win_2nd: 2, w1: 0.4, w2: 0.6, decisive: 5, battles: 6 });
  const expected = [
    [0, 1, 1],
    [0, 0, 0.4],
    [0, 0, 0],
  ];
  for (let m = 0; m < 3; m++) for (let n = 0; n < 3; n++) close(B[m]?.[n], expected[m]![n]!, 1e-12, `B[${ids[m]}][${ids[n]}]`);

  const r = judgePair(
    selectJudgePair(
      "p",
      "r",
      [
        { id: "a", length: 400 },
        { id: "b", length: 300 },
        { id: "c", length: 200 },
      ],
      ABC,
      null,
    ),
  );
  assert.equal(r.pair.chosen_id, "a");
  assert.equal(r.pair.rejected_id, "c");
  assert.equal(r.pair.chosen_length, 400);
  assert.equal(r.pair.rejected_length, 200);
  assert.equal(r.pair.prompt_id, "p");
  assert.equal(r.pair.response_id, "r");
  assert.deepEqual(r.stats, stats);
  const elo = r.elo;
  assert.deepEqual(Object.keys(elo).sort(), ["a", "b", "c"]);
  assert.ok(elo.a! > elo.b! && elo.b! > elo.c!, `ranking a > b > c: ${JSON.stringify(elo)}`);
  close((elo.a! + elo.b! + elo.c!) / 3, 1000, 1e-9, "mean Elo");
  assert.equal(r.pair.elo, elo);
});

test("position weighting changes the winner versus plain win counting", () => {
  // A meta-judge that favours first position: of 4 decisive battles 3 went to the first judgement.
  // x/y undecided, y/x → y (1st), x/z undecided, z/x → x (2nd), y/z → y (1st), z/y → z (1st).
  // Plain counts: x 1 win, y 2 wins, z 1 win → counting (and Bradley–Terry on raw counts) picks y.
  // win_1st = 3, win_2nd = 1 → w1 = 1/4, w2 = 3/4. B[x][z] = 3/4 (x's one win came against the bias),
  // B[y][x] = B[y][z] = B[z][y] = 1/4. Weighted totals: x 0.75, y 0.5, z 0.25 → x on top.
  const bs = battles("x/y:null y/x:first x/z:null z/x:second y/z:first z/y:first");
  const { B, stats } = battleMatrix(judgementsOf("x", "y", "z"), bs);
  assert.deepEqual(stats, { win_1st: 3, win_2nd: 1, w1: 0.25, w2: 0.75, decisive: 4, battles: 6 });
  assert.deepEqual(B, [
    [0, 0, 0.75],
    [0.25, 0, 0.25],
    [0, 0.25, 0],
  ]);
  const raw = [
    [0, 0, 1],
    [1, 0, 1],
    [0, 1, 0],
  ];
  const rawTheta = bradleyTerry(raw);
  assert.ok(rawTheta[1]! > rawTheta[0]! && rawTheta[1]! > rawTheta[2]!, "unweighted: y on top");
  const r = judgePair(selectJudgePair("p", "r", judgementsOf("x", "y", "z"), bs, null));
  assert.equal(r.pair.chosen_id, "x");
  assert.equal(r.pair.rejected_id, "z");
});

test("two judgements: the Elo gap has the closed form 400·log10((B12 + α)/(B21 + α))", () => {
  // p/q → p (1st), q/p → q (1st), p/q → p (1st), q/p → p (2nd): win_1st = 3, win_2nd = 1,
  // w1 = 1/4, w2 = 3/4. B[p][q] = 1/4·2 + 3/4·1 = 1.25, B[q][p] = 1/4·1 = 0.25.
  // The likelihood C12·log σ(d) + C21·log σ(−d) peaks at e^d = C12/C21 with C = B + α, α = 0.01:
  // gap = 400·log10(1.26 / 0.26) = 274.1588788586…; mean-centred, p = 1000 + gap/2, q = 1000 − gap/2.
  const bs = battles("p/q:first q/p:first p/q:first q/p:second");
  const { B } = battleMatrix(judgementsOf("p", "q"), bs);
  assert.deepEqual(B, [
    [0, 1.25],
    [0.25, 0],
  ]);
  assert.equal(BT_PRIOR, 0.01);
  const gap = 400 * Math.log10(1.26 / 0.26);
  close(gap, 274.1588788586, 1e-9, "hand value");
  const r = judgePair(selectJudgePair("p", "r", judgementsOf("p", "q"), bs, null));
  close(r.elo.p! - r.elo.q!, gap, 1e-9, "Elo gap");
  close(r.elo.p!, 1000 + gap / 2, 1e-9, "Elo p");
  close(r.elo.q!, 1000 - gap / 2, 1e-9, "Elo q");
  // Without a prior: θ_p − θ_q = ln(3/1).
  const theta = bradleyTerry(
    [
      [0, 3],
      [1, 0],
    ],
    0,
  );
  close(theta[0]! - theta[1]!, Math.log(3), 1e-12, "ln 3");
  close(theta[0]! + theta[1]!, 0, 1e-15, "mean zero");
});

test("Bradley–Terry solves the likelihood equations, also on lopsided data", () => {
  // At the optimum Σ_n C_mn = Σ_n (C_mn + C_nm)·σ(θ_m − θ_n) for every m, with C = B + α off the diagonal.
  let s = 12345;
  const rand = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const k = 11;
  const random = Array.from({ length: k }, (_, m) => Array.from({ length: k }, (_, n) => (m === n ? 0 : Math.floor(rand() * 3) * 0.35)));
  // Player 0 beat everyone 50 times and never lost: without the prior its strength would be infinite.
  const lopsided = Array.from({ length: k }, (_, m) =>
    Array.from({ length: k }, (_, n) => (m === n ? 0 : m === 0 ? 50 : n === 0 ? 0 : (m + n) % 3)),
  );
  for (const B of [random, lopsided]) {
    const theta = bradleyTerry(B);
    assert.equal(theta.length, k);
    close(
      theta.reduce((a, b) => a + b, 0),
      0,
      1e-9,
      "mean zero",
    );
    for (let m = 0; m < k; m++) {
      let won = 0;
      let expected = 0;
      for (let n = 0; n < k; n++) {
        if (m === n) continue;
        const cmn = B[m]![n]! + BT_PRIOR;
        const cnm = B[n]![m]! + BT_PRIOR;
        won += cmn;
        expected += (cmn + cnm) / (1 + Math.exp(theta[n]! - theta[m]!));
      }
      close(expected, won, 1e-9, `likelihood equation ${m}`);
    }
  }
  assert.ok(Number.isFinite(bradleyTerry(lopsided)[0]!));
  assert.deepEqual(bradleyTerry([]), []);
  assert.deepEqual(bradleyTerry([[0]]), [0]);
});

// ---- judge pair skips -----------------------------------------------------------------------------

test("a shared top or bottom skips the response but still reports Elo", () => {
  // a/b → a (1st), b/a → b (1st), a/c → a (1st), c/a → a (2nd), b/c → b (1st), c/b → b (2nd).
  // win_1st = 4, win_2nd = 2 → w1 = 1/3, w2 = 2/3. B[a][b] = B[b][a] = 1/3, B[a][c] = B[b][c] = 1/3 + 2/3 = 1.
  // a and b are interchangeable, so they share the top.
  const r = judgeSkip(
    selectJudgePair("p", "r", judgementsOf("a", "b", "c"), battles("a/b:first b/a:first a/c:first c/a:second b/c:first c/b:second"), null),
  );
  assert.equal(r.skip, "tied-extreme");
  assert.ok(r.elo && Math.abs(r.elo.a! - r.elo.b!) < 1e-6 && r.elo.a! > r.elo.c!);
  // A meta-judge that always picks the second judgement: win_1st = 0 → w2 = 0, so B = 0 and every
  // Elo is 1000. Its verdicts carry no information beyond position.
  const always2nd = battlePlan([0, 1, 2].map((i) => ({ id: "abc"[i]!, index: i, score: 3 }))).map((b) => ({
    ...b,
    winner: "second" as const,
  }));
  const r2 = judgeSkip(selectJudgePair("p", "r", judgementsOf("a", "b", "c"), always2nd, null));
  assert.equal(r2.skip, "tied-extreme");
  assert.deepEqual(r2.stats, { win_1st: 0, win_2nd: 6, w1: 1, w2: 0, decisive: 6, battles: 6 });
  for (const id of ["a", "b", "c"]) close(r2.elo?.[id], 1000, 1e-9, `Elo ${id}`);
});

test("no decisive battle, or fewer than two judgements, skips", () => {
  const undecided = judgeSkip(
    selectJudgePair("p", "r", judgementsOf("a", "b", "c"), battles("a/b:null b/a:null a/c:null c/a:null b/c:null c/b:null"), null),
  );
  assert.equal(undecided.skip, "no-decisive-battles");
  assert.equal(undecided.stats?.battles, 6);
  assert.equal(undecided.stats?.decisive, 0);
  assert.equal(undecided.elo, undefined);
  // c was excluded (say, flagged): its battles are ignored, leaving nobody who fought.
  assert.equal(
    judgeSkip(selectJudgePair("p", "r", judgementsOf("a", "b"), battles("a/c:first c/a:second c/b:first"), null)).skip,
    "too-few-judgements",
  );
  assert.equal(judgeSkip(selectJudgePair("p", "r", judgementsOf("a"), [], null)).skip, "too-few-judgements");
});

test("battles with an excluded judgement are ignored", () => {
  // d is not among the judgements: its battles change nothing, including the stats.
  const withD = ABC.concat(battles("d/a:first a/d:second d/b:first b/d:null"));
  const base = selectJudgePair("p", "r", judgementsOf("a", "b", "c"), ABC, null);
  assert.deepEqual(selectJudgePair("p", "r", judgementsOf("a", "b", "c"), withD, null), base);
});

test("a chosen judgement over the length cap drops the pair and keeps the Elo", () => {
  // ABC ranks a first; a has 1,200 characters.
  const js = [
    { id: "a", length: 1200 },
    { id: "b", length: 300 },
    { id: "c", length: 200 },
  ];
  const over = judgeSkip(selectJudgePair("p", "r", js, ABC, 1000));
  assert.equal(over.skip, "over-length-cap");
  assert.ok(over.elo && over.elo.a! > over.elo.b! && over.elo.b! > over.elo.c!);
  // The cap is inclusive (only "longer than" drops), and null turns it off.
  assert.equal(judgePair(selectJudgePair("p", "r", js, ABC, 1200)).pair.chosen_id, "a");
  assert.equal(judgePair(selectJudgePair("p", "r", js, ABC, null)).pair.chosen_id, "a");
  // Only the chosen judgement's length matters: a long rejected one is fine.
  const longLoser = [
    { id: "a", length: 100 },
    { id: "b", length: 300 },
    { id: "c", length: 5000 },
  ];
  assert.equal(judgePair(selectJudgePair("p", "r", longLoser, ABC, 1000)).pair.rejected_id, "c");
});

test("the same battles in any order give identical results", () => {
  let s = 99;
  const rand = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const js = Array.from({ length: 11 }, (_, i) => ({ id: `j${i}`, index: i, score: 3, length: 500 + i * 37 }));
  const plan: Battle[] = battlePlan(js).map((b) => {
    const u = rand();
    return { ...b, winner: u < 0.55 ? "first" : u < 0.9 ? "second" : null };
  });
  for (const bs of [ABC, plan]) {
    const ids = bs === ABC ? judgementsOf("a", "b", "c") : js;
    const base = selectJudgePair("p", "r", ids, bs, null);
    for (const seed of [1, 2, 3, 4, 5]) assert.deepEqual(selectJudgePair("p", "r", ids, shuffled(bs, seed), null), base);
  }
});
