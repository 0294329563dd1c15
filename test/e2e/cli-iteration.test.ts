// A whole iteration through the bundled CLI against a chat-completions server on 127.0.0.1, then
// every file of the data contract checked against the schemas and against each other.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { ensureBuilt, makeExperiment, readLines, runCli } from "../support/cli.js";
import {
  ActorPairSchema,
  DpoRecordSchema,
  JudgePairSchema,
  JudgementRecordSchema,
  ManifestSchema,
  MetaJudgementRecordSchema,
  ResponseRecordSchema,
  STAGES,
} from "../../src/core/schema.js";

let server: FakeServer;
let exp: string;
let iter: string;

before(async () => {
  ensureBuilt();
  // Real protocol with delays, n > 1, and a 500 on every 9th request so retries happen for real.
  server = await startFakeOpenAI({ latencyMs: 3, fault: { kind: "every", nth: 9, status: 500 } });
  exp = makeExperiment(server.url);
  iter = path.join(exp, "iterations", "1");
});
after(() => server.close());

const sha = (f: string): string => crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex");

test("metajudge run: a whole iteration, every file valid and consistent", async () => {
  const res = await runCli(["run", exp, "--iteration", "1", "--json"]);
  assert.equal(res.code, 0, res.stderr);
  const types = res.events.map((e) => e.type);
  assert.equal(types[0], "run-start");
  assert.equal(types.at(-1), "run-end");
  assert.deepEqual(
    res.events.filter((e) => e.type === "stage-end").map((e) => [e.stage, e.state]),
    STAGES.map((s) => [s, "done"]),
  );
  assert.ok(
    res.events.some((e) => e.type === "progress"),
    "progress events are emitted",
  );
  assert.ok((server.stats.byStatus[500] ?? 0) > 0, "the server's 500s were met and retried");

  const prompts = readLines<{ id: string }>(path.join(exp, "prompts.jsonl"));
  const K = 4;
  const N = 5;

  const responses = readLines(path.join(iter, "responses.jsonl")).map((r) => ResponseRecordSchema.parse(r));
  assert.equal(responses.length, prompts.length * K);
  assert.equal(new Set(responses.map((r) => r.id)).size, responses.length, "no duplicate response ids");
  for (const p of prompts) {
    assert.deepEqual(
      responses
        .filter((r) => r.prompt_id === p.id)
        .map((r) => r.index)
        .sort(),
      [0, 1, 2, 3],
    );
  }

  const judgements = readLines(path.join(iter, "judgements.jsonl")).map((r) => JudgementRecordSchema.parse(r));
  assert.equal(judgements.length, responses.length * N, "fake answers are distinct, so every response is judged N times");
  assert.equal(new Set(judgements.map((j) => j.id)).size, judgements.length);
  const failures = judgements.filter((j) => j.score === null);
  for (const j of failures) assert.ok(j.parse_error, "a judgement without a score says why");
  const responseIds = new Set(responses.map((r) => r.id));
  for (const j of judgements) assert.ok(responseIds.has(j.response_id));

  const battles = readLines(path.join(iter, "meta_judgements.jsonl")).map((r) => MetaJudgementRecordSchema.parse(r));
  assert.ok(battles.length > 0);
  assert.equal(new Set(battles.map((b) => b.id)).size, battles.length);
  // Per prompt one response is battled, every ordered pair of its valid judgements: v*(v-1) battles.
  const byResponse = new Map<string, number>();
  for (const b of battles) byResponse.set(b.response_id, (byResponse.get(b.response_id) ?? 0) + 1);
  for (const [rid, count] of byResponse) {
    const v = judgements.filter((j) => j.response_id === rid && j.score !== null).length;
    assert.equal(count, v * (v - 1), `battles of ${rid}`);
  }
  assert.ok(byResponse.size <= prompts.length);
  const judgementById = new Map(judgements.map((j) => [j.id, j]));
  for (const b of battles) {
    assert.equal(judgementById.get(b.first_id)?.response_id, b.response_id);
    assert.equal(judgementById.get(b.second_id)?.response_id, b.response_id);
  }

  const actorPairs = readLines(path.join(iter, "pairs.actor.jsonl")).map((r) => ActorPairSchema.parse(r));
  const judgePairs = readLines(path.join(iter, "pairs.judge.jsonl")).map((r) => JudgePairSchema.parse(r));
  assert.ok(actorPairs.length > 0 && judgePairs.length > 0);
  for (const p of actorPairs) assert.ok(p.chosen_score > p.rejected_score);
  for (const p of judgePairs) {
    assert.ok(p.elo[p.chosen_id]! > p.elo[p.rejected_id]!);
    assert.ok(byResponse.has(p.response_id));
  }

  const dpo = readLines(path.join(iter, "dpo.jsonl")).map((r) => DpoRecordSchema.parse(r));
  assert.equal(dpo.filter((d) => d.kind === "actor").length, actorPairs.length);
  assert.equal(dpo.filter((d) => d.kind === "judge").length, judgePairs.length, "iteration 1 trains judge pairs");
  const responseText = new Map(responses.map((r) => [r.id, r.text]));
  for (const d of dpo.filter((x) => x.kind === "actor")) assert.equal(d.chosen[0]!.content, responseText.get(d.source_ids.chosen_id));
  for (const d of dpo.filter((x) => x.kind === "judge")) {
    assert.equal(d.chosen[0]!.content, judgementById.get(d.source_ids.chosen_id)?.text);
    assert.match(d.prompt[0]!.content, /additive 5-point/, "a judge pair's prompt is the judge rubric filled with (x, y)");
    assert.ok(d.prompt[0]!.content.includes(responseText.get(d.source_ids.response_id!)!));
  }

  const manifest = ManifestSchema.parse(JSON.parse(fs.readFileSync(path.join(iter, "manifest.json"), "utf8")));
  for (const s of STAGES) assert.equal(manifest.stages[s]?.state, "done", s);
  assert.equal(manifest.templates.judge?.sha256, sha(path.join(exp, "prompts", "judge.md")));
  assert.equal(manifest.templates.meta_judge?.sha256, sha(path.join(exp, "prompts", "meta_judge.md")));
  assert.equal(manifest.templates.actor?.sha256, sha(path.join(exp, "prompts", "actor.md")));
  assert.equal(manifest.prompts.count, prompts.length);
  assert.equal(manifest.models.judge, "fake-model");
  assert.equal(manifest.stages.judge?.counts.parse_failures, failures.length);
  assert.equal(manifest.stages.pairs?.counts.actor_pairs, actorPairs.length);
  assert.ok(manifest.usage.completion_tokens > 0 && manifest.usage.requests > 0);
  assert.ok((manifest.stages.generate?.seconds ?? -1) >= 0);
});

test("metajudge pairs and export recompute the same files without calling the model", async () => {
  const before = server.stats.requests;
  const files = ["pairs.actor.jsonl", "pairs.judge.jsonl", "dpo.jsonl"].map((f) => path.join(iter, f));
  const old = files.map((f) => fs.readFileSync(f, "utf8"));
  const p = await runCli(["pairs", iter, "--json"]);
  assert.equal(p.code, 0, p.stderr);
  const e = await runCli(["export", iter]);
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /actor \+ \d+ judge examples/);
  assert.deepEqual(
    files.map((f) => fs.readFileSync(f, "utf8")),
    old,
  );
  assert.equal(server.stats.requests, before, "no model calls");
});

test("running again resumes to a no-op: nothing is requested or written twice", async () => {
  const before = server.stats.requests;
  const sizes = ["responses.jsonl", "judgements.jsonl", "meta_judgements.jsonl"].map((f) => fs.statSync(path.join(iter, f)).size);
  const res = await runCli(["run", exp, "--iteration", "1", "--until", "metajudge"]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(server.stats.requests, before);
  assert.deepEqual(
    ["responses.jsonl", "judgements.jsonl", "meta_judgements.jsonl"].map((f) => fs.statSync(path.join(iter, f)).size),
    sizes,
  );
});

test("a flagged judgement is excluded when pairs are recomputed", async () => {
  const pair = readLines<{ chosen_id: string; response_id: string }>(path.join(iter, "pairs.judge.jsonl"))[0]!;
  fs.appendFileSync(
    path.join(iter, "annotations.jsonl"),
    JSON.stringify({ target_id: pair.chosen_id, label: "suspicious", note: "too generous", created_at: new Date().toISOString() }) + "\n",
  );
  const res = await runCli(["pairs", iter, "--json"]);
  assert.equal(res.code, 0, res.stderr);
  const after = readLines<{ chosen_id: string; rejected_id: string; response_id: string; elo: Record<string, number> }>(
    path.join(iter, "pairs.judge.jsonl"),
  );
  for (const p of after) {
    assert.notEqual(p.chosen_id, pair.chosen_id);
    assert.notEqual(p.rejected_id, pair.chosen_id);
    assert.equal(p.elo[pair.chosen_id], undefined);
  }
  const counts = (res.events[0] as { counts: Record<string, number> }).counts;
  assert.equal(counts.flagged_excluded, 1);
});

test("metajudge status reports every stage with counts", async () => {
  const res = await runCli(["status", exp]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /iteration 1 \(actor fake-model/);
  assert.match(res.stdout, /judge\s+done\s+\d+\/\d+/);
  const json = await runCli(["status", exp, "--json"]);
  const status = JSON.parse(json.stdout) as { iterations: { iteration: number; stages: Record<string, { state: string }> }[] };
  assert.equal(status.iterations[0]?.stages.export?.state, "done");
});
