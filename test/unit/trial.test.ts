// "Try on sample" in plain Node: which records a template is tried on, the request a run would send,
// the answers parsed as a run parses them, and the report of new against stored verdicts.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../../src/core/config.js";
import { fillingFor } from "../../src/core/trial/fill.js";
import { trialReport } from "../../src/core/trial/report.js";
import { NoRecordsError, planTrial, runTrial, trialRequest, type JudgeCase } from "../../src/core/trial/trial.js";
import { outcomeLines, trialClient, trialTemplate } from "../../src/core/trial/try.js";
import { openReference, references } from "../../src/core/template-variables.js";
import { startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { makeExperiment } from "../support/cli.js";

let server: FakeServer;
let dir: string;

const jsonl = (rows: object[]): string => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

before(async () => {
  server = await startFakeOpenAI({
    respond: (req) => {
      const last = req.messages.at(-1)?.content ?? "";
      return /Judg(e?)ment A/.test(last) ? "A reads better.\n\nWinner: Judgement B" : "Fine.\n\nScore: 4";
    },
  });
  dir = makeExperiment(server.url, (c) => {
    c.roles.judge.sampling.n = 2;
  });
  const prompts = fs
    .readFileSync(path.join(dir, "prompts.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { id: string });
  const [p1, p2] = [String(prompts[0]!.id), String(prompts[1]!.id)];
  const it = path.join(dir, "iterations", "1");
  fs.mkdirSync(it, { recursive: true });
  fs.writeFileSync(
    path.join(it, "responses.jsonl"),
    jsonl([
      { id: "r1", prompt_id: p1, index: 0, text: "answer one" },
      { id: "r2", prompt_id: p1, index: 1, text: "answer two" },
      { id: "r3", prompt_id: p2, index: 0, text: "answer three" },
    ]),
  );
  fs.writeFileSync(
    path.join(it, "judgements.jsonl"),
    jsonl([
      { id: "j1", response_id: "r1", prompt_id: p1, index: 0, text: "meh\nScore: 2", score: 2 },
      { id: "j2", response_id: "r1", prompt_id: p1, index: 1, text: "ok\nScore: 3", score: 3 },
      { id: "j3", response_id: "r3", prompt_id: p2, index: 0, text: "no score here", score: null },
    ]),
  );
  fs.writeFileSync(
    path.join(it, "meta_judgements.jsonl"),
    jsonl([{ id: "b1", prompt_id: p1, response_id: "r1", first_id: "j1", second_id: "j2", winner: "first" }]),
  );
});
after(() => server.close());

const exp = () => ({ dir, config: loadConfig(dir) });

test("the judge sample: judged responses first, one per prompt, with their stored scores in order", async () => {
  const plan = await planTrial("judge", exp(), 3);
  assert.equal(plan.iteration, 1);
  assert.equal(plan.n, 2);
  assert.deepEqual(
    plan.cases.map((c) => [c.id, c.stored]),
    [
      ["r1", [2, 3]],
      ["r3", [null]],
    ],
  );
  assert.equal((plan.cases[0] as JudgeCase).vars.response, "answer one");
});

test("an iteration without records of the kind says what to run", async () => {
  await assert.rejects(
    planTrial("judge", exp(), 3, 2),
    (err: unknown) => err instanceof NoRecordsError && /in iteration 2.*run the generate and judge stages/.test(err.message),
  );
  const meta = await planTrial("meta_judge", exp(), 3, 1);
  assert.deepEqual(
    meta.cases.map((c) => [c.id, c.stored]),
    [["b1", "first"]],
  );
});

test("a template a run would refuse is refused; a good one is sent as a run would send it", async () => {
  const bad = trialTemplate("Rate {{respons}} for {{prompt}}", "judge", "judge.md");
  assert.ok("errors" in bad && bad.errors.length > 0 && /respons/.test(bad.errors[0]!.message));
  const good = trialTemplate("Q: {{prompt}}\nA: {{response}}\nGive Score: <n>", "judge", "judge.md");
  assert.ok("template" in good);
  const plan = await planTrial("judge", exp(), 3);
  const req = trialRequest(plan, exp(), good.template, plan.cases[0]!);
  assert.equal(req.n, 2);
  assert.match(JSON.stringify(req.messages), /A: answer one/);
});

test("tried on the endpoint: answers parsed, the report shows new beside stored", async () => {
  const good = trialTemplate("Q: {{prompt}}\nA: {{response}}\nScore it.", "judge", "judge.md");
  assert.ok("template" in good);
  const plan = await planTrial("judge", exp(), 3);
  const seen: string[] = [];
  const outcomes = await runTrial(plan, exp(), good.template, trialClient(plan, exp(), undefined), new AbortController().signal, (o) =>
    seen.push(o.id),
  );
  assert.deepEqual(seen.sort(), ["r1", "r3"]);
  for (const o of outcomes)
    assert.deepEqual(
      o.answers.map((a) => a.score),
      [4, 4],
    );
  const lines = outcomeLines(
    plan,
    outcomes.find((o) => o.id === "r1")!,
    String,
  );
  assert.match(lines[0]!.text, /^r1: new scores 4, 4 \(mean 4\), stored mean 2\.5/);
  const report = trialReport(plan, outcomes, {
    templateName: "judge.md",
    source: "the template in judge.md",
    describe: String,
    at: new Date(0),
  });
  assert.match(report, /\| `r1` \| 2\.5 \(2\/2\) \| 4 \(2\/2\) \| \+1\.5 \|/);
  assert.match(report, /\| `r3` \| – \(0\/1\) \| 4 \(2\/2\) \| – \|/);
  assert.match(report, /the template in judge\.md, sent to http/);
});

test("the meta-judge on a battle: the new verdict beside the stored one", async () => {
  const good = trialTemplate("{{prompt}} {{response}} Judgement A: {{judgement_a}} Judgement B: {{judgement_b}}", "meta_judge", "meta.md");
  assert.ok("template" in good);
  const plan = await planTrial("meta_judge", exp(), 3);
  const outcomes = await runTrial(plan, exp(), good.template, trialClient(plan, exp(), undefined), new AbortController().signal, () => {});
  assert.equal(outcomes[0]!.answers[0]!.winner, "second");
  const report = trialReport(plan, outcomes, { templateName: "meta.md", source: "x", describe: String, at: new Date(0) });
  assert.match(report, /\| `b1` \| A \(first\) \| B \(second\) \| \*\*no\*\* \|/);
});

test("a key the endpoint names but nobody set is an auth error before any request", async () => {
  const e = exp();
  e.config.endpoint = { ...e.config.endpoint, api_key_env: "MJ_TRIAL_TEST_KEY" };
  const plan = await planTrial("judge", e, 1);
  assert.throws(() => trialClient(plan, e, undefined), /API key named MJ_TRIAL_TEST_KEY/);
});

test("fillings and variable references, moved with the rest", async () => {
  const judge = await fillingFor("judge", exp());
  assert.ok("from" in judge && judge.vars.response === "answer one");
  const meta = await fillingFor("meta_judge", exp());
  assert.ok("from" in meta && meta.vars.judgement_a === "meh\nScore: 2" && /battle b1/.test(meta.from));
  assert.deepEqual(
    references("a {{ prompt }} \\{{x}} {{response}}").map((r) => r.name),
    ["prompt", "response"],
  );
  assert.deepEqual(openReference("Rate {{ resp"), { nameStart: 8, typed: "resp" });
});
