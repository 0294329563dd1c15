// Batch files round-trip: what we write is what vllm run-batch and the OpenAI Batch API read, and
// what they write back (in completion order, with failures mixed in) joins on custom_id.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readBatchResults, toBatchLine, writeBatchFile, type BatchResult } from "../../src/core/llm/batch.js";
import type { ChatRequest } from "../../src/core/llm/client.js";
import { MetajudgeError } from "../../src/core/errors.js";

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "mj-batch-"));
  dirs.push(d);
  return d;
}

const body = (i: number): ChatRequest => ({
  model: "m",
  messages: [{ role: "user", content: `prompt ${i}` }],
  temperature: 0.8,
  max_tokens: 64,
  n: 1,
});

const completion = (text: string) => ({
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "m",
  choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
  usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
});

describe("batch files", () => {
  it("writes one request a line in the Batch input shape", async () => {
    const d = await tmp();
    const path = join(d, "requests.jsonl");
    const count = await writeBatchFile(
      path,
      (function* () {
        for (let i = 0; i < 3; i++) yield { customId: `it1/p${i}/s0`, body: body(i) };
      })(),
    );
    assert.equal(count, 3);
    const lines = (await readFile(path, "utf8")).split("\n");
    assert.equal(lines.pop(), "");
    assert.equal(lines.length, 3);
    assert.deepEqual(JSON.parse(lines[1] ?? ""), { custom_id: "it1/p1/s0", method: "POST", url: "/v1/chat/completions", body: body(1) });
    assert.equal(lines[0], toBatchLine("it1/p0/s0", body(0)));
    assert.deepEqual(await readdir(d), ["requests.jsonl"]);
  });

  it("refuses duplicate custom_ids and leaves no partial file", async () => {
    const d = await tmp();
    const entries = [
      { customId: "a", body: body(0) },
      { customId: "a", body: body(1) },
    ];
    await assert.rejects(writeBatchFile(join(d, "r.jsonl"), entries), (e) => e instanceof MetajudgeError && e.reason === "badInput");
    assert.deepEqual(await readdir(d), []);
  });

  it("reads vLLM and OpenAI output shapes joined on custom_id", async () => {
    const d = await tmp();
    const path = join(d, "results.jsonl");
    const lines = [
      // vLLM run-batch, out of order
      { id: "vllm-1", custom_id: "c", response: { status_code: 200, request_id: "vllm-batch-1", body: completion("third") }, error: null },
      // OpenAI output file
      { id: "batch_req_1", custom_id: "a", response: { status_code: 200, request_id: "req_1", body: completion("first") }, error: null },
      // OpenAI error file
      { id: "batch_req_2", custom_id: "b", response: null, error: { code: "server_error", message: "overloaded" } },
      // vLLM with neither response nor error
      { id: "vllm-2", custom_id: "d", response: null, error: null },
      { id: "vllm-3", custom_id: "e", response: { status_code: 200, request_id: "x", body: null }, error: null },
      { id: "batch_req_3", custom_id: "f", response: { status_code: 400, body: { error: { message: "bad max_tokens" } } }, error: null },
      { id: "vllm-4", custom_id: "a", response: { status_code: 200, body: completion("again") }, error: null },
    ].map((l) => JSON.stringify(l));
    lines.splice(3, 0, '{"custom_id": "g", "response": {', "", '{"no_id": true}');
    await writeFile(path, lines.join("\n") + "\n");

    const got = new Map<string, BatchResult>();
    const summary = await readBatchResults(path, (r) => void got.set(r.customId, r));
    assert.equal(summary.ok, 2);
    assert.equal(summary.failed, 4);
    assert.equal(summary.duplicates, 1);
    assert.deepEqual(
      summary.malformed.map((m) => m.line),
      [4, 6],
    );
    assert.match(summary.malformed[0]?.message ?? "", /invalid JSON/);

    const a = got.get("a");
    assert.ok(a?.ok);
    assert.deepEqual(a.result.choices, [{ index: 0, text: "first", finish_reason: "stop" }]);
    assert.deepEqual(a.result.usage, { prompt_tokens: 5, completion_tokens: 7 });
    assert.equal(a.result.model, "m");
    const c = got.get("c");
    assert.ok(c?.ok);
    assert.equal(c.result.choices[0]?.text, "third");
    const errors = Object.fromEntries([...got.values()].filter((r) => !r.ok).map((r) => [r.customId, r.ok ? "" : r.error]));
    assert.deepEqual(Object.keys(errors).sort(), ["b", "d", "e", "f"]);
    assert.match(errors.b ?? "", /overloaded/);
    assert.match(errors.f ?? "", /400.*bad max_tokens/);
  });

  it("awaits an async onResult before reading on", async () => {
    const d = await tmp();
    const path = join(d, "results.jsonl");
    const rows = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({ custom_id: `r${i}`, response: { status_code: 200, body: completion(`t${i}`) }, error: null }),
    );
    await writeFile(path, rows.join("\r\n"));
    let busy = false;
    const order: string[] = [];
    const s = await readBatchResults(path, async (r) => {
      assert.equal(busy, false);
      busy = true;
      await new Promise((res) => setImmediate(res));
      order.push(r.customId);
      busy = false;
    });
    assert.equal(s.ok, 50);
    assert.equal(order[49], "r49");
  });

  it("reports a missing results file as badInput", async () => {
    await assert.rejects(
      readBatchResults("/nonexistent/results.jsonl", () => {}),
      (e) => e instanceof MetajudgeError && e.reason === "badInput",
    );
  });
});
