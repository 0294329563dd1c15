// json_schema mode through the bundled CLI against a chat-completions server on 127.0.0.1 that
// honours response_format as constrained decoding does: every verdict is read, the records and the
// manifest say how, and an iteration never silently changes mode halfway.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { startFakeOpenAI, type FakeChatRequest, type FakeServer } from "../support/fake-openai.js";
import { ensureBuilt, makeExperiment, readLines, runCli } from "../support/cli.js";
import {
  DpoRecordSchema,
  JudgementRecordSchema,
  ManifestSchema,
  MetaJudgementRecordSchema,
  type ConfigInput,
} from "../../src/core/schema.js";

let server: FakeServer;

before(async () => {
  ensureBuilt();
  server = await startFakeOpenAI({ latencyMs: 1, record: true });
});
after(() => server.close());

const json = (c: ConfigInput): void => {
  c.roles.judge.mode = "json_schema";
  c.roles.meta_judge.mode = "json_schema";
};

const manifestOf = (iter: string) => ManifestSchema.parse(JSON.parse(fs.readFileSync(path.join(iter, "manifest.json"), "utf8")));

test("metajudge run in json_schema mode: every verdict read, records and manifest say the mode, pairs and DPO data written", async () => {
  const exp = makeExperiment(server.url, json);
  const iter = path.join(exp, "iterations", "1");
  const res = await runCli(["run", exp, "--iteration", "1", "--json"]);
  assert.equal(res.code, 0, res.stderr);

  const judgements = readLines(path.join(iter, "judgements.jsonl")).map((r) => JudgementRecordSchema.parse(r));
  assert.ok(judgements.length > 0);
  for (const j of judgements) {
    assert.equal(j.mode, "json_schema", j.id);
    assert.equal(typeof j.score, "number", `${j.id}: ${j.parse_error ?? ""}`);
    assert.equal(j.parse_error, undefined);
    assert.equal((JSON.parse(j.text) as { score: number }).score, j.score, "the score is the JSON's, the text the whole answer");
  }
  const battles = readLines(path.join(iter, "meta_judgements.jsonl")).map((r) => MetaJudgementRecordSchema.parse(r));
  assert.ok(battles.length > 0);
  for (const b of battles) {
    assert.equal(b.mode, "json_schema");
    const w = (JSON.parse(b.text) as { winner: string }).winner;
    assert.equal(b.winner, w === "A" ? "first" : "second", `${b.id}: A is the judgement shown first`);
  }

  const m = manifestOf(iter);
  assert.deepEqual(m.modes, { judge: "json_schema", meta_judge: "json_schema" });
  assert.equal(m.stages.judge?.counts.parse_failures, 0);
  assert.equal(m.stages.judge?.counts.scored, judgements.length);
  assert.equal(m.stages.metajudge?.counts.no_verdict, 0);
  assert.equal(m.stages.export?.state, "done");

  assert.ok(readLines(path.join(iter, "pairs.actor.jsonl")).length > 0);
  assert.ok(readLines(path.join(iter, "pairs.judge.jsonl")).length > 0);
  const dpo = readLines(path.join(iter, "dpo.jsonl")).map((r) => DpoRecordSchema.parse(r));
  const judgePairs = dpo.filter((d) => d.kind === "judge");
  assert.ok(judgePairs.length > 0 && dpo.some((d) => d.kind === "actor"));
  for (const d of judgePairs) {
    assert.match(d.prompt[0]!.content, /additive 5-point/, "the judge pair's prompt is the rubric that was sent, unchanged");
    assert.doesNotThrow(() => JSON.parse(d.chosen[0]!.content), "chosen is the judgement's JSON answer");
  }

  // On the wire: the schema goes with judge and meta-judge requests, never with the actor's.
  const name = (b: FakeChatRequest): string =>
    (b.response_format as { json_schema?: { name?: string } } | undefined)?.json_schema?.name ?? "none";
  assert.deepEqual([...new Set(server.received.map(name))].sort(), ["judgement", "meta_judgement", "none"]);
  const judgeBody = server.received.find((b) => name(b) === "judgement")!;
  assert.deepEqual(judgeBody.response_format, {
    type: "json_schema",
    json_schema: {
      name: "judgement",
      strict: true,
      schema: {
        type: "object",
        properties: { reason: { type: "string", maxLength: 1000 }, score: { type: "number", minimum: 0, maximum: 5 } },
        required: ["reason", "score"],
        additionalProperties: false,
      },
    },
  });
});

test("the same server in text mode leaves judgements unscored now and then; json_schema mode does not", async () => {
  const exp = makeExperiment(server.url);
  const iter = path.join(exp, "iterations", "1");
  const res = await runCli(["run", exp, "--iteration", "1", "--until", "judge"]);
  assert.equal(res.code, 0, res.stderr);
  const m = manifestOf(iter);
  assert.deepEqual(m.modes, { judge: "text", meta_judge: "text" });
  assert.ok((m.stages.judge?.counts.parse_failures ?? 0) > 0, "the scripted judge forgets to score about 3% of the time");
  for (const j of readLines(path.join(iter, "judgements.jsonl")))
    assert.equal("mode" in j, false, "text-mode records are as they always were");
});

test("broken JSON (a server ignoring the schema) is no verdict: null, a parse_error, and counted", async () => {
  const broken = await startFakeOpenAI({ latencyMs: 1, malformedJson: 0.15 });
  try {
    const exp = makeExperiment(broken.url, json);
    const iter = path.join(exp, "iterations", "1");
    const res = await runCli(["run", exp, "--iteration", "1", "--until", "judge"]);
    assert.equal(res.code, 0, res.stderr);
    const judgements = readLines(path.join(iter, "judgements.jsonl")).map((r) => JudgementRecordSchema.parse(r));
    const failed = judgements.filter((j) => j.score === null);
    assert.ok(failed.length > 0);
    for (const j of failed) assert.ok(j.parse_error && j.mode === "json_schema", j.id);
    assert.ok(
      failed.some((j) => /Score: X" is not read in json_schema mode/.test(j.parse_error ?? "")),
      "a text-format answer is refused, and the error says so",
    );
    assert.equal(manifestOf(iter).stages.judge?.counts.parse_failures, failed.length);
  } finally {
    await broken.close();
  }
});

test("changing the mode halfway through an iteration is refused with a clear message, and nothing is asked or written", async () => {
  const exp = makeExperiment(server.url);
  const iter = path.join(exp, "iterations", "1");
  const first = await runCli(["run", exp, "--iteration", "1", "--until", "judge"]);
  assert.equal(first.code, 0, first.stderr);

  const file = path.join(exp, "metajudge.json");
  const config = JSON.parse(fs.readFileSync(file, "utf8")) as { roles: { judge: { mode?: string } } };
  config.roles.judge.mode = "json_schema";
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  const before = server.stats.requests;
  const judgements = fs.readFileSync(path.join(iter, "judgements.jsonl"), "utf8");

  const refused = await runCli(["run", exp, "--iteration", "1"]);
  assert.equal(refused.code, 1);
  const line = refused.stderr.trim().split("\n").at(-1) ?? "";
  assert.match(line, /roles\.judge\.mode is "json_schema" but this iteration started with "text"/);
  assert.match(line, /--allow-changed-inputs/);
  assert.equal(server.stats.requests, before, "nothing was asked");
  assert.equal(fs.readFileSync(path.join(iter, "judgements.jsonl"), "utf8"), judgements, "nothing was written");
  assert.deepEqual(manifestOf(iter).modes, { judge: "text", meta_judge: "text" }, "the manifest still says how the records were made");

  const mixed = await runCli(["run", exp, "--iteration", "1", "--allow-changed-inputs"]);
  assert.equal(mixed.code, 0, mixed.stderr);
  assert.deepEqual(manifestOf(iter).modes, { judge: "json_schema", meta_judge: "text" });
  for (const j of readLines(path.join(iter, "judgements.jsonl")))
    assert.equal("mode" in j, false, "records made in text mode keep saying so");
});
