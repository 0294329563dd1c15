// `metajudge batch submit|cancel` against a loopback OpenAI Files + Batches server whose batches are
// answered by the same deterministic chat server a live run uses: the joined records must equal the
// live run's, only missing requests are ever resubmitted, and a killed run re-attaches.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { OpenAIBatchApi } from "../../src/core/llm/openai-batch.js";
import { startOpenAIBatchServer, type BatchServer } from "../support/openai-batch-server.js";
import { collect, ensureBuilt, makeExperiment, readLines, runCli, spawnCli, type CliResult } from "../support/cli.js";

const KEY = "sk-batch-test-7f3a9c1e5d";
const ENV = { MJ_BATCH_KEY: KEY };
let chat: FakeServer;
let api: BatchServer;

before(async () => {
  ensureBuilt();
  chat = await startFakeOpenAI({ latencyMs: 1 });
  api = await startOpenAIBatchServer({ chatUrl: chat.url, apiKey: KEY, stepMs: 5 });
});
after(async () => {
  await api.close();
  await chat.close();
});

const sorted = (file: string): string[] =>
  readLines(file)
    .map((r) => JSON.stringify(r, Object.keys(r).sort()))
    .sort();
const offline = (): string => makeExperiment(api.url, (c) => (c.endpoint.api_key_env = "MJ_BATCH_KEY"));
const submit = (dir: string, stage: string, ...more: string[]): Promise<CliResult> =>
  runCli(["batch", "submit", dir, "--iteration", "1", "--stage", stage, "--poll-seconds", "0.02", "--json", ...more], ENV);
const final = (
  r: CliResult,
): {
  missing: number;
  failed: number;
  imported: number;
  submitted: number;
  reattached: number;
  batches: { id: string; status: string }[];
} => r.events.find((e) => e.type === "batch-submit" || e.type === "batch-cancel") as never;
const iter = (dir: string, f: string): string => path.join(dir, "iterations", "1", f);
type StageEntry = { state: string; error?: string; counts: Record<string, number>; usage?: unknown };
const manifest = (dir: string): { stages: Record<string, StageEntry> } =>
  JSON.parse(fs.readFileSync(iter(dir, "manifest.json"), "utf8")) as never;

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

function assertNoKey(dir: string, ...outputs: CliResult[]): void {
  for (const f of filesUnder(dir)) assert.ok(!fs.readFileSync(f, "utf8").includes(KEY), `the API key is in ${f}`);
  for (const r of outputs) assert.ok(!r.stdout.includes(KEY) && !r.stderr.includes(KEY), "the API key is in the CLI's output");
}

function until(
  child: ReturnType<typeof spawnCli>,
  pred: (e: Record<string, unknown>) => boolean,
): { done: Promise<CliResult>; seen: Promise<void> } {
  let hit!: () => void;
  const seen = new Promise<void>((r) => (hit = r));
  // An exit without the event lets the assertions that follow fail instead of hanging.
  const done = collect(child, (e) => pred(e) && hit());
  void done.finally(hit);
  return { done, seen };
}

test("a whole stage through the Batch API equals a live run; errored lines alone are submitted again", async () => {
  const live = makeExperiment(chat.url);
  assert.equal((await runCli(["run", live, "--iteration", "1", "--until", "judge"])).code, 0);

  const dir = offline();
  api.options.failLine = (_id, i) => i === 1 || i === 4;
  const created = api.stats.batchesCreated;
  const g1 = await submit(dir, "generate");
  api.options.failLine = undefined;
  assert.equal(g1.code, 1, g1.stderr);
  const f1 = final(g1);
  assert.deepEqual([f1.failed, f1.missing, f1.submitted], [2, 2, 1]);
  assert.ok(
    g1.events.some((e) => e.type === "batch-status" && e.status === "in_progress"),
    "the polling reports progress",
  );
  const m1 = manifest(dir).stages.generate!;
  assert.equal(m1.state, "failed");
  assert.match(m1.error ?? "", /generate: 2 request\(s\) still missing after the batch API run/);
  const first = f1.batches[0]!.id;
  const failedIds = [api.inputIds(first)[1], api.inputIds(first)[4]].sort();

  const g2 = await submit(dir, "generate");
  assert.equal(g2.code, 0, g2.stderr);
  const second = final(g2).batches[0]!.id;
  assert.deepEqual(api.inputIds(second).sort(), failedIds, "only the errored lines are submitted again");
  assert.equal(final(g2).missing, 0);

  const j = await submit(dir, "judge");
  assert.equal(j.code, 0, j.stderr);
  assert.equal(api.stats.batchesCreated - created, 3);
  for (const f of ["responses.jsonl", "judgements.jsonl"])
    assert.deepEqual(sorted(iter(dir, f)), sorted(iter(live, f)), `${f} equals the live run's`);
  for (const stage of ["generate", "judge"]) {
    const [b, l] = [manifest(dir).stages[stage]!, manifest(live).stages[stage]!];
    assert.equal(b.state, "done");
    assert.equal(b.counts.records, l.counts.records);
    assert.equal(b.counts.expected, l.counts.expected);
    assert.ok(((b.usage as { requests?: number } | undefined)?.requests ?? 0) > 0, `${stage}: usage recorded`);
    assert.deepEqual(b.usage, l.usage, `${stage}: the token usage a live run records`);
  }

  // Nothing missing: nothing submitted.
  const again = await submit(dir, "judge");
  assert.equal(again.code, 0, again.stderr);
  assert.equal(api.stats.batchesCreated - created, 3);
  // The live pipeline finds nothing left to ask.
  const asked = chat.stats.requests;
  const rest = await runCli(["run", dir, "--iteration", "1", "--until", "judge"], ENV);
  assert.equal(rest.code, 0, rest.stderr);
  assert.equal(chat.stats.requests, asked);
  assertNoKey(dir, g1, g2, j, again);
});

test("SIGKILL mid-poll: the next run re-attaches to the batch instead of submitting another", async () => {
  const dir = offline();
  api.options.hold = true;
  const created = api.stats.batchesCreated;
  const uploaded = api.stats.filesUploaded;
  const child = spawnCli(["batch", "submit", dir, "--iteration", "1", "--stage", "generate", "--poll-seconds", "0.02", "--json"], ENV);
  const run1 = until(child, (e) => e.type === "batch-status" && e.status === "in_progress");
  await run1.seen;
  child.kill("SIGKILL");
  assert.equal((await run1.done).signal, "SIGKILL");

  const child2 = spawnCli(["batch", "submit", dir, "--iteration", "1", "--stage", "generate", "--poll-seconds", "0.02", "--json"], ENV);
  const run2 = until(child2, (e) => e.type === "batch-attached" || e.type === "batch-submitted");
  await run2.seen;
  api.release();
  const r = await run2.done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(api.stats.batchesCreated - created, 1, "exactly one batch was created");
  assert.equal(api.stats.filesUploaded - uploaded, 1);
  assert.equal(final(r).reattached, 1);
  assert.equal(final(r).missing, 0);
  assert.equal(readLines(iter(dir, "responses.jsonl")).length, 24 * 4);
  assertNoKey(dir, r);
});

test("Ctrl-C leaves the batch running and says how to re-attach or cancel; batch cancel cancels it and joins what it finished", async () => {
  const dir = offline();
  api.options.hold = true;
  const child = spawnCli(["batch", "submit", dir, "--iteration", "1", "--stage", "generate", "--poll-seconds", "0.02"], ENV);
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d));
  while (!/in_progress/.test(err) && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  child.kill("SIGINT");
  const r = await collect(child);
  assert.equal(r.code, 130);
  assert.match(err, /keeps running on the server/);
  assert.match(err, /re-attach and join the results: metajudge batch submit .* --iteration 1 --stage generate/);
  assert.match(err, /cancel: metajudge batch cancel /);
  const id = [...api.batches.values()].at(-1)!;
  assert.equal(id.status, "in_progress", "the batch still runs");

  const cancels = api.stats.cancels;
  const c = await runCli(["batch", "cancel", dir, "--iteration", "1", "--stage", "generate", "--poll-seconds", "0.02", "--json"], ENV);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(api.stats.cancels - cancels, 1);
  assert.equal(final(c).batches[0]!.status, "cancelled");
  assert.equal(readLines(iter(dir, "responses.jsonl")).length, 4, "the one request it finished is joined");
  // The rest is submitted anew.
  const s = await submit(dir, "generate");
  assert.equal(s.code, 0, s.stderr);
  assert.equal(api.inputIds(final(s).batches[0]!.id).length, 23);
});

test("a failed batch exits non-zero with each of the server's errors", async () => {
  const dir = offline();
  api.options.outcome = {
    kind: "failed",
    errors: [
      { code: "invalid_request", message: "Model fake-model is not available for batch", line: 1, param: "body.model" },
      { code: "token_limit_exceeded", message: "Enqueued token limit reached", line: 3 },
    ],
  };
  const r = await runCli(["batch", "submit", dir, "--iteration", "1", "--stage", "generate", "--poll-seconds", "0.02"], ENV);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /batch batch_\d+ failed:/);
  assert.match(r.stderr, /line 1: invalid_request: Model fake-model is not available for batch \(body\.model\)/);
  assert.match(r.stderr, /line 3: token_limit_exceeded: Enqueued token limit reached/);
  assert.match(r.stdout, /24 requests still missing/);
  // The failed batch is done with: the next call submits a new one.
  const s = await submit(dir, "generate");
  assert.equal(s.code, 0, s.stderr);
  assert.equal(final(s).reattached, 0);
});

test("an expired batch: its partial output joined, the rest left missing and said so", async () => {
  const dir = offline();
  api.options.outcome = { kind: "expired", after: 2 };
  const r = await runCli(["batch", "submit", dir, "--iteration", "1", "--stage", "generate", "--poll-seconds", "0.02"], ENV);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /expired before it finished: 8 records joined, 22 requests failed/);
  assert.match(r.stdout, /22 requests still missing/);
  assert.equal(readLines(iter(dir, "responses.jsonl")).length, 8);
});

test("a poll whose connection drops is retried with backoff", async () => {
  const dir = offline();
  api.options.hold = true;
  const child = spawnCli(["batch", "submit", dir, "--iteration", "1", "--stage", "generate", "--poll-seconds", "0.02", "--json"], ENV);
  const run = until(child, (e) => e.type === "batch-status" && e.status === "in_progress");
  await run.seen;
  api.dropRetrieves(2);
  api.release();
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  const retries = r.events.filter((e) => e.type === "batch-retry");
  assert.equal(retries.length, 2);
  assert.ok((retries[1]!.delayMs as number) > (retries[0]!.delayMs as number), "the pause grows");
});

test("a refused key and a refused upload are clear errors that never show the key", async () => {
  const dir = offline();
  const wrong = "sk-wrong-0d9e8f7a6b";
  const r = await runCli(["batch", "submit", dir, "--iteration", "1", "--stage", "generate"], { MJ_BATCH_KEY: wrong });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /HTTP 401, the API key was refused .*check the key in \$MJ_BATCH_KEY/);
  assert.ok(!r.stderr.includes(wrong) && !r.stdout.includes(wrong), "the key is not echoed");

  const unset = await runCli(["batch", "submit", dir, "--iteration", "1", "--stage", "generate"], { MJ_BATCH_KEY: "" });
  assert.equal(unset.code, 1);
  assert.match(unset.stderr, /needs an API key in \$MJ_BATCH_KEY, which is not set/);

  api.options.rejectUpload = "Invalid file format for Batch API. Line 2: missing required field custom_id.";
  const u = await runCli(["batch", "submit", dir, "--iteration", "1", "--stage", "generate"], ENV);
  assert.equal(u.code, 1);
  assert.match(
    u.stderr,
    /uploading the batch file at .*: HTTP 400: Invalid file format for Batch API\. Line 2: missing required field custom_id\./,
  );
});

test("--max-requests splits a stage into several batches, polled together", async () => {
  const dir = offline();
  const created = api.stats.batchesCreated;
  api.options.hold = true;
  const running = new Set<unknown>();
  const child = spawnCli(
    ["batch", "submit", dir, "--iteration", "1", "--stage", "generate", "--poll-seconds", "0.02", "--json", "--max-requests", "10"],
    ENV,
  );
  const run = until(child, (e) => e.type === "batch-status" && e.status === "in_progress" && running.add(e.id).size === 3);
  const late = setTimeout(() => child.kill("SIGINT"), 15_000);
  await run.seen;
  api.release();
  const r = await run.done;
  clearTimeout(late);
  assert.equal(running.size, 3, "every batch is seen running while all are held");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(api.stats.batchesCreated - created, 3);
  assert.deepEqual(
    final(r).batches.map((b) => api.inputIds(b.id).length),
    [10, 10, 4],
  );
  assert.equal(readLines(iter(dir, "responses.jsonl")).length, 96);
});

test("a batch uploaded or created by a run that died before recording it is found, not paid for twice", async () => {
  const client = new OpenAIBatchApi({ baseURL: api.url, apiKey: KEY, timeoutMs: 5000 });
  for (const createdBefore of [true, false]) {
    const dir = offline();
    const requests = path.join(dir, "requests.jsonl");
    assert.equal((await runCli(["batch", "write", dir, "--iteration", "1", "--stage", "generate", requests], ENV)).code, 0);
    const fileId = await client.upload(requests);
    const nonce = `lost-${createdBefore}`;
    if (createdBefore) await client.create(fileId, { metajudge_submission: nonce });
    const state = {
      stage: "generate",
      batches: [
        { nonce, input_file_id: fileId, requests: 24, bytes: 0, id: null, status: "uploaded", submitted_at: new Date().toISOString() },
      ],
    };
    fs.mkdirSync(iter(dir, "openai-batch"), { recursive: true });
    fs.writeFileSync(iter(dir, "openai-batch/generate.json"), JSON.stringify(state));
    const [uploaded, created] = [api.stats.filesUploaded, api.stats.batchesCreated];
    const r = await submit(dir, "generate");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(api.stats.filesUploaded - uploaded, 0, "the recorded upload is used");
    assert.equal(api.stats.batchesCreated - created, createdBefore ? 0 : 1);
    assert.equal(final(r).submitted, createdBefore ? 0 : 1);
    assert.equal(readLines(iter(dir, "responses.jsonl")).length, 96);
  }
});

test("a second process attached to the same stage is refused", async () => {
  const dir = offline();
  fs.mkdirSync(iter(dir, "openai-batch"), { recursive: true });
  fs.writeFileSync(iter(dir, "openai-batch/generate.lock"), String(process.pid));
  const created = api.stats.batchesCreated;
  const r = await runCli(["batch", "submit", dir, "--iteration", "1", "--stage", "generate"], ENV);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`another metajudge \\(pid ${process.pid}\\) is attached to these batches`));
  assert.equal(api.stats.batchesCreated, created);
});

test("a stage whose inputs are not there yet submits nothing and says why", async () => {
  const dir = offline();
  const created = api.stats.batchesCreated;
  const r = await runCli(["batch", "submit", dir, "--iteration", "1", "--stage", "judge"], ENV);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /nothing to ask yet: the judge stage needs the records of the stage before it/);
  assert.equal(api.stats.batchesCreated, created);
});
