// A record line written twice (by hand, a bad merge, a second run on the same folder) must not
// change what the iteration holds: every reader keeps the first record of an id, every stage plans
// from that view, and the training data agrees with the pairs it came from.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { ensureBuilt, makeExperiment, readLines, runCli } from "../support/cli.js";
import { charLength } from "../../src/core/store/records.js";

let server: FakeServer;
let exp: string;
let iter: string;

before(async () => {
  ensureBuilt();
  server = await startFakeOpenAI({ latencyMs: 1 });
  exp = makeExperiment(server.url);
  iter = path.join(exp, "iterations", "1");
});
after(() => server.close());

type Rec = { id: string; text: string; [k: string]: unknown };
const file = (name: string): string => path.join(iter, name);
const rawLines = (name: string): string[] =>
  fs
    .readFileSync(file(name), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
const dupIds = (recs: { id: string }[]): string[] => {
  const seen = new Set<string>();
  return recs.filter((r) => (seen.has(r.id) ? true : (seen.add(r.id), false))).map((r) => r.id);
};

test("duplicated response, judgement and battle lines: no duplicate work, no self-battles, dpo agrees with pairs", async () => {
  let res = await runCli(["run", exp, "--iteration", "1", "--until", "generate"]);
  assert.equal(res.code, 0, res.stderr);
  // One response appended again verbatim, another appended again with its text edited by hand.
  const responseLines = rawLines("responses.jsonl");
  const edited = JSON.parse(responseLines[1]!) as Rec;
  edited.text = `${edited.text} (edited copy, much longer than the first one so its length differs)`;
  fs.appendFileSync(file("responses.jsonl"), `${responseLines[0]}\n${JSON.stringify(edited)}\n`);

  res = await runCli(["run", exp, "--iteration", "1", "--until", "judge"]);
  assert.equal(res.code, 0, res.stderr);
  assert.ok(
    res.stderr.includes(
      `${file("responses.jsonl")}:${responseLines.length + 1}: repeats id ${JSON.stringify((JSON.parse(responseLines[0]!) as Rec).id)} (and 1 more line repeats an earlier id)`,
    ),
    `the run says once where the repeats are: ${res.stderr}`,
  );
  const judgements = readLines<Rec & { response_id: string; score: number | null }>(file("judgements.jsonl"));
  assert.deepEqual(dupIds(judgements), [], "no judgement is written twice");

  // The whole judgement file appended to itself, as a bad merge of two copies would leave it.
  assert.ok(judgements.some((j) => j.score !== null));
  fs.appendFileSync(file("judgements.jsonl"), rawLines("judgements.jsonl").join("\n") + "\n");

  res = await runCli(["run", exp, "--iteration", "1", "--until", "metajudge"]);
  assert.equal(res.code, 0, res.stderr);
  const battles = readLines<Rec & { first_id: string; second_id: string }>(file("meta_judgements.jsonl"));
  assert.ok(battles.length > 0);
  assert.deepEqual(dupIds(battles), [], "no battle is written twice");
  assert.deepEqual(
    battles.filter((b) => b.first_id === b.second_id).map((b) => b.id),
    [],
    "no judgement battles itself",
  );

  // A battle appended again, then the rest of the iteration.
  fs.appendFileSync(file("meta_judgements.jsonl"), `${rawLines("meta_judgements.jsonl")[0]}\n`);
  res = await runCli(["run", exp, "--iteration", "1"]);
  assert.equal(res.code, 0, res.stderr);

  // The first record of an id is the one that counts, for pairs and for the training text alike.
  const firstText = new Map<string, string>();
  for (const r of readLines<Rec>(file("responses.jsonl"))) if (!firstText.has(r.id)) firstText.set(r.id, r.text);
  const pairs = readLines<{ chosen_id: string; rejected_id: string; chosen_length: number; rejected_length: number }>(
    file("pairs.actor.jsonl"),
  );
  const dpo = readLines<{
    kind: string;
    chosen: { content: string }[];
    rejected: { content: string }[];
    source_ids: { chosen_id: string; rejected_id: string };
  }>(file("dpo.jsonl"));
  assert.ok(pairs.length > 0);
  const pairOf = new Map(pairs.map((p) => [p.chosen_id + "|" + p.rejected_id, p]));
  const actor = dpo.filter((d) => d.kind === "actor");
  assert.equal(actor.length, pairs.length);
  for (const d of actor) {
    const p = pairOf.get(d.source_ids.chosen_id + "|" + d.source_ids.rejected_id)!;
    assert.equal(charLength(d.chosen[0]!.content), p.chosen_length, `chosen text of ${p.chosen_id} has the pair's length`);
    assert.equal(charLength(d.rejected[0]!.content), p.rejected_length, `rejected text of ${p.rejected_id} has the pair's length`);
    assert.equal(d.chosen[0]!.content, firstText.get(p.chosen_id));
    assert.equal(d.rejected[0]!.content, firstText.get(p.rejected_id));
  }
  // The edited response, named by a pair written by hand, is exported with its first text.
  const other = [...firstText.keys()].find((id) => id !== edited.id && id.startsWith(`${edited.prompt_id as string}:`))!;
  const handPair = {
    prompt_id: edited.prompt_id,
    chosen_id: edited.id,
    rejected_id: other,
    chosen_score: 5,
    rejected_score: 1,
    chosen_length: charLength(firstText.get(edited.id)!),
    rejected_length: charLength(firstText.get(other)!),
  };
  fs.writeFileSync(file("pairs.actor.jsonl"), JSON.stringify(handPair) + "\n");
  res = await runCli(["export", iter]);
  assert.equal(res.code, 0, res.stderr);
  const [only] = readLines<{ chosen: { content: string }[] }>(file("dpo.jsonl")).filter(
    (d) => (d as unknown as { kind: string }).kind === "actor",
  );
  assert.equal(only?.chosen[0]!.content, firstText.get(edited.id), "the first record of an id is the one exported");
  assert.equal(charLength(only!.chosen[0]!.content), handPair.chosen_length);
});
