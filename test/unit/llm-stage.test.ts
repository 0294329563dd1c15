// The live stage writes the answers that arrive together in one group: what it reports as done is on
// disk, and a write that fails fails the stage naming the file, as a write per answer did.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { openRun } from "../../src/core/pipeline/context.js";
import { runLlmStage } from "../../src/core/pipeline/llm-stage.js";
import { planGenerate } from "../../src/core/pipeline/stages/generate.js";
import type { ProgressEvent } from "../../src/core/pipeline/events.js";
import { MetajudgeError } from "../../src/core/errors.js";
import { startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { makeExperiment, readLines } from "../support/cli.js";

let server: FakeServer;
before(async () => {
  server = await startFakeOpenAI({ latencyMs: 2 });
});
after(() => server.close());

async function generate(dir: string, onEvent: (e: ProgressEvent) => void = () => {}, planned: () => void = () => {}) {
  const ctx = await openRun({ experimentDir: dir, iteration: 1, emit: onEvent, signal: new AbortController().signal });
  try {
    const plan = await planGenerate(ctx);
    planned();
    await runLlmStage(ctx, plan);
  } finally {
    ctx.store.close();
  }
}

test("every answer is written once, stamped with its sampling, and progress never counts a record not yet on disk", async () => {
  const dir = makeExperiment(server.url, (c) => (c.concurrency = 16));
  const file = path.join(dir, "iterations", "1", "responses.jsonl");
  const seen: { done: number; onDisk: number }[] = [];
  await generate(dir, (e) => {
    if (e.type === "progress") seen.push({ done: e.done, onDisk: fs.existsSync(file) ? readLines(file).length : 0 });
  });
  const rows = readLines(file) as { id: string; sampling?: { n?: number } }[];
  assert.equal(rows.length, 24 * 4);
  assert.equal(new Set(rows.map((r) => r.id)).size, rows.length, "no record written twice");
  assert.ok(
    rows.every((r) => r.sampling?.n === 4),
    "each record keeps the sampling it was asked with",
  );
  assert.ok(seen.length > 0);
  for (const s of seen) assert.ok(s.done <= s.onDisk, `progress said ${s.done} done with ${s.onDisk} records on disk`);
  assert.equal(seen.at(-1)!.done, rows.length);
});

test("a write that fails (a full disk) fails the stage naming the file", { skip: !fs.existsSync("/dev/full") }, async () => {
  const dir = makeExperiment(server.url);
  // Planned from an empty iteration; then every append to the responses goes to a device that is always full.
  const full = (): void => fs.symlinkSync("/dev/full", path.join(dir, "iterations", "1", "responses.jsonl"));
  await assert.rejects(
    generate(dir, () => {}, full),
    (e: unknown) => e instanceof MetajudgeError && e.message.includes("responses.jsonl") && /ENOSPC|space/i.test(e.message),
  );
});
