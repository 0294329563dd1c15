// Offline stages: requests written as OpenAI Batch JSONL, run elsewhere, results joined back on
// custom_id. The records must equal those of a live run against the same deterministic server.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { runBatch } from "../support/batch-runner.js";
import { ensureBuilt, makeExperiment, readLines, runCli, tmpDir } from "../support/cli.js";

let server: FakeServer;
before(async () => {
  ensureBuilt();
  server = await startFakeOpenAI({ latencyMs: 1 });
});
after(() => server.close());

const sorted = (file: string): string[] =>
  readLines(file)
    .map((r) => JSON.stringify(r, Object.keys(r).sort()))
    .sort();

test("batch write → run elsewhere (partial, with failures) → batch read → write again asks only for the rest", async () => {
  const live = makeExperiment(server.url);
  assert.equal((await runCli(["run", live, "--iteration", "1", "--until", "judge"])).code, 0);

  const offline = makeExperiment(server.url);
  const work = tmpDir("batch");
  for (const stage of ["generate", "judge"]) {
    const requests = path.join(work, `${stage}.requests.jsonl`);
    const results = path.join(work, `${stage}.results.jsonl`);
    const w = await runCli(["batch", "write", offline, "--iteration", "1", "--stage", stage, requests, "--json"]);
    assert.equal(w.code, 0, w.stderr);
    const first = readLines<{ custom_id: string; method: string; url: string; body: { model: string; n: number; messages: unknown[] } }>(
      requests,
    );
    assert.equal(first.length, (JSON.parse(w.stdout) as { requests: number }).requests);
    for (const r of first) {
      assert.equal(r.method, "POST");
      assert.equal(r.url, "/v1/chat/completions");
      assert.equal(r.body.model, "fake-model");
    }
    assert.equal(new Set(first.map((r) => r.custom_id)).size, first.length, "custom_ids are unique");

    // An interrupted engine: two results missing, one failed.
    await runBatch(server.url, requests, results, { drop: new Set([0, 5]), fail: new Set([3]) });
    const r1 = await runCli(["batch", "read", offline, "--iteration", "1", "--stage", stage, results, "--json"]);
    assert.equal(r1.code, 0, r1.stderr);
    const s1 = JSON.parse(r1.stdout.trim().split("\n").at(-1)!) as { missing: number; failed: number; requests: number };
    assert.deepEqual([s1.missing, s1.failed, s1.requests], [3, 1, first.length - 3]);

    const again = await runCli(["batch", "write", offline, "--iteration", "1", "--stage", stage, requests]);
    assert.equal(again.code, 0, again.stderr);
    const second = readLines<{ custom_id: string }>(requests);
    assert.deepEqual(second.map((r) => r.custom_id).sort(), [first[0]!, first[3]!, first[5]!].map((r) => r.custom_id).sort());
    await runBatch(server.url, requests, results);
    const r2 = await runCli(["batch", "read", offline, "--iteration", "1", "--stage", stage, results, "--json"]);
    assert.equal((JSON.parse(r2.stdout.trim().split("\n").at(-1)!) as { missing: number }).missing, 0);
    // Reading the same results twice adds nothing.
    const r3 = await runCli(["batch", "read", offline, "--iteration", "1", "--stage", stage, results, "--json"]);
    assert.equal((JSON.parse(r3.stdout.trim().split("\n").at(-1)!) as { imported: number; unknown: number }).imported, 0);
  }
  for (const f of ["responses.jsonl", "judgements.jsonl"]) {
    assert.deepEqual(
      sorted(path.join(offline, "iterations", "1", f)),
      sorted(path.join(live, "iterations", "1", f)),
      `${f} equals the live run's`,
    );
  }
  // The live pipeline picks up where the batches left off.
  const before = server.stats.requests;
  const rest = await runCli(["run", offline, "--iteration", "1", "--until", "judge"]);
  assert.equal(rest.code, 0, rest.stderr);
  assert.equal(server.stats.requests, before);
});

test("batch read of a missing file, and batch on a non-model stage, are clear errors", async () => {
  const exp = makeExperiment(server.url);
  const r = await runCli(["batch", "read", exp, "--iteration", "1", "--stage", "generate", path.join(exp, "nope.jsonl")]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /batch results file not found: .*nope\.jsonl/);
  const u = await runCli(["batch", "write", exp, "--iteration", "1", "--stage", "pairs", "x.jsonl"]);
  assert.equal(u.code, 2);
  assert.ok(!fs.existsSync(path.join(exp, "x.jsonl")));
});
