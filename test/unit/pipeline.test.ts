// Planning from what is on disk: ids, seeds and partial groups, without any server.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { openRun } from "../../src/core/pipeline/context.js";
import { planGenerate } from "../../src/core/pipeline/stages/generate.js";
import { planJudge, distinctResponses } from "../../src/core/pipeline/stages/judge.js";
import { deriveSeed, responseId } from "../../src/core/pipeline/ids.js";
import type { ProgressEvent } from "../../src/core/pipeline/events.js";
import { makeExperiment } from "../support/cli.js";

async function ctxFor(dir: string, events: ProgressEvent[] = []) {
  return openRun({ experimentDir: dir, iteration: 1, emit: (e) => events.push(e), signal: new AbortController().signal });
}

test("a prompt with some responses on disk is asked again whole (same seed) and only the missing ones are written", async () => {
  const dir = makeExperiment("http://127.0.0.1:9/v1");
  const iter = path.join(dir, "iterations", "1");
  fs.mkdirSync(iter, { recursive: true });
  const rec = (i: number) => JSON.stringify({ id: responseId("starter-01", i), prompt_id: "starter-01", index: i, text: `kept ${i}` });
  fs.writeFileSync(path.join(iter, "responses.jsonl"), [rec(0), rec(2)].join("\n") + "\n");
  const ctx = await ctxFor(dir);
  const plan = await planGenerate(ctx);
  assert.equal(plan.total, 24 * 4);
  assert.equal(plan.done, 2);
  assert.equal(plan.tasks.length, 24);
  const t = plan.tasks.find((x) => x.id === "generate:starter-01")!;
  assert.equal(t.records, 2);
  assert.equal(t.body.n, 4, "the whole group is asked for, so a seeded server gives the same texts");
  assert.equal(t.body.seed, deriveSeed(1, "starter-01"));
  const records = t.accept({
    choices: [0, 1, 2, 3].map((index) => ({ index, text: `new ${index}`, finish_reason: "stop" })),
    usage: { prompt_tokens: 1, completion_tokens: 1 },
    model: "m",
    latencyMs: 1,
    attempts: 1,
  }) as { id: string; text: string }[];
  assert.deepEqual(
    records.map((r) => [r.id, r.text]),
    [
      ["starter-01:r1", "new 1"],
      ["starter-01:r3", "new 3"],
    ],
  );
  ctx.store.close();
});

test("seeds differ per prompt and are stable", () => {
  assert.equal(deriveSeed(1, "a"), deriveSeed(1, "a"));
  assert.notEqual(deriveSeed(1, "a"), deriveSeed(1, "b"));
  assert.equal(deriveSeed(undefined, "a"), undefined);
  assert.ok(deriveSeed(7, "x")! < 0x7fffffff);
});

test("exact duplicate responses are judged once, the lowest index standing for them", async () => {
  const rows = [
    { id: "p:r2", prompt_id: "p", index: 2, length: 1, text: "same" },
    { id: "p:r0", prompt_id: "p", index: 0, length: 1, text: "same" },
    { id: "p:r1", prompt_id: "p", index: 1, length: 1, text: "other" },
    { id: "q:r0", prompt_id: "q", index: 0, length: 1, text: "same" },
  ];
  const { keep, duplicates } = distinctResponses(rows);
  assert.deepEqual(keep.map((r) => r.id).sort(), ["p:r0", "p:r1", "q:r0"]);
  assert.equal(duplicates, 1);

  const dir = makeExperiment("http://127.0.0.1:9/v1");
  const iter = path.join(dir, "iterations", "1");
  fs.mkdirSync(iter, { recursive: true });
  fs.writeFileSync(
    path.join(iter, "responses.jsonl"),
    rows
      .map((r) =>
        JSON.stringify({
          id: r.id.replace(/^p/, "starter-01").replace(/^q/, "starter-02"),
          prompt_id: r.prompt_id === "p" ? "starter-01" : "starter-02",
          index: r.index,
          text: r.text,
        }),
      )
      .join("\n") + "\n",
  );
  const ctx = await ctxFor(dir);
  const plan = await planJudge(ctx);
  assert.equal(plan.tasks.length, 3);
  assert.equal(plan.counts.duplicates_skipped, 1);
  assert.equal(plan.total, 3 * 5);
  ctx.store.close();
});

test("opening a run repairs a torn record file and says so", async () => {
  const dir = makeExperiment("http://127.0.0.1:9/v1");
  const iter = path.join(dir, "iterations", "1");
  fs.mkdirSync(iter, { recursive: true });
  fs.writeFileSync(
    path.join(iter, "responses.jsonl"),
    '{"id":"starter-01:r0","prompt_id":"starter-01","index":0,"text":"a"}\n{"id":"starter-01:r1","pro',
  );
  const events: ProgressEvent[] = [];
  const ctx = await ctxFor(dir, events);
  const w = events.find((e) => e.type === "warning");
  assert.ok(w && w.type === "warning" && /torn/.test(w.message));
  assert.equal((await planGenerate(ctx)).done, 1);
  ctx.store.close();
});
