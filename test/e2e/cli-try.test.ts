// `metajudge try` through the bundled CLI: an iteration run against a chat-completions server on
// 127.0.0.1, then an edited judge and meta-judge template tried on a few of its records, the new
// verdicts printed beside the ones the run stored.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { defaultAnswer, startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { ensureBuilt, makeExperiment, readLines, runCli, tmpDir } from "../support/cli.js";

let server: FakeServer;
let exp: string;
let edited: string;
let editedMeta: string;

before(async () => {
  ensureBuilt();
  // The run gets the usual answers; the edited rubrics get a verdict of their own, so new and stored differ.
  server = await startFakeOpenAI({
    respond: (req, i) => {
      const last = req.messages.at(-1)?.content ?? "";
      if (last.includes("EDITED JUDGE RUBRIC")) return "Harsher now.\n\nScore: 1";
      if (last.includes("EDITED META RUBRIC")) return "B is better.\n\nWinner: Judgement B";
      return defaultAnswer(req, i);
    },
  });
  exp = makeExperiment(server.url, (c) => {
    c.roles.actor.sampling.n = 2;
    c.roles.judge.sampling.n = 3;
  });
  const run = await runCli(["run", exp, "--iteration", "1", "--until", "metajudge", "--json"]);
  assert.equal(run.code, 0, run.stderr);
  const dir = tmpDir("try");
  edited = path.join(dir, "judge.md");
  fs.writeFileSync(edited, fs.readFileSync(path.join(exp, "prompts", "judge.md"), "utf8") + "\nEDITED JUDGE RUBRIC\n");
  editedMeta = path.join(dir, "meta_judge.md");
  fs.writeFileSync(editedMeta, fs.readFileSync(path.join(exp, "prompts", "meta_judge.md"), "utf8") + "\nEDITED META RUBRIC\n");
});
after(() => server.close());

interface TryJudgeCase {
  id: string;
  stored: (number | null)[];
  stored_mean: number | null;
  new_mean: number | null;
  answers: { score: number | null; text: string }[];
}

test("metajudge try --role judge --json: new scores beside the stored ones, from the run's records", async () => {
  const res = await runCli(["try", exp, "--role", "judge", "--template", edited, "--sample", "2", "--json"]);
  assert.equal(res.code, 0, res.stderr);
  const [out] = res.events as unknown as { type: string; iteration: number; n: number; cases: TryJudgeCase[] }[];
  assert.equal(out!.type, "try");
  assert.equal(out!.iteration, 1);
  assert.equal(out!.cases.length, 2);
  const judgements = readLines<{ response_id: string; index: number; score: number | null }>(
    path.join(exp, "iterations", "1", "judgements.jsonl"),
  );
  for (const c of out!.cases) {
    const stored = judgements
      .filter((j) => j.response_id === c.id)
      .sort((a, b) => a.index - b.index)
      .map((j) => j.score);
    assert.deepEqual(c.stored, stored, `stored scores of ${c.id}`);
    assert.deepEqual(
      c.answers.map((a) => a.score),
      [1, 1, 1],
      "the judge's n answers, parsed",
    );
    assert.equal(c.new_mean, 1);
  }
});

test("metajudge try --role judge: the report a person reads, table first", async () => {
  const res = await runCli(["try", exp, "--role", "judge", "--template", edited, "--sample", "2"]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /^# judge\.md tried on 2 responses/);
  assert.match(res.stdout, /\| response \| on disk \| this template \| change \|/);
  assert.match(res.stdout, /\| `[^`]+` \| [\d.]+ \(\d\/3\) \| 1 \(3\/3\) \| [−+±][\d.]+ \|/);
  assert.match(res.stdout, new RegExp(`the template in ${edited.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
  assert.match(res.stderr, /new scores 1, 1, 1 \(mean 1\), stored mean/);
});

test("metajudge try --role meta_judge: new battle verdicts beside the stored ones", async () => {
  const res = await runCli(["try", exp, "--role", "meta_judge", "--template", editedMeta, "--iteration", "1", "--sample", "3", "--json"]);
  assert.equal(res.code, 0, res.stderr);
  const [out] = res.events as unknown as { cases: { id: string; stored: string | null; new: string | null }[] }[];
  const battles = new Map(
    readLines<{ id: string; winner: string | null }>(path.join(exp, "iterations", "1", "meta_judgements.jsonl")).map((b) => [
      b.id,
      b.winner,
    ]),
  );
  assert.equal(out!.cases.length, 3);
  for (const c of out!.cases) {
    assert.equal(c.stored, battles.get(c.id));
    assert.equal(c.new, "second");
  }
});

test("metajudge try without --template tries the experiment's own template: the run's own verdicts come back", async () => {
  const res = await runCli(["try", exp, "--role", "judge", "--sample", "1", "--json"]);
  assert.equal(res.code, 0, res.stderr);
  const [out] = res.events as unknown as { cases: TryJudgeCase[] }[];
  // Same template, model, sampling and seed as the run, and a server whose answers are a function of the request.
  assert.deepEqual(
    out!.cases[0]!.answers.map((a) => a.score),
    out!.cases[0]!.stored,
  );
});

test("metajudge try: a broken template is refused with its file:line, bad usage exits 2, no records says what to run", async () => {
  const broken = path.join(tmpDir("try-bad"), "judge.md");
  fs.writeFileSync(broken, "Rate this.\n{{respons}} for {{prompt}}\n");
  const bad = await runCli(["try", exp, "--role", "judge", "--template", broken]);
  assert.equal(bad.code, 1);
  assert.match(
    bad.stderr,
    new RegExp(`${broken.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2:\\d+: .*respons.*a run would refuse this template`),
  );
  const noRole = await runCli(["try", exp]);
  assert.equal(noRole.code, 2);
  assert.match(noRole.stderr, /try needs --role judge or --role meta_judge/);
  const none = await runCli(["try", exp, "--role", "judge", "--iteration", "2"]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /No response on disk in iteration 2/);
});
