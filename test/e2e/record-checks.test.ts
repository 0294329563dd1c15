// `metajudge validate` checks every iteration's record files, and an annotation line that cannot be
// read is named wherever flags matter (validate, pairs, export), never passed over in silence.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { ensureBuilt, makeExperiment, runCli } from "../support/cli.js";

let server: FakeServer;
let exp: string;
let iter: string;

before(async () => {
  ensureBuilt();
  server = await startFakeOpenAI({ latencyMs: 1 });
  exp = makeExperiment(server.url);
  iter = path.join(exp, "iterations", "1");
  const res = await runCli(["run", exp, "--iteration", "1"]);
  assert.equal(res.code, 0, res.stderr);
});
after(() => server.close());

const file = (name: string): string => path.join(iter, name);
const lines = (name: string): string[] =>
  fs
    .readFileSync(file(name), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
const lineCount = (name: string): number => lines(name).length;

interface Problem {
  kind: string;
  file: string;
  line: number;
  message: string;
  first_line?: number;
}
interface ValidateJson {
  ok: boolean;
  records: { iteration: number; counts: Record<string, number>; problems: Problem[] }[];
}

test("validate: a clean iteration passes and says how many records it checked", async () => {
  const res = await runCli(["validate", exp]);
  assert.equal(res.code, 0, res.stdout + res.stderr);
  assert.match(res.stdout, /iteration 1: \d+ responses, \d+ judgements, \d+ battles.*no problems/);
  const json = await runCli(["validate", exp, "--json"]);
  assert.equal(json.code, 0);
  const v = JSON.parse(json.stdout) as ValidateJson;
  assert.equal(v.ok, true);
  assert.deepEqual(v.records[0]?.problems, []);
});

test("validate names each duplicate, torn, malformed, incomplete and unknown-id record with file:line and exits 1", async () => {
  const r = lines("responses.jsonl").map((l) => JSON.parse(l) as Record<string, unknown>);
  const j = lines("judgements.jsonl").map((l) => JSON.parse(l) as Record<string, unknown>);
  const b = lines("meta_judgements.jsonl").map((l) => JSON.parse(l) as Record<string, unknown>);
  const rN = lineCount("responses.jsonl");
  const jN = lineCount("judgements.jsonl");
  const bN = lineCount("meta_judgements.jsonl");
  const append = (name: string, recs: (object | string)[]): void =>
    fs.appendFileSync(file(name), recs.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join("\n") + "\n");

  append("responses.jsonl", [
    r[2]!, // rN+1: duplicate of line 3
    { ...r[0]!, id: "ghost:r0", prompt_id: "no-such-prompt" }, // rN+2: unknown prompt
    { id: "half:r0", prompt_id: r[0]!.prompt_id, index: 0 }, // rN+3: no text
  ]);
  append("judgements.jsonl", [
    "{not json at all", // jN+1: malformed
    { ...j[0]!, id: "x:j0", response_id: "nobody:r9" }, // jN+2: unknown response
    { ...j[0]!, id: "y:j0", prompt_id: "some-other-prompt" }, // jN+3: prompt disagrees with its response's
    ...Array.from({ length: 25 }, (_, i) => j[i]!), // jN+4 … jN+28: 25 duplicates, more than a listing shows
  ]);
  append("meta_judgements.jsonl", [
    { ...b[0]!, id: "self:m1-1", second_id: b[0]!.first_id }, // bN+1: self-battle
    { ...b[0]!, id: "lost:m0-9", first_id: "nowhere:j9" }, // bN+2: unknown judgement
  ]);
  fs.appendFileSync(file("meta_judgements.jsonl"), '{"id": "cut-short", "prompt_id": "p'); // bN+3: torn last line

  const res = await runCli(["validate", exp]);
  assert.equal(res.code, 1, res.stdout + res.stderr);
  const out = res.stdout;
  const R = file("responses.jsonl");
  const J = file("judgements.jsonl");
  const B = file("meta_judgements.jsonl");
  assert.ok(out.includes(`${R}:${rN + 1}: `) && out.includes(`repeats line 3`), out);
  assert.ok(out.includes(`${R}:${rN + 2}: `) && out.includes(`"no-such-prompt", which is not in the prompt set`), out);
  assert.ok(out.includes(`${R}:${rN + 3}: "text" is missing`), out);
  assert.ok(out.includes(`${J}:${jN + 1}: not valid JSON`), out);
  assert.ok(out.includes(`${J}:${jN + 2}: `) && out.includes(`"nobody:r9", which is not in responses.jsonl`), out);
  assert.ok(out.includes(`${J}:${jN + 3}: `) && out.includes(`names prompt "some-other-prompt", but its response`), out);
  assert.ok(out.includes(`${J}:${jN + 4}: id ${JSON.stringify(j[0]!.id)} repeats line 1`), out);
  assert.ok(out.includes(`${B}:${bN + 1}: `) && out.includes("against itself"), out);
  assert.ok(out.includes(`${B}:${bN + 2}: `) && out.includes(`"nowhere:j9", which is not in judgements.jsonl`), out);
  assert.ok(out.includes(`${B}:${bN + 3}: last line is incomplete`), out);
  // A count per kind, and long lists capped.
  assert.match(out, /duplicate_id: 26\b/);
  assert.match(out, /and 6 more duplicate_id/);
  assert.ok(!out.includes(`${J}:${jN + 28}:`), "the listing is capped");

  const json = await runCli(["validate", exp, "--json"]);
  assert.equal(json.code, 1);
  const v = JSON.parse(json.stdout) as ValidateJson;
  assert.equal(v.ok, false);
  const it = v.records[0]!;
  assert.deepEqual(Object.fromEntries(Object.entries(it.counts).filter(([, n]) => n > 0)), {
    duplicate_id: 26,
    torn_line: 1,
    malformed_line: 1,
    missing_field: 1,
    unknown_id: 3,
    self_battle: 1,
    prompt_mismatch: 1,
  });
  assert.equal(it.problems.filter((p) => p.kind === "duplicate_id").length, 26, "--json lists every problem");
  const last = it.problems.find((p) => p.file === J && p.line === jN + 28)!;
  assert.equal(last.kind, "duplicate_id");
  assert.equal(last.first_line, 25);
});

test("an unreadable annotation line is named by pairs, export and validate; pairs refuses unless told", async () => {
  // Start from clean records (the previous test broke them on purpose).
  exp = makeExperiment(server.url);
  iter = path.join(exp, "iterations", "1");
  let res = await runCli(["run", exp, "--iteration", "1"]);
  assert.equal(res.code, 0, res.stderr);
  const target = (JSON.parse(lines("responses.jsonl")[0]!) as { id: string }).id;
  const A = file("annotations.jsonl");
  const now = new Date().toISOString();
  fs.writeFileSync(
    A,
    JSON.stringify({ target_id: target, label: "suspicious", note: "", created_at: now }) +
      "\n" +
      JSON.stringify({ target_id: target, label: "suspect", note: "typo in the label", created_at: now }) +
      "\n" +
      '{"target_id": "' +
      target +
      '", "label": "susp',
  );
  const before = fs.readFileSync(file("pairs.actor.jsonl"), "utf8");

  res = await runCli(["pairs", iter]);
  assert.equal(res.code, 1, "pairs refuses while a flag may be lost");
  assert.ok(res.stderr.includes(`${A}:2: label`), res.stderr);
  assert.ok(res.stderr.includes(`${A}:3: last line is incomplete`), res.stderr);
  assert.match(res.stderr, /--allow-unreadable-annotations/);
  assert.equal(fs.readFileSync(file("pairs.actor.jsonl"), "utf8"), before, "nothing written");

  res = await runCli(["pairs", iter, "--allow-unreadable-annotations", "--json"]);
  assert.equal(res.code, 0, res.stderr);
  const pairs = res.events.find((e) => e.type === "pairs") as { annotation_problems: { file: string; line: number; message: string }[] };
  assert.deepEqual(
    pairs.annotation_problems.map((p) => [p.file, p.line]),
    [
      [A, 2],
      [A, 3],
    ],
  );
  res = await runCli(["pairs", iter, "--allow-unreadable-annotations"]);
  assert.equal(res.code, 0, res.stderr);
  assert.ok(res.stderr.includes(`${A}:2: `) && res.stderr.includes(`${A}:3: `), res.stderr);

  res = await runCli(["export", iter]);
  assert.equal(res.code, 0, res.stderr);
  assert.ok(res.stderr.includes(`${A}:2: `) && res.stderr.includes(`${A}:3: `), res.stderr);
  res = await runCli(["export", iter, "--json"]);
  const ex = res.events.find((e) => e.type === "export") as { annotation_problems: { line: number }[] };
  assert.deepEqual(
    ex.annotation_problems.map((p) => p.line),
    [2, 3],
  );

  // The run's own stages: pairs refuses as `metajudge pairs` does; export alone names the lines.
  res = await runCli(["run", exp, "--iteration", "1", "--stage", "pairs"]);
  assert.equal(res.code, 1, "the run's pairs stage refuses too");
  assert.ok(res.stderr.includes(`${A}:2: `) && res.stderr.includes(`${A}:3: `), res.stderr);
  res = await runCli(["run", exp, "--iteration", "1", "--stage", "export"]);
  assert.equal(res.code, 0, res.stderr);
  assert.ok(res.stderr.includes(`${A}:2: `) && res.stderr.includes(`${A}:3: `), `the run's export stage names them: ${res.stderr}`);

  res = await runCli(["validate", exp]);
  assert.equal(res.code, 1);
  assert.ok(res.stdout.includes(`${A}:2: label`) && res.stdout.includes(`${A}:3: last line is incomplete`), res.stdout);
  res = await runCli(["validate", exp, "--json"]);
  const v = JSON.parse(res.stdout) as ValidateJson;
  assert.deepEqual(
    v.records[0]!.problems.filter((p) => p.kind === "unreadable_annotation").map((p) => p.line),
    [2, 3],
  );
});
