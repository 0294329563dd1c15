// The Batch API client against the loopback Files + Batches server, and the split of a stage's
// requests into files within the API's limits.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MetajudgeError } from "../../src/core/errors.js";
import { toBatchLine, writeBatchFile } from "../../src/core/llm/batch.js";
import { OpenAIBatchApi, type Batch } from "../../src/core/llm/openai-batch.js";
import { splitForBatch } from "../../src/core/pipeline/batch-submit.js";
import type { LlmTask } from "../../src/core/pipeline/llm-stage.js";
import { startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { startOpenAIBatchServer, type BatchServer } from "../support/openai-batch-server.js";

const KEY = "sk-unit-batch-5e6f7a";
let chat: FakeServer;
let server: BatchServer;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mj-openai-batch-"));
before(async () => {
  chat = await startFakeOpenAI();
  server = await startOpenAIBatchServer({ chatUrl: chat.url, apiKey: KEY, stepMs: 1 });
});
after(async () => {
  await server.close();
  await chat.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const task = (id: string, content: string): LlmTask => ({
  id,
  body: { model: "m", messages: [{ role: "user", content }] },
  records: 1,
  accept: () => [],
});
const lineBytes = (t: LlmTask): number => Buffer.byteLength(toBatchLine(t.id, t.body)) + 1;

test("splitForBatch cuts at the request limit and at the byte limit, in order", () => {
  const tasks = Array.from({ length: 7 }, (_, i) => task(`t${i}`, "x".repeat(10)));
  assert.deepEqual(
    splitForBatch(tasks, 3, 1 << 20).map((c) => c.tasks.map((t) => t.id)),
    [["t0", "t1", "t2"], ["t3", "t4", "t5"], ["t6"]],
  );
  const each = lineBytes(tasks[0]!);
  const byBytes = splitForBatch(tasks, 100, each * 2 + 1);
  assert.deepEqual(
    byBytes.map((c) => c.tasks.length),
    [2, 2, 2, 1],
  );
  assert.deepEqual(
    byBytes.map((c) => c.bytes),
    [each * 2, each * 2, each * 2, each],
  );
  assert.deepEqual(splitForBatch([], 3, 100), []);
});

test("splitForBatch refuses a request bigger than a whole batch file", () => {
  assert.throws(
    () => splitForBatch([task("small", "x"), task("huge", "y".repeat(500))], 10, 300),
    (e: unknown) =>
      e instanceof MetajudgeError &&
      e.reason === "badInput" &&
      /request huge is \d+ bytes as a batch line, more than the 300/.test(e.message),
  );
});

test("upload, create, wait and download against the Files and Batches endpoints", async () => {
  const api = new OpenAIBatchApi({ baseURL: server.url, apiKey: KEY, timeoutMs: 5000 });
  const input = path.join(tmp, "in.jsonl");
  await writeBatchFile(
    input,
    [0, 1, 2].map((i) => ({ customId: `c${i}`, body: { model: "fake-model", messages: [{ role: "user", content: `q${i}` }] } })),
  );
  const fileId = await api.upload(input);
  const created = await api.create(fileId, { tag: "unit-1" });
  assert.equal(created.status, "validating");
  assert.equal((await api.findByMetadata("tag", "unit-1"))?.id, created.id);
  assert.equal(await api.findByMetadata("tag", "nope"), undefined);
  const seen: Batch["status"][] = [];
  const b = await api.wait(created.id, { intervalMs: 5, signal: new AbortController().signal, onStatus: (x) => seen.push(x.status) });
  assert.equal(b.status, "completed");
  assert.equal(seen.at(-1), "completed");
  assert.deepEqual(b.request_counts, { total: 3, completed: 3, failed: 0 });
  const out = path.join(tmp, "out.jsonl");
  await api.download(b.output_file_id!, out);
  const lines = fs
    .readFileSync(out, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { custom_id: string; response: { status_code: number } });
  assert.deepEqual(lines.map((l) => l.custom_id).sort(), ["c0", "c1", "c2"]);
  assert.ok(lines.every((l) => l.response.status_code === 200));
  await assert.rejects(api.cancel(b.id), /HTTP 400: Cannot cancel a batch with status completed/);
});

test("a refused key is an auth error that names the variable, never the key the server echoes", async () => {
  const wrong = "sk-not-the-right-one-42";
  const api = new OpenAIBatchApi({ baseURL: server.url, apiKey: wrong, apiKeyEnv: "MY_KEY", timeoutMs: 5000 });
  await assert.rejects(api.retrieve("batch_1"), (e: unknown) => {
    assert.ok(e instanceof MetajudgeError && e.reason === "auth");
    assert.match(e.message, /HTTP 401, the API key was refused \(Incorrect API key provided: \*\*\*\.\); check the key in \$MY_KEY/);
    assert.ok(!e.message.includes(wrong));
    return true;
  });
});

test("wait gives up after its bounded retries when nothing answers, saying where it tried", async () => {
  const dead = await startFakeOpenAI();
  const url = dead.url;
  await dead.close();
  const api = new OpenAIBatchApi({ baseURL: url, timeoutMs: 2000 });
  const retries: number[] = [];
  await assert.rejects(
    api.wait("batch_x", {
      intervalMs: 1,
      maxFailures: 2,
      signal: new AbortController().signal,
      onStatus: () => {},
      onRetry: (r) => retries.push(r.delayMs),
    }),
    (e: unknown) => e instanceof MetajudgeError && e.reason === "refused" && e.message.includes(`reading batch batch_x at ${url}`),
  );
  assert.deepEqual(retries, [250, 500]);
});
