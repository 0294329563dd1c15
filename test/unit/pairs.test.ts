// `metajudge pairs` on small hand-made iterations: which response of a prompt gives the judge pair,
// which battles count, and how broken lines are reported. The random comparison with a reference
// implementation lives in pairs-reference.test.ts.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { computePairs } from "../../src/core/pipeline/stages/pairs.js";

type Rec = Record<string, unknown>;

const made: string[] = [];
after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

function iteration(files: { responses?: Rec[]; judgements?: Rec[]; battles?: Rec[]; raw?: Record<string, string> }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mj-pairs-"));
  made.push(dir);
  const jsonl = (recs: Rec[] = []): string => recs.map((r) => JSON.stringify(r) + "\n").join("");
  fs.writeFileSync(path.join(dir, "responses.jsonl"), jsonl(files.responses));
  fs.writeFileSync(path.join(dir, "judgements.jsonl"), jsonl(files.judgements));
  fs.writeFileSync(path.join(dir, "meta_judgements.jsonl"), jsonl(files.battles));
  for (const [name, text] of Object.entries(files.raw ?? {})) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

const response = (id: string, index: number, prompt = "p"): Rec => ({ id, prompt_id: prompt, index, text: "r".repeat(10 + index) });
const judgement = (rid: string, n: number, score: number | null, prompt = "p"): Rec => ({
  id: `${rid}:j${n}`,
  prompt_id: prompt,
  response_id: rid,
  index: n,
  text: "j".repeat(20 + n),
  score,
});
const battle = (rid: string, a: number, b: number, winner: "first" | "second" | null, prompt = "p"): Rec => ({
  id: `${rid}:m${a}-${b}`,
  prompt_id: prompt,
  response_id: rid,
  first_id: `${rid}:j${a}`,
  second_id: `${rid}:j${b}`,
  text: "w",
  winner,
});

/** Both orders of every pair among `ns`, the lower number always winning. */
function roundRobin(rid: string, ns: number[]): Rec[] {
  const out: Rec[] = [];
  for (const a of ns) for (const b of ns) if (a !== b) out.push(battle(rid, a, b, a < b ? "first" : "second"));
  return out;
}

test("a prompt with two battled responses gives one judge pair, from the one whose scores vary most", async () => {
  // p:r0 scores 3, 4 (variance 0.25); p:r1 scores 1, 5, 3 (variance 2.67): r1 holds the pair.
  const dir = iteration({
    responses: [response("p:r0", 0), response("p:r1", 1)],
    judgements: [
      judgement("p:r0", 0, 3),
      judgement("p:r0", 1, 4),
      judgement("p:r1", 0, 1),
      judgement("p:r1", 1, 5),
      judgement("p:r1", 2, 3),
    ],
    battles: [...roundRobin("p:r0", [0, 1]), ...roundRobin("p:r1", [0, 1, 2])],
  });
  const res = await computePairs(dir, { rho: 0, judgement_length_cap: null });
  assert.deepEqual(
    res.judge.map((p) => [p.prompt_id, p.response_id, p.chosen_id, p.rejected_id]),
    [["p", "p:r1", "p:r1:j0", "p:r1:j2"]],
  );
});

test("equal variances give the judge pair to the lowest index, and flagged scores do not vary", async () => {
  // Both battled responses score 2 and 4; r0 comes later in the file but has the lower index.
  const dir = iteration({
    responses: [response("p:r1", 1), response("p:r0", 0)],
    judgements: [
      judgement("p:r1", 0, 2),
      judgement("p:r1", 1, 4),
      judgement("p:r0", 0, 2),
      judgement("p:r0", 1, 4),
      judgement("p:r0", 2, 0),
    ],
    battles: [...roundRobin("p:r1", [0, 1]), ...roundRobin("p:r0", [0, 1, 2])],
    // With its 0 flagged, r0's remaining scores vary exactly as r1's.
    raw: {
      "annotations.jsonl":
        JSON.stringify({ target_id: "p:r0:j2", label: "suspicious", note: "", created_at: "2026-01-01T00:00:00Z" }) + "\n",
    },
  });
  const res = await computePairs(dir, { rho: 0, judgement_length_cap: null });
  assert.deepEqual(
    res.judge.map((p) => [p.response_id, Object.keys(p.elo).sort()]),
    [["p:r0", ["p:r0:j0", "p:r0:j1"]]],
  );
});

test("a battle naming a judgement without a score does not count, nor change the position weights", async () => {
  const valid = [judgement("p:r0", 0, 5), judgement("p:r0", 1, 1), judgement("p:r0", 2, 3)];
  const fair = [
    battle("p:r0", 0, 1, "first"),
    battle("p:r0", 1, 0, "second"),
    battle("p:r0", 1, 2, "second"),
    battle("p:r0", 2, 1, "first"),
    battle("p:r0", 0, 2, "first"),
    battle("p:r0", 2, 0, "second"),
  ];
  // j3 has no score; its battles, all won by the judgement shown second, would shift w1/w2 and rank j3.
  const unscored = [
    battle("p:r0", 3, 0, "second"),
    battle("p:r0", 0, 3, "second"),
    battle("p:r0", 3, 1, "second"),
    battle("p:r0", 1, 3, "second"),
  ];
  const without = await computePairs(iteration({ responses: [response("p:r0", 0)], judgements: valid, battles: fair }), {
    rho: 0,
    judgement_length_cap: null,
  });
  const withUnscored = await computePairs(
    iteration({ responses: [response("p:r0", 0)], judgements: [...valid, judgement("p:r0", 3, null)], battles: [...fair, ...unscored] }),
    { rho: 0, judgement_length_cap: null },
  );
  assert.equal(without.judge.length, 1);
  assert.deepEqual(withUnscored.judge, without.judge);
});

test("broken lines are named by file and line; a cut-short last line, CRLF and escaped ids are read", async () => {
  const good = { responses: [response("p:r0", 0), response("p:r1", 1)], judgements: [judgement("p:r0", 0, 5), judgement("p:r1", 0, 1)] };
  let dir = iteration({
    ...good,
    raw: { "judgements.jsonl": `${JSON.stringify(judgement("p:r0", 0, 5))}\n{"id": "x"\n${JSON.stringify(judgement("p:r1", 0, 1))}\n` },
  });
  await assert.rejects(computePairs(dir, { rho: 0, judgement_length_cap: null }), (err: Error) =>
    err.message.startsWith(`${path.join(dir, "judgements.jsonl")}:2: not valid JSON`),
  );

  dir = iteration({
    ...good,
    raw: {
      "judgements.jsonl": `${JSON.stringify(judgement("p:r0", 0, 5))}\n${JSON.stringify({ ...judgement("p:r1", 0, 1), score: "1" })}\n`,
    },
  });
  await assert.rejects(computePairs(dir, { rho: 0, judgement_length_cap: null }), (err: Error) =>
    err.message.startsWith(`${path.join(dir, "judgements.jsonl")}:2: "score" must be a number or null`),
  );

  dir = iteration({ ...good, raw: { "meta_judgements.jsonl": `${JSON.stringify({ ...battle("p:r0", 0, 1, "first"), winner: "A" })}\n` } });
  await assert.rejects(computePairs(dir, { rho: 0, judgement_length_cap: null }), (err: Error) =>
    err.message.startsWith(`${path.join(dir, "meta_judgements.jsonl")}:1: "winner" must be`),
  );

  dir = iteration({ ...good, raw: { "responses.jsonl": `${JSON.stringify(response("p:r0", 0))}\n[1]\n` } });
  await assert.rejects(computePairs(dir, { rho: 0, judgement_length_cap: null }), (err: Error) =>
    err.message.startsWith(`${path.join(dir, "responses.jsonl")}:2: not a JSON object`),
  );

  // The same records with CRLF line ends, an id spelled with a JSON escape, and a torn last line.
  const escaped = JSON.stringify(judgement("p:r1", 0, 1))
    .replace('"p:r1:j0"', '"p:r\\u00311:j0"')
    .replace('"response_id":"p:r1"', '"response_id":"p:\\u00721"');
  dir = iteration({
    ...good,
    raw: { "judgements.jsonl": `${JSON.stringify(judgement("p:r0", 0, 5))}\r\n${escaped}\r\n{"id": "p:r1:j9", "sco` },
  });
  const res = await computePairs(dir, { rho: 0, judgement_length_cap: null });
  assert.deepEqual(
    res.actor.map((p) => [p.chosen_id, p.rejected_id, p.chosen_score, p.rejected_score]),
    [["p:r0", "p:r1", 5, 1]],
  );
});
