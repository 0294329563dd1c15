// json_schema mode: the request bodies per mode, reading JSON verdicts (and refusing what the schema
// forbids), records and manifest, the refusal to resume under another mode, the inspector's spans
// and badges, and the scripted server's JSON answers.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigSchema, type ConfigInput, type JudgementRecord, type MetaJudgementRecord } from "../../src/core/schema.js";
import { jsonVerdictFormat, parseScore, parseWinner } from "../../src/core/parse.js";
import { openRun } from "../../src/core/pipeline/context.js";
import { requestBody } from "../../src/core/pipeline/llm-stage.js";
import { planJudge } from "../../src/core/pipeline/stages/judge.js";
import { planMetajudge } from "../../src/core/pipeline/stages/metajudge.js";
import { judgementId, responseId, battleId } from "../../src/core/pipeline/ids.js";
import type { ChatResult } from "../../src/core/llm/client.js";
import { IterationModel } from "../../src/core/view/model.js";
import { modeBadge } from "../../webview/model.js";
import { defaultAnswer, startFakeOpenAI } from "../support/fake-openai.js";
import { makeExperiment } from "../support/cli.js";

const JUDGE_FORMAT = {
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
};

const META_FORMAT = {
  type: "json_schema",
  json_schema: {
    name: "meta_judgement",
    strict: true,
    schema: {
      type: "object",
      properties: { reason: { type: "string", maxLength: 1000 }, winner: { type: "string", enum: ["A", "B"] } },
      required: ["reason", "winner"],
      additionalProperties: false,
    },
  },
};

function config(patch: (c: ConfigInput) => void = () => {}) {
  const c: ConfigInput = {
    endpoint: { base_url: "http://127.0.0.1:9/v1", model: "m" },
    roles: {
      actor: { sampling: { n: 2, seed: 1 } },
      judge: { sampling: { n: 3, seed: 2, max_tokens: 300 } },
      meta_judge: { sampling: { n: 1, seed: 3 } },
    },
    iterations: [{}],
  };
  patch(c);
  return ConfigSchema.parse(c);
}

// ---- config and requests ---------------------------------------------------------------------

test("config: mode defaults to text and reason_max_length to 1000; the actor has neither", () => {
  const c = config();
  assert.equal(c.roles.judge.mode, "text");
  assert.equal(c.roles.meta_judge.mode, "text");
  assert.equal(c.roles.judge.reason_max_length, 1000);
  assert.equal("mode" in c.roles.actor, false);
  const bad = ConfigSchema.safeParse({ ...config(), roles: { ...config().roles, actor: { sampling: {}, mode: "json_schema" } } });
  assert.equal(bad.success, false, "the actor gives no verdict, so a mode there is a mistake");
  assert.equal(ConfigSchema.safeParse({ ...config(), roles: { ...config().roles, judge: { sampling: {}, mode: "json" } } }).success, false);
});

test("requests: text mode sends no response_format; json_schema mode sends the schema of its role", () => {
  const text = config();
  for (const role of ["actor", "judge", "meta_judge"] as const) {
    assert.equal(requestBody(text, role, "m", "x", 1, 5).response_format, undefined, role);
  }
  const json = config((c) => {
    c.roles.judge.mode = "json_schema";
    c.roles.meta_judge.mode = "json_schema";
  });
  const judge = requestBody(json, "judge", "m", "rubric", 3, 7);
  assert.deepEqual(judge, {
    model: "m",
    messages: [{ role: "user", content: "rubric" }],
    n: 3,
    temperature: 0.8,
    top_p: 0.95,
    max_tokens: 300,
    seed: 7,
    response_format: JUDGE_FORMAT,
  });
  assert.deepEqual(requestBody(json, "meta_judge", "m", "x", 1, undefined).response_format, META_FORMAT);
  assert.equal(requestBody(json, "actor", "m", "x", 2, 1).response_format, undefined);
  assert.equal(requestBody(json, "judge", "m", "rubric", 3, 7).messages[0]!.content, "rubric", "the rubric goes out unchanged");
});

test("requests: reason_max_length bounds the reason, or is left out when null", () => {
  const f = (n: number | null) => jsonVerdictFormat("score", n) as typeof JUDGE_FORMAT;
  assert.deepEqual(f(200).json_schema.schema.properties.reason, { type: "string", maxLength: 200 });
  assert.deepEqual(f(null).json_schema.schema.properties.reason, { type: "string" });
  const c = config((x) => {
    x.roles.meta_judge.mode = "json_schema";
    x.roles.meta_judge.reason_max_length = null;
  });
  assert.deepEqual(
    (requestBody(c, "meta_judge", "m", "x", 1, 1).response_format as typeof META_FORMAT).json_schema.schema.properties.reason,
    { type: "string" },
  );
});

// ---- reading JSON verdicts -------------------------------------------------------------------

// [name, answer, expected score, expected error fragment when null, expected marked text]
const SCORES: [string, string, number | null, string?, string?][] = [
  ["plain", '{"reason": "Relevant and clear.", "score": 4}', 4, undefined, '"score": 4'],
  ["compact", '{"reason":"ok","score":3.5}', 3.5, undefined, '"score":3.5'],
  ["score first", '{"score": 2, "reason": "thin"}', 2, undefined, '"score": 2'],
  ["blanks around", '\n  {"reason": "ok", "score": 5}  \n', 5, undefined, '"score": 5'],
  ["pretty printed", '{\n  "reason": "ok",\n  "score": 1\n}\n', 1, undefined, '"score": 1'],
  ["json fence", '```json\n{"reason": "ok", "score": 3}\n```', 3, undefined, '"score": 3'],
  ["bare fence", '```\n{"reason": "ok", "score": 3}\n```\n', 3, undefined, '"score": 3'],
  ["zero", '{"reason": "off topic", "score": 0}', 0, undefined, '"score": 0'],
  ["exponent", '{"reason": "ok", "score": 4e0}', 4, undefined, '"score": 4e0'],
  [
    "the key quoted inside the reason is not the member",
    '{"reason": "I would say \\"score\\": 1 at first", "score": 4}',
    4,
    undefined,
    '"score": 4',
  ],
  ["a repeated key: the last counts, as JSON.parse keeps it", '{"reason": "ok", "score": 1, "score": 2}', 2, undefined, '"score": 2'],
  ["above range", '{"reason": "great", "score": 6}', null, "outside 0..5", '"score": 6'],
  ["negative", '{"reason": "bad", "score": -1}', null, "outside 0..5", '"score": -1'],
  ["a string score", '{"reason": "ok", "score": "4"}', null, "is a string, expected a number", '"score": "4"'],
  ["a null score", '{"reason": "ok", "score": null}', null, "is null, expected a number", '"score": null'],
  ["an object score", '{"reason": "ok", "score": {"value": 4}}', null, "is an object, expected a number", '"score": {"value": 4}'],
  ["no score", '{"reason": "ok"}', null, 'no "score"'],
  // A score that breaks the schema's other rules is still marked, as text mode marks an invalid one.
  ["no reason", '{"score": 4}', null, '"reason" is missing', '"score": 4'],
  ["a number reason", '{"reason": 3, "score": 4}', null, '"reason" is a number', '"score": 4'],
  ["an extra key", '{"reason": "ok", "score": 4, "confidence": 0.9}', null, 'unexpected key "confidence"', '"score": 4'],
  ["an array", '[{"reason": "ok", "score": 4}]', null, "an array, expected a JSON object"],
  ["a bare number", "4", null, "a number, expected a JSON object"],
  ["empty", "   ", null, "empty answer"],
  ["cut short", '{"reason": "The response is rele', null, "ends before its JSON is complete"],
  ["prose around the JSON", 'Here it is: {"reason": "ok", "score": 4}', null, "not valid JSON"],
  ["an unclosed fence", '```json\n{"reason": "ok", "score": 4}', null, "not valid JSON"],
  ["text-mode answer is refused, and says so", "The answer is relevant.\n\nScore: 4", null, '"Score: X" is not read in json_schema mode'],
];

for (const [name, text, score, error, marked] of SCORES) {
  test(`parseScore json_schema: ${name}`, () => {
    const got = parseScore(text, "json_schema");
    assert.equal(got.score, score);
    if (score === null) {
      assert.ok(got.error?.includes(error ?? ""), `error ${JSON.stringify(got.error)} should mention ${JSON.stringify(error)}`);
    } else assert.equal(got.error, undefined);
    assert.equal(got.span ? text.slice(...got.span) : undefined, marked);
  });
}

test("parseScore json_schema: -0 is stored as 0", () => {
  assert.ok(Object.is(parseScore('{"reason": "x", "score": -0}', "json_schema").score, 0));
});

test("text mode is unchanged and does not read JSON", () => {
  assert.equal(parseScore('{"reason": "ok", "score": 4}').score, null);
  assert.equal(parseScore('{"reason": "ok", "score": 4}', "text").score, null);
  assert.equal(parseScore("Score: 4", "text").score, 4);
  assert.equal(parseWinner('{"reason": "ok", "winner": "A"}').winner, null);
});

const WINNERS: [string, string, "A" | "B" | null, string?, string?][] = [
  ["A", '{"reason": "A is specific.", "winner": "A"}', "A", undefined, '"winner": "A"'],
  ["B", '{"reason": "B is right.", "winner": "B"}', "B", undefined, '"winner": "B"'],
  ["fenced", '```json\n{"reason": "x", "winner": "B"}\n```', "B", undefined, '"winner": "B"'],
  ["winner first", '{"winner": "A", "reason": "x"}', "A", undefined, '"winner": "A"'],
  ["lower case is not in the enum", '{"reason": "x", "winner": "a"}', null, '"winner" is "a", expected "A" or "B"'],
  ["a full label is not in the enum", '{"reason": "x", "winner": "Judgement A"}', null, 'expected "A" or "B"'],
  ["a third option", '{"reason": "x", "winner": "C"}', null, '"C"'],
  ["a number", '{"reason": "x", "winner": 1}', null, "a number"],
  ["no winner", '{"reason": "a tie"}', null, 'no "winner"'],
  ["no reason", '{"winner": "A"}', null, '"reason" is missing'],
  ["text-mode answer is refused, and says so", "Judgement A is better.\n\nWinner: Judgement A", null, "not read in json_schema mode"],
  ["broken", '{"reason": "x", "winner": "A"', null, "ends before its JSON is complete"],
];

for (const [name, text, winner, error, marked] of WINNERS) {
  test(`parseWinner json_schema: ${name}`, () => {
    const got = parseWinner(text, "json_schema");
    assert.equal(got.winner, winner);
    if (winner === null)
      assert.ok(got.error?.includes(error ?? ""), `error ${JSON.stringify(got.error)} should mention ${JSON.stringify(error)}`);
    assert.equal(got.span ? text.slice(...got.span) : undefined, marked);
  });
}

// ---- the stages: records and the manifest --------------------------------------------------------

function result(texts: string[], finish = "stop"): ChatResult {
  return {
    choices: texts.map((text, index) => ({ index, text, finish_reason: finish })),
    usage: { prompt_tokens: 1, completion_tokens: 1 },
    model: "m",
    latencyMs: 1,
    attempts: 1,
  };
}

function jsonExperiment(judge: "text" | "json_schema", meta: "text" | "json_schema"): string {
  return makeExperiment("http://127.0.0.1:9/v1", (c) => {
    c.roles.judge.mode = judge;
    c.roles.meta_judge.mode = meta;
  });
}

async function open(dir: string, allowChangedInputs = false) {
  return openRun({ experimentDir: dir, iteration: 1, emit: () => {}, signal: new AbortController().signal, allowChangedInputs });
}

test("judge stage in json_schema mode: the request carries the schema, records say their mode, failures count as in text mode", async () => {
  const dir = jsonExperiment("json_schema", "text");
  const iter = path.join(dir, "iterations", "1");
  fs.mkdirSync(iter, { recursive: true });
  fs.writeFileSync(
    path.join(iter, "responses.jsonl"),
    JSON.stringify({ id: responseId("starter-01", 0), prompt_id: "starter-01", index: 0, text: "An answer." }) + "\n",
  );
  const ctx = await open(dir);
  assert.deepEqual(ctx.manifest.modes, { judge: "json_schema", meta_judge: "text" });
  const plan = await planJudge(ctx);
  const task = plan.tasks[0]!;
  assert.deepEqual(task.body.response_format, JUDGE_FORMAT);
  assert.match(task.body.messages[0]!.content, /additive 5-point/, "the paper's rubric, unchanged");
  const recs = task.accept(
    result([
      '{"reason": "Good.", "score": 4.5}',
      "Fine.\nScore: 4",
      '{"reason": "x", "score": 9}',
      '```json\n{"reason": "ok", "score": 2}\n```',
      '{"reason": "cut',
    ]),
  ) as JudgementRecord[];
  for (const r of recs) plan.count(r);
  assert.deepEqual(
    recs.map((r) => [r.id, r.score, r.mode]),
    [0, 1, 2, 3, 4].map((i) => [judgementId("starter-01:r0", i), [4.5, null, null, 2, null][i], "json_schema"]),
  );
  assert.match(recs[1]!.parse_error!, /not read in json_schema mode/);
  assert.match(recs[2]!.parse_error!, /outside 0\.\.5/);
  assert.equal(recs[0]!.text, '{"reason": "Good.", "score": 4.5}', "the whole answer is the text; the reason is not stored twice");
  assert.equal("reason" in recs[0]!, false);
  assert.deepEqual([plan.counts.scored, plan.counts.parse_failures], [2, 3]);

  const cut = task.accept(
    result(['{"reason": "The response is', '{"reason": "ok", "score": 3}', "x", "y", "z"], "length"),
  ) as JudgementRecord[];
  assert.equal(cut[0]!.parse_error, "the answer ends before its JSON is complete (cut off at max_tokens)");
  assert.equal(cut[1]!.score, 3, "a complete answer that hit max_tokens still counts");
  ctx.store.close();
});

test("judge stage in text mode: no response_format, and records stay as they were (no mode field)", async () => {
  const dir = jsonExperiment("text", "text");
  const iter = path.join(dir, "iterations", "1");
  fs.mkdirSync(iter, { recursive: true });
  fs.writeFileSync(
    path.join(iter, "responses.jsonl"),
    JSON.stringify({ id: responseId("starter-01", 0), prompt_id: "starter-01", index: 0, text: "An answer." }) + "\n",
  );
  const ctx = await open(dir);
  assert.deepEqual(ctx.manifest.modes, { judge: "text", meta_judge: "text" });
  const task = (await planJudge(ctx)).tasks[0]!;
  assert.equal(task.body.response_format, undefined);
  const recs = task.accept(result(["Score: 4", '{"reason": "x", "score": 4}', "", "", ""], "length")) as JudgementRecord[];
  assert.deepEqual(recs.map((r) => [r.score, "mode" in r]).slice(0, 2), [
    [4, false],
    [null, false],
  ]);
  assert.equal(recs[1]!.parse_error, "no 'Score: <number>' found", "text-mode errors are as they were");
  ctx.store.close();
});

test("meta-judge stage in json_schema mode: A is the judgement shown first, B the second", async () => {
  const dir = jsonExperiment("json_schema", "json_schema");
  const iter = path.join(dir, "iterations", "1");
  fs.mkdirSync(iter, { recursive: true });
  const rid = responseId("starter-01", 0);
  fs.writeFileSync(
    path.join(iter, "responses.jsonl"),
    JSON.stringify({ id: rid, prompt_id: "starter-01", index: 0, text: "An answer." }) + "\n",
  );
  const j = (i: number, score: number) =>
    JSON.stringify({
      id: judgementId(rid, i),
      prompt_id: "starter-01",
      response_id: rid,
      index: i,
      text: `{"reason": "r${i}", "score": ${score}}`,
      score,
      mode: "json_schema",
    });
  fs.writeFileSync(path.join(iter, "judgements.jsonl"), [j(0, 1), j(1, 4)].join("\n") + "\n");
  const ctx = await open(dir);
  const plan = await planMetajudge(ctx);
  assert.equal(plan.tasks.length, 2, "one pair, both orders");
  const byId = new Map(plan.tasks.map((t) => [t.id, t]));
  const ab = byId.get(`metajudge:${battleId(rid, 0, 1)}`)!;
  const ba = byId.get(`metajudge:${battleId(rid, 1, 0)}`)!;
  assert.deepEqual(ab.body.response_format, META_FORMAT);
  assert.match(ab.body.messages[0]!.content, /r0[\s\S]*r1/, "judgement A is the one shown first");
  const first = ab.accept(result(['{"reason": "A", "winner": "A"}'])) as MetaJudgementRecord[];
  const second = ba.accept(result(['{"reason": "B", "winner": "B"}'])) as MetaJudgementRecord[];
  const none = ba.accept(result(["Winner: Judgement B"])) as MetaJudgementRecord[];
  assert.deepEqual([first[0]!.winner, first[0]!.first_id, first[0]!.mode], ["first", judgementId(rid, 0), "json_schema"]);
  assert.deepEqual([second[0]!.winner, second[0]!.second_id], ["second", judgementId(rid, 0)]);
  assert.equal(none[0]!.winner, null);
  assert.match(none[0]!.parse_error!, /not read in json_schema mode/);
  for (const r of [...first, ...second, ...none]) plan.count(r);
  assert.deepEqual([plan.counts.decisive, plan.counts.no_verdict], [2, 1]);
  ctx.store.close();
});

test("resuming under another mode is refused, naming the role and both modes; --allow-changed-inputs mixes them", async () => {
  const dir = jsonExperiment("text", "text");
  (await open(dir)).store.close();
  const file = path.join(dir, "metajudge.json");
  const c = JSON.parse(fs.readFileSync(file, "utf8")) as ConfigInput;
  c.roles.judge.mode = "json_schema";
  fs.writeFileSync(file, JSON.stringify(c));
  await assert.rejects(open(dir), (err: Error) => {
    assert.match(err.message, /roles\.judge\.mode is "json_schema" but this iteration started with "text"/);
    assert.match(err.message, /manifest\.json/);
    assert.match(err.message, /--allow-changed-inputs/);
    assert.doesNotMatch(err.message, /meta_judge/);
    return true;
  });
  const ctx = await open(dir, true);
  assert.deepEqual(ctx.manifest.modes, { judge: "json_schema", meta_judge: "text" }, "the manifest now says what the run goes on with");
  ctx.store.close();
  (await open(dir)).store.close();
});

test("a manifest from before modes were recorded means text: resuming in text mode goes on, in json_schema mode is refused", async () => {
  const dir = jsonExperiment("text", "text");
  (await open(dir)).store.close();
  const mf = path.join(dir, "iterations", "1", "manifest.json");
  const m = JSON.parse(fs.readFileSync(mf, "utf8")) as Record<string, unknown>;
  delete m.modes;
  fs.writeFileSync(mf, JSON.stringify(m));
  (await open(dir)).store.close();
  fs.writeFileSync(mf, JSON.stringify(m));
  const file = path.join(dir, "metajudge.json");
  const c = JSON.parse(fs.readFileSync(file, "utf8")) as ConfigInput;
  c.roles.meta_judge.mode = "json_schema";
  fs.writeFileSync(file, JSON.stringify(c));
  await assert.rejects(open(dir), /roles\.meta_judge\.mode is "json_schema" but this iteration started with "text"/);
});

// ---- the inspector ---------------------------------------------------------------------------

test("inspector: JSON scores are marked in the text, the mode comes from the records, and a mixed prompt marks each judgement", async () => {
  const dir = jsonExperiment("json_schema", "json_schema");
  (await open(dir)).store.close();
  const iter = path.join(dir, "iterations", "1");
  const rid = (p: string) => responseId(p, 0);
  const resp = (p: string) => JSON.stringify({ id: rid(p), prompt_id: p, index: 0, text: `Answer to ${p}.` });
  fs.writeFileSync(path.join(iter, "responses.jsonl"), [resp("starter-01"), resp("starter-02")].join("\n") + "\n");
  const jj = (p: string, i: number, score: number) =>
    JSON.stringify({
      id: judgementId(rid(p), i),
      prompt_id: p,
      response_id: rid(p),
      index: i,
      text: `{"reason": "quote \\"score\\": 9", "score": ${score}}`,
      score,
      mode: "json_schema",
    });
  const tj = (p: string, i: number, score: number) =>
    JSON.stringify({ id: judgementId(rid(p), i), prompt_id: p, response_id: rid(p), index: i, text: `Fine.\nScore: ${score}`, score });
  fs.writeFileSync(
    path.join(iter, "judgements.jsonl"),
    [jj("starter-01", 0, 4), jj("starter-01", 1, 2), tj("starter-02", 0, 3), jj("starter-02", 1, 5)].join("\n") + "\n",
  );
  const battle = JSON.stringify({
    id: battleId(rid("starter-01"), 0, 1),
    prompt_id: "starter-01",
    response_id: rid("starter-01"),
    first_id: judgementId(rid("starter-01"), 0),
    second_id: judgementId(rid("starter-01"), 1),
    text: '{"reason": "A says more", "winner": "A"}',
    winner: "first",
    mode: "json_schema",
  });
  fs.writeFileSync(path.join(iter, "meta_judgements.jsonl"), battle + "\n");

  const m = await IterationModel.open(dir, 1);
  try {
    const one = await m.inspector("starter-01");
    assert.equal(one.judgeMode, "json_schema");
    assert.equal(one.metaJudgeMode, "json_schema");
    for (const j of one.responses[0]!.judgementList) {
      assert.equal(j.mode, "json_schema");
      assert.equal(j.text.slice(...j.scoreSpan!), `"score": ${j.score}`, "the member, not the quote inside the reason");
    }
    const b = one.battles!.battles[0]!;
    assert.equal(b.text.slice(...b.winnerSpan!), '"winner": "A"');

    const two = await m.inspector("starter-02");
    assert.equal(two.judgeMode, "json_schema", "a mix shows the iteration's mode");
    const [t, j] = two.responses[0]!.judgementList;
    assert.equal(t!.mode, undefined, "a text judgement says nothing, as its record");
    assert.equal(t!.text.slice(...t!.scoreSpan!), "Score: 3", "each judgement is marked the way it was read");
    assert.equal(j!.mode, "json_schema");
    assert.deepEqual(modeBadge(t!.mode, two.judgeMode)?.text, "text");
    assert.equal(modeBadge(j!.mode, two.judgeMode), null);

    const empty = await m.inspector("starter-03");
    assert.equal(empty.judgeMode, "json_schema", "no records yet: the iteration's mode");

    // Hovers pass no mode: the iteration's is assumed.
    assert.deepEqual(m.scoreSpan(judgementId(rid("starter-01"), 0), '{"reason": "", "score": 4}'), [15, 25]);
    assert.deepEqual(m.scoreSpan(judgementId(rid("starter-02"), 0), "Score: 3", "text"), [0, 8]);
  } finally {
    m.dispose();
  }
});

test("inspector badges: none when the record reads as the page does", () => {
  assert.equal(modeBadge(undefined, "text"), null);
  assert.equal(modeBadge("json_schema", "json_schema"), null);
  assert.equal(modeBadge("json_schema", "text")?.text, "json_schema");
  assert.equal(modeBadge(undefined, "json_schema")?.text, "text");
});

// ---- the scripted server -----------------------------------------------------------------------

test("fake server: a json_schema request gets JSON valid against its schema, with the reason cut to maxLength", () => {
  const c = config((x) => {
    x.roles.judge.mode = "json_schema";
    x.roles.judge.reason_max_length = 40;
    x.roles.meta_judge.mode = "json_schema";
  });
  for (let i = 0; i < 200; i++) {
    const judge = requestBody(c, "judge", "m", `Review the user's question using the additive 5-point scoring system. #${i}`, 1, i);
    const s = parseScore(defaultAnswer({ ...judge }, 0), "json_schema");
    assert.equal(s.error, undefined);
    const text = defaultAnswer({ ...judge }, 0);
    assert.ok((JSON.parse(text) as { reason: string }).reason.length <= 40);
    const meta = requestBody(c, "meta_judge", "m", `Judgement A vs Judgement B #${i}`, 1, i);
    assert.equal(parseWinner(defaultAnswer({ ...meta }, 0), "json_schema").error, undefined);
  }
  const plain = requestBody(config(), "judge", "m", "additive 5-point", 1, 1);
  assert.match(defaultAnswer({ ...plain }, 0), /Score/, "without a schema the answers are the text ones");
});

test("fake server: malformed JSON only when asked for, as a deterministic share", async () => {
  const c = config((x) => {
    x.roles.judge.mode = "json_schema";
  });
  const failures = (share: number) => {
    let n = 0;
    for (let i = 0; i < 400; i++) {
      const body = requestBody(c, "judge", "m", `additive 5-point #${i}`, 1, i);
      if (parseScore(defaultAnswer({ ...body }, 0, undefined, share), "json_schema").score === null) n++;
    }
    return n;
  };
  assert.equal(failures(0), 0);
  const some = failures(0.2);
  assert.ok(some > 40 && some < 120, `${some} of 400 broken at a 0.2 share`);
  assert.equal(failures(0.2), some, "deterministic");

  const server = await startFakeOpenAI({ malformedJson: 1 });
  try {
    const body = requestBody(c, "judge", "fake-model", "additive 5-point", 4, 1);
    const res = await fetch(`${server.url}/chat/completions`, { method: "POST", body: JSON.stringify(body) });
    const json = (await res.json()) as { choices: { message: { content: string } }[] };
    for (const ch of json.choices) assert.equal(parseScore(ch.message.content, "json_schema").score, null);
  } finally {
    await server.close();
  }
});
