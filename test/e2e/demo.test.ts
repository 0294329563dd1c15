// The demo's iteration, headless, against the embedded local model: the data contract, the counts
// the demo config implies, and the same records for the same seed.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { ensureBuilt, readLines, ROOT, tmpDir } from "../support/cli.js";
import {
  DpoRecordSchema,
  JudgementRecordSchema,
  ManifestSchema,
  MetaJudgementRecordSchema,
  ResponseRecordSchema,
  STAGES,
} from "../../src/core/schema.js";
import * as fs from "node:fs";

before(() => ensureBuilt());

function demo(dir: string, seed = 7): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(ROOT, "scripts", "demo.ts"), "--no-editor", "--dir", dir, "--seed", String(seed)],
      {
        cwd: ROOT,
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, err }));
  });
}

const canonical = (file: string): string[] =>
  readLines(file)
    .map((r) => JSON.stringify(r, Object.keys(r).sort()))
    .sort();

test("the demo iteration: every file valid, counts as configured, the same records for the same seed", { timeout: 600_000 }, async () => {
  const a = path.join(tmpDir("demo"), "a");
  const b = path.join(tmpDir("demo"), "b");
  const [ra, rb] = [await demo(a), await demo(b)];
  assert.equal(ra.code, 0, ra.err);
  assert.equal(rb.code, 0, rb.err);
  assert.match(ra.err, /random weights: its (answers|output) (are|is) meaningless/);

  const it = path.join(a, "iterations", "1");
  const config = JSON.parse(fs.readFileSync(path.join(a, "metajudge.json"), "utf8")) as {
    roles: Record<string, { sampling: { n: number } }>;
  };
  const K = config.roles.actor!.sampling.n;
  const N = config.roles.judge!.sampling.n;
  const prompts = readLines(path.join(a, "prompts.jsonl"));

  const responses = readLines(path.join(it, "responses.jsonl")).map((r) => ResponseRecordSchema.parse(r));
  assert.equal(responses.length, prompts.length * K);
  const judgements = readLines(path.join(it, "judgements.jsonl")).map((r) => JudgementRecordSchema.parse(r));
  const distinct = new Set(responses.map((r) => `${r.prompt_id}\u0000${r.text}`)).size;
  assert.equal(judgements.length, distinct * N, "N judgements per distinct response");
  assert.equal(judgements.filter((j) => j.score === null).length, 0, "structured judging: every judgement parses");

  const battles = readLines(path.join(it, "meta_judgements.jsonl")).map((r) => MetaJudgementRecordSchema.parse(r));
  const perResponse = new Map<string, number>();
  for (const x of battles) perResponse.set(x.response_id, (perResponse.get(x.response_id) ?? 0) + 1);
  for (const [rid, count] of perResponse) {
    const v = judgements.filter((j) => j.response_id === rid && j.score !== null).length;
    assert.equal(count, v * (v - 1), `battles of ${rid}: every ordered pair of its ${v} valid judgements`);
  }
  assert.equal(battles.filter((x) => x.winner === null).length, 0, "structured verdicts parse");

  const manifest = ManifestSchema.parse(JSON.parse(fs.readFileSync(path.join(it, "manifest.json"), "utf8")));
  for (const s of STAGES) assert.equal(manifest.stages[s]?.state, "done", s);
  const dpo = readLines(path.join(it, "dpo.jsonl")).map((r) => DpoRecordSchema.parse(r));
  const pairs = readLines(path.join(it, "pairs.actor.jsonl")).length + readLines(path.join(it, "pairs.judge.jsonl")).length;
  assert.equal(dpo.length, pairs);
  assert.ok(dpo.length > 0, "the demo yields training pairs");

  for (const f of ["responses.jsonl", "judgements.jsonl", "meta_judgements.jsonl", "pairs.actor.jsonl", "pairs.judge.jsonl", "dpo.jsonl"]) {
    assert.deepEqual(canonical(path.join(b, "iterations", "1", f)), canonical(path.join(it, f)), `${f}: same seed, same records`);
  }
});
