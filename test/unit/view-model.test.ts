// The workbench's read side on a small hand-made iteration whose every number is worked out below:
// prompt pages and sorts, response and judgement rows, Elo and pairs equal to what `metajudge pairs`
// writes, the inspector, annotations, per-line hints, appends and the saved index.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { defaultConfig } from "../../src/core/experiment.js";
import { battleId, judgementId, responseId } from "../../src/core/pipeline/ids.js";
import { computePairs, writePairs } from "../../src/core/pipeline/stages/pairs.js";
import { appendAnnotation } from "../../src/core/store/annotations.js";
import { inconsistentPairs } from "../../src/core/view/inspector.js";
import { IterationModel } from "../../src/core/view/model.js";
import type { AnnotationLabel } from "../../src/core/view/types.js";

const RHO = 0.4;
const line = (r: unknown): string => JSON.stringify(r) + "\n";

// Responses by prompt: [text length, judgement scores]. p1 is the length-control case worked by hand:
// means r0 5, r1 3, r2 2, r3 4; S_max 5, S_min 2, rho 0.4 → upper 0.6·5 + 0.4·2 = 3.8, lower
// 0.6·2 + 0.4·5 = 3.2. Chosen: the SHORTEST with S ≥ 3.8 among r0 (30 chars) and r3 (10) → r3, not
// the best. Rejected: the LONGEST with S ≤ 3.2 among r1 (50) and r2 (20) → r1, not the worst.
// r1 (scores 1, 3, 5) has the largest variance, so its judgements are the ones battled.
const RESPONSES: Record<string, [number, (number | null)[]][]> = {
  p1: [
    [30, [5, 5, 5]],
    [50, [1, 3, 5]],
    [20, [2, 2, 2]],
    [10, [4, 4, 4]],
  ],
  p2: [
    [15, [3, null, 4]],
    [15, [null, 2, 2]],
  ],
  p10: [[12, [4, 4]]],
};
// Battles of p1:r1 as [first index, second index, winner]. j0 and j1 each won when shown first:
// the two orders contradict each other, so {j0, j1} is order-inconsistent. j0 beat j2 in both orders
// (consistent); j1 v j2 was decided once and the other order gave no verdict.
const BATTLES: [number, number, "first" | "second" | null][] = [
  [0, 1, "first"],
  [1, 0, "first"],
  [0, 2, "first"],
  [2, 0, "second"],
  [1, 2, "second"],
  [2, 1, null],
];

function judgementText(id: string, score: number | null): string {
  return score === null ? `Reasoning about ${id} without a verdict.` : `Reasoning about ${id}.\nScore: ${score}`;
}

/** The experiment on disk; returns its folder and the iteration folder. */
function build(): { dir: string; iter: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mj-view-"));
  const config = defaultConfig();
  config.iterations[0]!.rho = RHO;
  fs.writeFileSync(path.join(dir, "metajudge.json"), JSON.stringify(config, null, 2));
  // File order differs from id order on purpose.
  fs.writeFileSync(
    path.join(dir, "prompts.jsonl"),
    ["p2", "p10", "p1", "p3"].map((id) => line({ id, prompt: `Question ${id}?\nPlease answer.` })).join(""),
  );
  const iter = path.join(dir, "iterations", "1");
  fs.mkdirSync(iter, { recursive: true });
  let responses = "";
  let judgements = "";
  for (const [pid, list] of Object.entries(RESPONSES)) {
    list.forEach(([length, scores], i) => {
      const rid = responseId(pid, i);
      responses += line({ id: rid, prompt_id: pid, index: i, text: "x".repeat(length - 1) + "é", finish_reason: "stop" });
      scores.forEach((score, k) => {
        const jid = judgementId(rid, k);
        const rec: Record<string, unknown> = {
          id: jid,
          prompt_id: pid,
          response_id: rid,
          index: k,
          text: judgementText(jid, score),
          score,
        };
        if (score === null) rec.parse_error = "no 'Score: <number>' found";
        judgements += line(rec);
      });
    });
  }
  let meta = "";
  for (const [f, s, winner] of BATTLES) {
    const rec: Record<string, unknown> = {
      id: battleId("p1:r1", f, s),
      prompt_id: "p1",
      response_id: "p1:r1",
      first_id: judgementId("p1:r1", f),
      second_id: judgementId("p1:r1", s),
      text: winner === null ? "Both have merit." : `Comparing the two.\nWinner: Judgement ${winner === "first" ? "A" : "B"}`,
      winner,
    };
    if (winner === null) rec.parse_error = "no 'Winner: Judgement A|B' found";
    meta += line(rec);
  }
  fs.writeFileSync(path.join(iter, "responses.jsonl"), responses);
  fs.writeFileSync(path.join(iter, "judgements.jsonl"), judgements);
  fs.writeFileSync(path.join(iter, "meta_judgements.jsonl"), meta);
  const at = "2026-01-01T00:00:00.000Z";
  const stage = (state: string, counts: Record<string, number>) => ({ state, counts });
  fs.writeFileSync(
    path.join(iter, "manifest.json"),
    JSON.stringify({
      format: 1,
      iteration: 1,
      created_at: at,
      updated_at: at,
      metajudge_version: "test",
      config: {},
      settings: {},
      models: { actor: "m", judge: "m", meta_judge: "m" },
      templates: {},
      prompts: { path: "prompts.jsonl", sha256: "0", count: 4 },
      stages: {
        generate: stage("done", { records: 7, expected: 7 }),
        judge: stage("running", { records: 20, expected: 99 }),
        metajudge: stage("pending", {}),
        pairs: stage("pending", {}),
        export: stage("pending", {}),
      },
      usage: { prompt_tokens: 1, completion_tokens: 2, requests: 3 },
    }),
  );
  return { dir, iter };
}

function annotate(iter: string, target: string, label: AnnotationLabel, note = ""): void {
  appendAnnotation(path.join(iter, "annotations.jsonl"), { target_id: target, label, note, created_at: new Date().toISOString() });
}

/** What `metajudge pairs` computes and writes for the iteration now on disk. */
async function pairs(iter: string) {
  const res = await computePairs(iter, { rho: RHO, judgement_length_cap: null });
  writePairs(iter, res);
  return res;
}

const close = (a: number | null | undefined, b: number, what: string): void =>
  assert.ok(a !== null && a !== undefined && Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

test("summary: stages from the manifest, done counts from the records, prompts and flags", async () => {
  const { dir, iter } = build();
  annotate(iter, "p2:r0:j0", "suspicious");
  const m = await IterationModel.open(dir, 1);
  const s = m.summary();
  assert.equal(s.iteration, 1);
  assert.equal(s.prompts, 4);
  assert.equal(s.flagged, 1);
  assert.deepEqual(s.models, { actor: "m", judge: "m", meta_judge: "m" });
  assert.deepEqual(
    s.stages.map((x) => [x.stage, x.state, x.done, x.total]),
    [
      ["generate", "done", 7, 7],
      ["judge", "running", 20, 99],
      ["metajudge", "pending", 6, null],
      ["pairs", "pending", 0, null],
      ["export", "pending", 0, null],
    ],
  );
  m.dispose();
});

test("prompt pages in every sort order, with spreads, parse failures and flags", async () => {
  const { dir, iter } = build();
  annotate(iter, "p2:r0:j0", "suspicious");
  const m = await IterationModel.open(dir, 1);
  const ids = (sort: "id" | "spread" | "parse_failures" | "flags", flaggedOnly = false) =>
    m.prompts({ offset: 0, limit: 10, sort, flaggedOnly }).rows.map((r) => r.id);
  assert.deepEqual(ids("id"), ["p1", "p2", "p3", "p10"]);
  // p1 spread 5 − 2 = 3; p2: r0's flagged 3 is left out, so 4 − 2 = 2; p3 and p10 have none.
  assert.deepEqual(ids("spread"), ["p1", "p2", "p3", "p10"]);
  // p2: two unscored judgements; p1: one battle without a verdict.
  assert.deepEqual(ids("parse_failures"), ["p2", "p1", "p3", "p10"]);
  assert.deepEqual(ids("flags"), ["p2", "p1", "p3", "p10"]);
  assert.deepEqual(ids("id", true), ["p2"]);
  const page = m.prompts({ offset: 1, limit: 2, sort: "id" });
  assert.equal(page.total, 4);
  assert.deepEqual(page.rows, [
    {
      id: "p2",
      preview: "Question p2? Please answer.",
      responses: 2,
      judgements: 6,
      parseFailures: 2,
      spread: 2,
      flags: 1,
      hasActorPair: false,
      hasJudgePair: false,
    },
    {
      id: "p3",
      preview: "Question p3? Please answer.",
      responses: 0,
      judgements: 0,
      parseFailures: 0,
      spread: null,
      flags: 0,
      hasActorPair: false,
      hasJudgePair: false,
    },
  ]);
  const p1 = m.prompts({ offset: 0, limit: 1, sort: "spread" }).rows[0]!;
  assert.deepEqual([p1.responses, p1.judgements, p1.parseFailures, p1.spread], [4, 12, 1, 3]);
  m.dispose();
});

test("response and judgement rows: means, variance, Elo and pair roles equal to what `metajudge pairs` writes", async () => {
  const { dir, iter } = build();
  const written = await pairs(iter);
  const m = await IterationModel.open(dir, 1);
  const rs = m.responses("p1");
  assert.deepEqual(
    rs.map((r) => [r.id, r.meanScore, r.judgements, r.validJudgements, r.length, r.battled, r.pairRole]),
    [
      ["p1:r0", 5, 3, 3, 30, false, undefined],
      ["p1:r1", 3, 3, 3, 50, true, "rejected"],
      ["p1:r2", 2, 3, 3, 20, false, undefined],
      ["p1:r3", 4, 3, 3, 10, false, "chosen"],
    ],
  );
  close(rs[1]!.variance, 8 / 3, "variance of 1, 3, 5");
  assert.equal(rs[0]!.variance, 0);
  const p2 = m.responses("p2");
  assert.deepEqual(
    p2.map((r) => [r.meanScore, r.validJudgements]),
    [
      [3.5, 2],
      [2, 2],
    ],
  );

  const js = m.judgements("p1:r1");
  const judgePair = written.judge.find((p) => p.response_id === "p1:r1")!;
  assert.deepEqual(Object.fromEntries(js.map((j) => [j.id, j.elo])), judgePair.elo);
  assert.deepEqual(
    js
      .filter((j) => j.pairRole)
      .map((j) => [j.id, j.pairRole])
      .sort(),
    [
      [judgePair.chosen_id, "chosen"],
      [judgePair.rejected_id, "rejected"],
    ].sort(),
  );
  assert.deepEqual(
    js.map((j) => [j.index, j.score, j.length]),
    [0, 1, 2].map((k) => [k, [1, 3, 5][k], [...judgementText(`p1:r1:j${k}`, [1, 3, 5][k]!)].length]),
  );
  assert.equal(m.judgements("p2:r0")[1]!.parseError, "no 'Score: <number>' found");
  assert.equal(m.judgements("p2:r0")[1]!.score, null);
  assert.equal(m.judgements("p2:r0")[0]!.elo, undefined);
  assert.deepEqual(
    m.battles("p1:r1").map((b) => [b.id, b.winner]),
    [
      ["p1:r1:m0-1", "first"],
      ["p1:r1:m0-2", "first"],
      ["p1:r1:m1-0", "first"],
      ["p1:r1:m1-2", "second"],
      ["p1:r1:m2-0", "second"],
      ["p1:r1:m2-1", null],
    ],
  );
  assert.deepEqual(m.prompts({ offset: 0, limit: 1, sort: "id" }).rows[0]!.hasActorPair, true);
  assert.deepEqual(m.prompts({ offset: 0, limit: 1, sort: "id" }).rows[0]!.hasJudgePair, true);
  m.dispose();
});

test("inspector: texts, score spans, the battle matrix, contradicting orders and the actor pair's tiers", async () => {
  const { dir, iter } = build();
  annotate(iter, "p1:r1:j2", "confirmed", "checked by hand");
  const written = await pairs(iter);
  const m = await IterationModel.open(dir, 1);
  const d = await m.inspector("p1");
  assert.deepEqual(d.prompt, { id: "p1", text: "Question p1?\nPlease answer." });
  assert.equal(d.experimentDir, path.resolve(dir));
  assert.equal(d.judgeMode, "text");
  assert.deepEqual(
    d.responses.map((r) => [r.id, r.text.length, r.scores]),
    [
      ["p1:r0", 30, [5, 5, 5]],
      ["p1:r1", 50, [1, 3, 5]],
      ["p1:r2", 20, [2, 2, 2]],
      ["p1:r3", 10, [4, 4, 4]],
    ],
  );
  for (const r of d.responses) {
    for (const j of r.judgementList) {
      assert.equal(j.text, judgementText(j.id, j.score));
      assert.equal(j.text.slice(...j.scoreSpan!), `Score: ${j.score}`);
    }
  }
  const j2 = d.responses[1]!.judgementList[2]!;
  assert.deepEqual([j2.flag, j2.note], ["confirmed", "checked by hand"]);

  const b = d.battles!;
  assert.equal(b.responseId, "p1:r1");
  assert.deepEqual(b.judgementIds, ["p1:r1:j0", "p1:r1:j1", "p1:r1:j2"]);
  assert.deepEqual(b.inconsistent, [["p1:r1:j0", "p1:r1:j1"]]);
  assert.equal(b.battles.length, 6);
  for (const x of b.battles) {
    if (x.winner === null) assert.equal(x.winnerSpan, undefined);
    else assert.equal(x.text.slice(...x.winnerSpan!), `Winner: Judgement ${x.winner === "first" ? "A" : "B"}`);
  }
  // 5 decisive battles: 3 won by the first shown, 2 by the second.
  assert.deepEqual(b.stats, { win_1st: 3, win_2nd: 2, w1: 0.4, w2: 0.6, decisive: 5, battles: 6 });
  const judgePair = written.judge.find((p) => p.response_id === "p1:r1")!;
  assert.deepEqual(b.elo, judgePair.elo);
  assert.deepEqual(b.pair, { chosenId: judgePair.chosen_id, rejectedId: judgePair.rejected_id });
  // j0 won all four of its decided battles, so it must come out on top.
  assert.equal(b.pair?.chosenId, "p1:r1:j0");

  const a = d.actorPair;
  assert.deepEqual([a.chosenId, a.rejectedId, a.rho, a.sMax, a.sMin, a.skip], ["p1:r3", "p1:r1", RHO, 5, 2, undefined]);
  close(a.upper, 3.8, "upper tier bound");
  close(a.lower, 3.2, "lower tier bound");

  // A prompt with one scored response: no pair, but the reason and the tiers are there.
  const p10 = (await m.inspector("p10")).actorPair;
  assert.deepEqual([p10.chosenId, p10.skip, p10.sMax, p10.upper], [null, "too-few-scored", 4, 4]);
  assert.equal((await m.inspector("p10")).battles, null);
  await assert.rejects(m.inspector("nope"));
  m.dispose();
});

test("contradicting orders on a hand-made battle set", () => {
  const B = (firstId: string, secondId: string, winner: "first" | "second" | null) => ({ firstId, secondId, winner });
  const order = (id: string): number => Number(id.slice(1));
  const got = inconsistentPairs(
    [
      B("a0", "a1", "first"),
      B("a1", "a0", "first"), // each order won by the one shown first: contradiction
      B("a0", "a2", "second"),
      B("a2", "a0", "second"), // each won by the second shown: contradiction
      B("a1", "a2", "first"),
      B("a2", "a1", "second"), // a1 won both times: consistent
      B("a0", "a3", "first"),
      B("a3", "a0", null), // one order undecided: nothing to contradict
      B("a3", "a2", "first"), // one order missing
      B("a1", "a3", "first"),
      B("a1", "a3", "second"),
      B("a3", "a1", "first"), // the first battle of an order counts
    ],
    order,
  );
  assert.deepEqual(got, [
    ["a0", "a1"],
    ["a0", "a2"],
    ["a1", "a3"],
  ]);
});

test("annotations: a flagged judgement leaves the Elo and the pairs, the latest event per target wins", async () => {
  const { dir, iter } = build();
  const m = await IterationModel.open(dir, 1);
  annotate(iter, "p1:r1:j1", "suspicious");
  annotate(iter, "p1:r1:j2", "suspicious");
  annotate(iter, "p1:r1:j2", "cleared", "false alarm");
  annotate(iter, "p1:r3", "suspicious");
  assert.deepEqual(await m.refresh(), { changed: true });
  const written = await pairs(iter);
  await m.refresh();

  const js = m.judgements("p1:r1");
  // Left: j0 and j2, and j0 beat j2 in both orders.
  assert.deepEqual(
    js.map((j) => j.flag),
    [undefined, "suspicious", "cleared"],
  );
  assert.equal(js[1]!.elo, undefined);
  assert.ok(js[0]!.elo! > js[2]!.elo!);
  assert.deepEqual(
    Object.fromEntries(js.filter((j) => j.elo !== undefined).map((j) => [j.id, j.elo])),
    written.judge.find((p) => p.response_id === "p1:r1")!.elo,
  );
  // With r3 flagged the chosen response is the only other one in the top tier: r0.
  assert.deepEqual((await m.inspector("p1")).actorPair.chosenId, "p1:r0");
  assert.equal(written.actor.find((p) => p.prompt_id === "p1")!.chosen_id, "p1:r0");
  assert.deepEqual(m.responses("p1")[3]!.flag, "suspicious");
  // The rewritten pair file was picked up by the refresh.
  assert.deepEqual(
    m.responses("p1").map((r) => r.pairRole),
    ["chosen", "rejected", undefined, undefined],
  );
  assert.deepEqual(m.flagged(), [
    { id: "p1:r3", kind: "response", promptId: "p1" },
    { id: "p1:r1:j1", kind: "judgement", promptId: "p1" },
  ]);
  assert.equal(m.annotation("p1:r1:j2")?.note, "false alarm");
  assert.equal(m.summary().flagged, 2);
  m.dispose();
});

test("per-line hints, the record under a line, locating and reading a record", async () => {
  const { dir, iter } = build();
  const m = await IterationModel.open(dir, 1);
  const judgementsFile = path.join(iter, "judgements.jsonl");
  const elo = Object.fromEntries(m.judgements("p1:r1").map((j) => [j.id, j.elo]));
  // Lines 4-6 hold p1:r1's judgements (p1:r0's three come first).
  assert.deepEqual(
    m.lineInfo(judgementsFile, 4, 6),
    [1, 3, 5].map((score, k) => ({ line: 4 + k, id: `p1:r1:j${k}`, kind: "judgement", score, elo: elo[`p1:r1:j${k}`] })),
  );
  assert.deepEqual(m.lineInfo(judgementsFile, 14, 14), [
    { line: 14, id: "p2:r0:j1", kind: "judgement", score: null, parseError: "no 'Score: <number>' found" },
  ]);
  assert.deepEqual(m.lineInfo(path.join(iter, "responses.jsonl"), 2, 2), [{ line: 2, id: "p1:r1", kind: "response", meanScore: 3 }]);
  assert.deepEqual(m.lineInfo(path.join(iter, "meta_judgements.jsonl"), 6, 99), [
    { line: 6, id: "p1:r1:m2-1", kind: "meta_judgement", winner: null, parseError: "no 'Winner: Judgement A|B' found" },
  ]);
  assert.deepEqual(m.lineInfo(path.join(dir, "metajudge.json"), 1, 5), []);

  assert.deepEqual(m.recordAtLine(judgementsFile, 5), { id: "p1:r1:j1", kind: "judgement" });
  assert.equal(m.recordAtLine(judgementsFile, 999), null);
  const loc = m.locate("p1:r1:j1")!;
  assert.equal(loc.line, 5);
  const text = fs.readFileSync(judgementsFile, "utf8").split("\n")[4]!;
  assert.equal(loc.length, Buffer.byteLength(text));
  assert.deepEqual(await m.readRecord("p1:r1:j1"), JSON.parse(text));
  assert.equal(await m.readRecord("nope"), null);
  assert.deepEqual(m.scoreSpan("p1:r1:j1", "x\nScore: 3"), [2, 10]);
  m.dispose();
});

test("refresh picks up appended records; a reopened iteration reads its saved index instead of the records", async () => {
  const { dir, iter } = build();
  const m = await IterationModel.open(dir, 1);
  assert.ok(m.scannedBytes > 0);
  assert.deepEqual(await m.refresh(), { changed: false });
  fs.appendFileSync(
    path.join(iter, "judgements.jsonl"),
    line({ id: "p10:r0:j2", prompt_id: "p10", response_id: "p10:r0", index: 2, text: judgementText("p10:r0:j2", 1), score: 1 }),
  );
  assert.deepEqual(await m.refresh(), { changed: true });
  const p10 = m.prompts({ offset: 3, limit: 1, sort: "id" }).rows[0]!;
  assert.deepEqual([p10.id, p10.judgements], ["p10", 3]);
  assert.equal(m.responses("p10")[0]!.meanScore, 3);
  m.dispose();
  await new Promise((r) => setTimeout(r, 50)); // dispose saves in the background

  const again = await IterationModel.open(dir, 1);
  assert.equal(again.scannedBytes, 0);
  assert.equal(again.responses("p10")[0]!.meanScore, 3);
  again.dispose();
});

test("summary: the DPO training a launch recorded in the manifest, read defensively", async () => {
  const { dir, iter } = build();
  const before = await IterationModel.open(dir, 1);
  assert.equal(before.summary().training, null, "no training yet");
  before.dispose();
  const file = path.join(iter, "manifest.json");
  const manifest = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  manifest.training = {
    job_id: "it1-train-x",
    host: "gpu-box",
    base_model: "m",
    checkpoint: "gpu-box:/ckpt/1",
    final: { loss: 0.61, "rewards/margins": 0.4, "rewards/accuracies": 0.75, train_loss: null },
    history: [
      { step: 1, metrics: {} },
      { step: 2, metrics: {} },
    ],
  };
  fs.writeFileSync(file, JSON.stringify(manifest));
  const m = await IterationModel.open(dir, 1);
  assert.deepEqual(m.summary().training, {
    jobId: "it1-train-x",
    host: "gpu-box",
    checkpoint: "gpu-box:/ckpt/1",
    baseModel: "m",
    final: { loss: 0.61, "rewards/margins": 0.4, "rewards/accuracies": 0.75 },
    steps: 2,
  });
  m.dispose();
  manifest.training = { job_id: 7 };
  fs.writeFileSync(file, JSON.stringify(manifest));
  const broken = await IterationModel.open(dir, 1);
  assert.equal(broken.summary().training, null, "a section without a job id and checkpoint is ignored");
  broken.dispose();
});

test("a config that does not load leaves the workbench open on the manifest's settings", async () => {
  const { dir, iter } = build();
  const manifest = JSON.parse(fs.readFileSync(path.join(iter, "manifest.json"), "utf8")) as Record<string, unknown>;
  manifest.settings = { rho: 0 };
  fs.writeFileSync(path.join(iter, "manifest.json"), JSON.stringify(manifest));
  fs.writeFileSync(path.join(dir, "metajudge.json"), "{ half-edited");
  const m = await IterationModel.open(dir, 1);
  assert.match(m.configProblem ?? "", /metajudge\.json/);
  // rho 0 is plain best against worst: r0 (5) and r2 (2).
  const a = (await m.inspector("p1")).actorPair;
  assert.deepEqual([a.rho, a.chosenId, a.rejectedId, a.upper, a.lower], [0, "p1:r0", "p1:r2", 5, 2]);
  assert.equal(m.prompts({ offset: 0, limit: 10, sort: "id" }).total, 4);
  m.dispose();
});

test("opening can be cancelled", async () => {
  const { dir } = build();
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(
    IterationModel.open(dir, 1, { signal: ac.signal }),
    (e: unknown) => (e as { reason?: string }).reason === "cancelled",
  );
});

test("pair files: lines in Metajudge's own key order and in any other order read the same", async () => {
  const { readPairFile } = await import("../../src/core/view/side-files.js");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mj-pairs-"));
  const file = path.join(dir, "pairs.judge.jsonl");
  fs.writeFileSync(
    file,
    [
      JSON.stringify({ prompt_id: 'p"1', response_id: "p:r0", chosen_id: "p:r0:j1", rejected_id: "p:r0:j2", elo: { "p:r0:j1": 1010 } }),
      JSON.stringify({ elo: {}, rejected_id: "q:r1:j0", chosen_id: "q:r1:j3", prompt_id: "q" }),
      "{not json",
      "",
    ].join("\n"),
  );
  const got = await readPairFile(file);
  assert.equal(got.lines, 2);
  assert.deepEqual([...got.prompts].sort(), ['p"1', "q"]);
  assert.deepEqual(Object.fromEntries(got.roles), {
    "p:r0:j1": "chosen",
    "p:r0:j2": "rejected",
    "q:r1:j3": "chosen",
    "q:r1:j0": "rejected",
  });
  assert.equal((await readPairFile(path.join(dir, "none.jsonl"))).lines, 0);
});

test("a prompt with two battled responses: the inspector, the rows and the Elo follow the one response `metajudge pairs` picks", async () => {
  const { dir, iter } = build();
  // p4:r0 scores 1, 5 and one unscored judgement (variance 4); p4:r1 scores 2, 3, 4 (variance 2/3).
  // p4:r1's battles come first in the file, and the unscored j2 of p4:r0 is named in battles too.
  const add = (file: string, recs: Record<string, unknown>[]): void => fs.appendFileSync(path.join(iter, file), recs.map(line).join(""));
  add(
    "responses.jsonl",
    [0, 1].map((i) => ({ id: responseId("p4", i), prompt_id: "p4", index: i, text: `answer ${i}` })),
  );
  const scores: Record<string, (number | null)[]> = { "p4:r0": [1, 5, null], "p4:r1": [2, 3, 4] };
  for (const [rid, list] of Object.entries(scores)) {
    add(
      "judgements.jsonl",
      list.map((score, k) => ({
        id: judgementId(rid, k),
        prompt_id: "p4",
        response_id: rid,
        index: k,
        text: judgementText(judgementId(rid, k), score),
        score,
      })),
    );
  }
  const fight = (rid: string, f: number, s: number, winner: "first" | "second"): Record<string, unknown> => ({
    id: battleId(rid, f, s),
    prompt_id: "p4",
    response_id: rid,
    first_id: judgementId(rid, f),
    second_id: judgementId(rid, s),
    text: `Winner: Judgement ${winner === "first" ? "A" : "B"}`,
    winner,
  });
  add("meta_judgements.jsonl", [
    fight("p4:r1", 0, 1, "first"),
    fight("p4:r1", 1, 0, "second"),
    fight("p4:r1", 1, 2, "first"),
    fight("p4:r1", 2, 1, "second"),
  ]);
  add("meta_judgements.jsonl", [
    fight("p4:r0", 0, 1, "first"),
    fight("p4:r0", 1, 0, "second"),
    fight("p4:r0", 2, 0, "first"),
    fight("p4:r0", 1, 2, "second"),
  ]);

  const written = await pairs(iter);
  const pair = written.judge.filter((p) => p.prompt_id === "p4");
  assert.deepEqual(
    pair.map((p) => [p.response_id, p.chosen_id, p.rejected_id, Object.keys(p.elo).sort()]),
    [["p4:r0", "p4:r0:j0", "p4:r0:j1", ["p4:r0:j0", "p4:r0:j1"]]],
  );

  const m = await IterationModel.open(dir, 1);
  const b = (await m.inspector("p4")).battles!;
  assert.equal(b.responseId, "p4:r0");
  assert.deepEqual(b.elo, pair[0]!.elo);
  assert.deepEqual(b.pair, { chosenId: "p4:r0:j0", rejectedId: "p4:r0:j1" });
  // Only the battles between scored judgements count: two decisive, both won by the first shown.
  assert.deepEqual(b.stats, { win_1st: 1, win_2nd: 1, w1: 0.5, w2: 0.5, decisive: 2, battles: 2 });
  assert.deepEqual(
    Object.fromEntries(
      m
        .judgements("p4:r0")
        .filter((j) => j.elo !== undefined)
        .map((j) => [j.id, j.elo]),
    ),
    pair[0]!.elo,
  );
  // The other battled response holds no judge pair, so no Elo is shown for it.
  assert.deepEqual(
    m.judgements("p4:r1").map((j) => j.elo),
    [undefined, undefined, undefined],
  );
  m.dispose();
});
