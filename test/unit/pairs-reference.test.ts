// `metajudge pairs` against a second, deliberately plain implementation of the method, written from
// the method's own text (METHOD.md steps 3–5 and the data contract) with simple maps and loops and its
// own Bradley–Terry fit. Hundreds of seeded random iterations hold what real data holds and the
// happy path avoids: several battled responses per prompt, null scores, flagged records, undecided
// battles, duplicate lines, equal lengths and scores, and ids of every shape. Only choices and
// rankings are compared, never floating values beyond a tolerance.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { computePairs } from "../../src/core/pipeline/stages/pairs.js";

// ---- the reference --------------------------------------------------------------------------------

interface ResponseRec {
  id: string;
  prompt_id: string;
  index: number;
  text: string;
}
interface JudgementRec {
  id: string;
  prompt_id: string;
  response_id: string;
  index: number;
  text: string;
  score: number | null;
}
interface BattleRec {
  id: string;
  prompt_id: string;
  response_id: string;
  first_id: string;
  second_id: string;
  text: string;
  winner: "first" | "second" | null;
}
interface Iteration {
  responses: ResponseRec[];
  judgements: JudgementRec[];
  battles: BattleRec[];
  flagged: Set<string>;
  rho: number;
  cap: number | null;
}

interface RefActor {
  prompt_id: string;
  chosen_id: string;
  rejected_id: string;
  chosen_score: number;
  rejected_score: number;
  chosen_length: number;
  rejected_length: number;
}
interface RefJudge {
  prompt_id: string;
  response_id: string;
  chosen_id: string;
  rejected_id: string;
  ranked: string[];
  chosen_length: number;
  rejected_length: number;
}

const EPS = 1e-9;
const PRIOR = 0.01;

/** Characters as the method counts them: Unicode code points. */
const chars = (s: string): number => [...s].length;

/** Records whose id was already seen are not records (the contract's resume rule), and flagged ones are excluded. */
function firstUnflagged<T extends { id: string }>(recs: T[], flagged: Set<string>): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const r of recs) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    if (!flagged.has(r.id)) out.push(r);
  }
  return out;
}

function mean(xs: number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

function variance(xs: number[]): number {
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return s / xs.length;
}

/** Bradley–Terry strengths by Newton's method with θ_0 pinned at 0 and step halving. */
function bt(B: number[][]): number[] {
  const k = B.length;
  const C = B.map((row, m) => row.map((x, n) => (m === n ? 0 : x + PRIOR)));
  const ll = (t: number[]): number => {
    let s = 0;
    for (let m = 0; m < k; m++) for (let n = 0; n < k; n++) if (m !== n) s += C[m]![n]! * -Math.log1p(Math.exp(t[n]! - t[m]!));
    return s;
  };
  let theta = new Array<number>(k).fill(0);
  for (let it = 0; it < 100; it++) {
    const g = new Array<number>(k).fill(0);
    const H = Array.from({ length: k }, () => new Array<number>(k).fill(0));
    for (let m = 0; m < k; m++) {
      for (let n = 0; n < k; n++) {
        if (m === n) continue;
        const p = 1 / (1 + Math.exp(theta[n]! - theta[m]!));
        g[m]! += C[m]![n]! * (1 - p) - C[n]![m]! * p;
        const w = (C[m]![n]! + C[n]![m]!) * p * (1 - p);
        H[m]![m]! += w;
        H[m]![n]! -= w;
      }
    }
    // Solve H'·d = g over players 1..k-1 (player 0 stays at 0).
    const size = k - 1;
    const A = Array.from({ length: size }, (_, r) => [...H[r + 1]!.slice(1), g[r + 1]!]);
    for (let c = 0; c < size; c++) {
      let piv = c;
      for (let r = c + 1; r < size; r++) if (Math.abs(A[r]![c]!) > Math.abs(A[piv]![c]!)) piv = r;
      [A[c], A[piv]] = [A[piv]!, A[c]!];
      for (let r = 0; r < size; r++) {
        if (r === c) continue;
        const f = A[r]![c]! / A[c]![c]!;
        for (let x = c; x <= size; x++) A[r]![x]! -= f * A[c]![x]!;
      }
    }
    const d = [0, ...A.map((row, r) => row[size]! / row[r]!)];
    if (Math.max(...d.map(Math.abs)) < 1e-13) break;
    const base = ll(theta);
    let t = 1;
    let next = theta.map((x, i) => x + t * d[i]!);
    while (ll(next) < base - 1e-12 && t > 1e-9) {
      t /= 2;
      next = theta.map((x, i) => x + t * d[i]!);
    }
    theta = next;
  }
  return theta;
}

function reference(it: Iteration): { actor: RefActor[]; judge: RefJudge[] } {
  const responses = firstUnflagged(it.responses, it.flagged);
  const judgements = firstUnflagged(it.judgements, it.flagged);
  const battles = firstUnflagged(it.battles, it.flagged);
  const judgementsOf = (rid: string): JudgementRec[] => judgements.filter((j) => j.response_id === rid);
  const validScores = (rid: string): number[] => judgementsOf(rid).flatMap((j) => (j.score === null ? [] : [j.score]));
  const prompts = [...new Set(responses.map((r) => r.prompt_id))].sort();

  // Step 3: actor pair with length control.
  const actor: RefActor[] = [];
  for (const p of prompts) {
    const scored = responses
      .filter((r) => r.prompt_id === p && validScores(r.id).length > 0)
      .map((r, order) => ({ r, order, S: mean(validScores(r.id)), len: chars(r.text) }));
    if (scored.length < 2) continue;
    const sMax = Math.max(...scored.map((c) => c.S));
    const sMin = Math.min(...scored.map((c) => c.S));
    if (sMax - sMin <= EPS) continue;
    const upper = (1 - it.rho) * sMax + it.rho * sMin;
    const lower = (1 - it.rho) * sMin + it.rho * sMax;
    const top = scored.filter((c) => c.S >= upper - EPS).sort((a, b) => a.len - b.len || a.r.index - b.r.index || a.order - b.order);
    const bottom = scored.filter((c) => c.S <= lower + EPS).sort((a, b) => b.len - a.len || a.r.index - b.r.index || a.order - b.order);
    const chosen = top[0]!;
    const rejected = bottom[0]!;
    if (chosen.r.id === rejected.r.id || chosen.S <= rejected.S + EPS) continue;
    actor.push({
      prompt_id: p,
      chosen_id: chosen.r.id,
      rejected_id: rejected.r.id,
      chosen_score: chosen.S,
      rejected_score: rejected.S,
      chosen_length: chosen.len,
      rejected_length: rejected.len,
    });
  }

  // Steps 4–5: one judge pair per prompt, from its battled response whose valid scores vary most.
  const judge: RefJudge[] = [];
  for (const p of prompts) {
    const battled = responses
      .map((r, order) => ({ r, order }))
      .filter(({ r }) => r.prompt_id === p && battles.some((b) => b.response_id === r.id))
      .filter(({ r }) => validScores(r.id).length >= 2)
      .map((c) => ({ ...c, v: variance(validScores(c.r.id)) }))
      .filter((c) => c.v > 1e-12);
    if (battled.length === 0) continue;
    const vMax = Math.max(...battled.map((c) => c.v));
    const pick = battled.filter((c) => c.v >= vMax - 1e-12).sort((a, b) => a.r.index - b.r.index || a.order - b.order)[0]!.r;

    const valid = judgementsOf(pick.id).filter((j) => j.score !== null);
    const validIds = new Set(valid.map((j) => j.id));
    const counted = battles.filter(
      (b) => b.response_id === pick.id && validIds.has(b.first_id) && validIds.has(b.second_id) && b.first_id !== b.second_id,
    );
    const fought = valid
      .map((j) => j.id)
      .filter((id, i, all) => all.indexOf(id) === i && counted.some((b) => b.first_id === id || b.second_id === id));
    const win1 = counted.filter((b) => b.winner === "first").length;
    const win2 = counted.filter((b) => b.winner === "second").length;
    if (fought.length < 2 || win1 + win2 === 0) continue;
    const w1 = win2 / (win1 + win2);
    const w2 = win1 / (win1 + win2);
    const B = fought.map((m) =>
      fought.map((n) => {
        if (m === n) return 0;
        let x = 0;
        for (const b of counted) {
          if (b.first_id === m && b.second_id === n && b.winner === "first") x += w1;
          if (b.second_id === m && b.first_id === n && b.winner === "second") x += w2;
        }
        return x;
      }),
    );
    const theta = bt(B);
    const hi = Math.max(...theta);
    const lo = Math.min(...theta);
    const tol = 1e-7;
    const tops = fought.filter((_, i) => hi - theta[i]! <= tol);
    const bottoms = fought.filter((_, i) => theta[i]! - lo <= tol);
    if (tops.length !== 1 || bottoms.length !== 1) continue;
    const lengthOf = (id: string): number => chars(valid.find((j) => j.id === id)!.text);
    if (it.cap !== null && lengthOf(tops[0]!) > it.cap) continue;
    judge.push({
      prompt_id: p,
      response_id: pick.id,
      chosen_id: tops[0]!,
      rejected_id: bottoms[0]!,
      ranked: [...fought].sort(),
      chosen_length: lengthOf(tops[0]!),
      rejected_length: lengthOf(bottoms[0]!),
    });
  }
  return { actor, judge };
}

// ---- random iterations ----------------------------------------------------------------------------

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(seed: number): Iteration {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const chance = (p: number): boolean => rnd() < p;
  // Few distinct lengths and scores, so ties in length, score and variance are common.
  const text = (): string => {
    const n = pick([3, 5, 5, 8, 12, 40, 70]);
    return chance(0.2) ? "é😀".repeat(Math.ceil(n / 2)).slice(0, n) : "x".repeat(n);
  };
  const score = (): number | null => (chance(0.15) ? null : pick([1, 2, 3, 3, 4, 4.5, 5]));
  const it: Iteration = {
    responses: [],
    judgements: [],
    battles: [],
    flagged: new Set(),
    rho: pick([0, 0, 0.25, 0.4, 0.5, 0.75, 1]),
    cap: chance(0.3) ? 30 : null,
  };
  const pipelineIds = chance(0.6);

  for (let p = 0; p < 1 + int(4); p++) {
    const promptId = pipelineIds ? `p${p}` : pick(["", "q:"]) + `prompt ${p} é`;
    const k = 1 + int(4);
    for (let r = 0; r < k; r++) {
      const rid = pipelineIds || chance(0.5) ? `${promptId}:r${r}` : `resp-${p}-${r}`;
      const response: ResponseRec = { id: rid, prompt_id: promptId, index: chance(0.1) ? 0 : r, text: text() };
      it.responses.push(response);
      if (chance(0.05)) it.responses.push({ ...response, index: 9, text: text() });
      if (chance(0.05)) it.flagged.add(rid);

      const jids: string[] = [];
      for (let j = 0; j < int(6); j++) {
        // Hand-written ids, some in another response's pipeline form, next to pipeline ones.
        const jid = chance(0.8) ? `${rid}:j${j}` : chance(0.5) ? `J${p}.${r}.${j}` : `${promptId}:r${(r + 1) % k}:j${j}`;
        const rec: JudgementRec = { id: jid, prompt_id: promptId, response_id: rid, index: j, text: text(), score: score() };
        it.judgements.push(rec);
        jids.push(jid);
        if (chance(0.05)) it.judgements.push({ ...rec, score: score(), text: text() });
        if (chance(0.08)) it.flagged.add(jid);
      }
      // Battles for some responses, so several of a prompt may be battled; the pipeline battles only
      // valid judgements, but imported data may name any, or none known.
      if (jids.length >= 2 && chance(0.5)) {
        const named = chance(0.1) ? [...jids, `${rid}:j99`, "ghost"] : jids;
        for (let a = 0; a < named.length; a++) {
          for (let b = 0; b < named.length; b++) {
            if ((a === b && !chance(0.02)) || chance(0.1)) continue;
            const mid = chance(0.85) ? `${rid}:m${a}-${b}` : `battle ${p}/${r}/${a}/${b}`;
            const winner = chance(0.1) ? null : chance(0.55) ? "first" : "second";
            const rec: BattleRec = {
              id: mid,
              prompt_id: promptId,
              response_id: rid,
              first_id: named[a]!,
              second_id: named[b]!,
              text: "w",
              winner,
            };
            it.battles.push(rec);
            if (chance(0.03)) it.battles.push({ ...rec, winner: rec.winner === "first" ? "second" : "first" });
            if (chance(0.03)) it.flagged.add(mid);
          }
        }
      }
    }
  }
  // Records arrive in completion order, not prompt by prompt.
  for (const list of [it.responses, it.judgements, it.battles] as { id: string }[][]) {
    for (let i = list.length - 1; i > 0; i--) {
      if (!chance(0.3)) continue;
      const j = int(i + 1);
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
  }
  return it;
}

const jsonl = (recs: readonly unknown[]): string => recs.map((r) => JSON.stringify(r) + "\n").join("");

function writeIteration(dir: string, it: Iteration): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "responses.jsonl"), jsonl(it.responses));
  fs.writeFileSync(path.join(dir, "judgements.jsonl"), jsonl(it.judgements));
  fs.writeFileSync(path.join(dir, "meta_judgements.jsonl"), jsonl(it.battles));
  // A flag that was later cleared must not count; the latest label wins.
  const events = [...it.flagged].flatMap((id) => [
    { target_id: id, label: "cleared", note: "", created_at: "2026-01-01T00:00:00Z" },
    { target_id: id, label: "suspicious", note: "", created_at: "2026-01-02T00:00:00Z" },
  ]);
  events.push({ target_id: it.judgements[0]?.id ?? "none", label: "suspicious", note: "", created_at: "2026-01-03T00:00:00Z" });
  events.push({ target_id: it.judgements[0]?.id ?? "none", label: "cleared", note: "", created_at: "2026-01-04T00:00:00Z" });
  if (it.judgements[0] !== undefined && it.flagged.has(it.judgements[0].id)) it.flagged.delete(it.judgements[0].id);
  fs.writeFileSync(path.join(dir, "annotations.jsonl"), jsonl(events));
}

const ITERATIONS = 300;

test(`computePairs equals a plain reference implementation of the method on ${ITERATIONS} random iterations`, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mj-pairs-ref-"));
  const failures: string[] = [];
  let actorPairs = 0;
  let judgePairs = 0;
  let multiBattled = 0;
  try {
    for (let seed = 1; seed <= ITERATIONS; seed++) {
      const it = generate(seed);
      const dir = path.join(root, "iteration");
      writeIteration(dir, it);
      const want = reference(it);
      const got = await computePairs(dir, { rho: it.rho, judgement_length_cap: it.cap });
      actorPairs += want.actor.length;
      judgePairs += want.judge.length;
      const battledPerPrompt = new Map<string, Set<string>>();
      for (const b of it.battles) battledPerPrompt.set(b.prompt_id, (battledPerPrompt.get(b.prompt_id) ?? new Set()).add(b.response_id));
      if ([...battledPerPrompt.values()].some((s) => s.size > 1)) multiBattled++;

      const actorGot = got.actor.map((a) => ({
        prompt_id: a.prompt_id,
        chosen_id: a.chosen_id,
        rejected_id: a.rejected_id,
        chosen_length: a.chosen_length,
        rejected_length: a.rejected_length,
      }));
      const actorWant = want.actor.map((a) => ({
        prompt_id: a.prompt_id,
        chosen_id: a.chosen_id,
        rejected_id: a.rejected_id,
        chosen_length: a.chosen_length,
        rejected_length: a.rejected_length,
      }));
      try {
        assert.deepEqual(actorGot, actorWant);
        for (let i = 0; i < want.actor.length; i++) {
          assert.ok(Math.abs(got.actor[i]!.chosen_score - want.actor[i]!.chosen_score) < 1e-9, "chosen_score");
          assert.ok(Math.abs(got.actor[i]!.rejected_score - want.actor[i]!.rejected_score) < 1e-9, "rejected_score");
        }
      } catch (err) {
        failures.push(`seed ${seed} actor: ${(err as Error).message.split("\n").slice(0, 12).join(" ")}`);
      }
      const judgeGot = got.judge.map((j) => ({
        prompt_id: j.prompt_id,
        response_id: j.response_id,
        chosen_id: j.chosen_id,
        rejected_id: j.rejected_id,
        ranked: Object.keys(j.elo).sort(),
        chosen_length: j.chosen_length,
        rejected_length: j.rejected_length,
      }));
      try {
        assert.deepEqual(judgeGot, want.judge);
      } catch (err) {
        failures.push(`seed ${seed} judge: ${(err as Error).message.split("\n").slice(0, 12).join(" ")}`);
      }
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  // The generator must reach the cases it exists for, or agreement proves little.
  assert.ok(actorPairs > ITERATIONS / 2, `only ${actorPairs} actor pairs generated`);
  assert.ok(judgePairs > ITERATIONS / 4, `only ${judgePairs} judge pairs generated`);
  assert.ok(multiBattled > ITERATIONS / 4, `only ${multiBattled} iterations with a prompt battled twice`);
  assert.deepEqual(failures.slice(0, 8), [], `${failures.length} of ${ITERATIONS} iterations disagree`);
});
