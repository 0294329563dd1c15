// A new stage is one entry in a stage table: the runner takes the table as it is, so a stage defined
// here (and nowhere in src) runs inside a real iteration with the lock held, its manifest entry kept
// and its events sent, like the built-in ones.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ProgressEvent } from "../../src/core/pipeline/events.js";
import { runIteration } from "../../src/core/pipeline/run.js";
import { LLM_STAGES, STAGE_TABLE, type DerivedStage } from "../../src/core/pipeline/stages/index.js";
import { STAGES } from "../../src/core/schema.js";
import { makeExperiment, readLines } from "../support/cli.js";
import { startFakeOpenAI } from "../support/fake-openai.js";

test("the built-in table runs the stages of STAGES in order; the model stages are the ones batches carry", () => {
  assert.deepEqual(
    STAGE_TABLE.map((s) => s.name),
    [...STAGES],
  );
  assert.deepEqual(LLM_STAGES, ["generate", "judge", "metajudge"]);
  assert.deepEqual(
    STAGE_TABLE.map((s) => s.kind),
    ["model", "model", "model", "derived", "derived"],
  );
});

test("a derived stage added to a table runs after generate through the same runner, holding the iteration's lock", async () => {
  const server = await startFakeOpenAI();
  try {
    const dir = makeExperiment(server.url);
    const iterDir = path.join(dir, "iterations", "1");
    let lockHeld = false;
    const countResponses: DerivedStage<"count"> = {
      name: "count",
      kind: "derived",
      async run(ctx) {
        lockHeld = fs.existsSync(path.join(ctx.store.dir, ".lock"));
        const responses = readLines(ctx.store.file("responses")).length;
        fs.writeFileSync(path.join(ctx.store.dir, "response-count.json"), JSON.stringify({ responses }) + "\n");
        return { responses };
      },
    };
    const generate = STAGE_TABLE.find((s) => s.name === "generate")!;
    const events: ProgressEvent[] = [];
    await runIteration({
      experimentDir: dir,
      iteration: 1,
      emit: (e) => events.push(e),
      signal: new AbortController().signal,
      table: [generate, countResponses],
    });

    const responses = readLines(path.join(iterDir, "responses.jsonl")).length;
    assert.equal(responses, 24 * 4, "generate ran from the built-in entry");
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(iterDir, "response-count.json"), "utf8")), { responses });
    assert.ok(lockHeld, "the stage ran while iterations/1/.lock was held");
    assert.ok(!fs.existsSync(path.join(iterDir, ".lock")), "the lock is released after the run");

    const manifest = JSON.parse(fs.readFileSync(path.join(iterDir, "manifest.json"), "utf8"));
    assert.equal(manifest.stages.count.state, "done");
    assert.deepEqual(manifest.stages.count.counts, { responses });
    assert.equal(manifest.stages.judge.state, "pending", "stages outside the table are not run");
    const ends = events.filter((e) => e.type === "stage-end").map((e) => (e as { stage: string }).stage);
    assert.deepEqual(ends, ["generate", "count"]);
  } finally {
    await server.close();
  }
});

test("a stage name the table does not have is refused before anything runs", async () => {
  const dir = makeExperiment("http://127.0.0.1:9/v1");
  await assert.rejects(
    runIteration({
      experimentDir: dir,
      iteration: 1,
      emit: () => {},
      signal: new AbortController().signal,
      table: STAGE_TABLE,
      stages: ["count"],
    }),
    /no stage "count"; the stages are generate, judge, metajudge, pairs, export/,
  );
  assert.ok(!fs.existsSync(path.join(dir, "iterations", "1", "manifest.json")));
});
