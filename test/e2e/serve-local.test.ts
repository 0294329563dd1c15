// `metajudge serve-local` as a user runs it: a separate process that takes its tokenizer out of
// node-llama-cpp's bundle, writes the random-weights model, loads it on the CPU and answers real
// chat-completions over loopback; then whole iterations of `metajudge run` against it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ensureBuilt, makeExperiment, readLines, runCli, spawnCli, tmpDir } from "../support/cli.js";
import {
  ActorPairSchema,
  DpoRecordSchema,
  JudgePairSchema,
  JudgementRecordSchema,
  ManifestSchema,
  MetaJudgementRecordSchema,
  ResponseRecordSchema,
  STAGES,
} from "../../src/core/schema.js";

let server: ChildProcess;
let stderr = "";
let url = "";
let model = "";
let exited: Promise<number | null>;

before(async () => {
  ensureBuilt();
  // A fresh cache: the first-run path (tokenizer extraction, model build) is what a new user meets.
  server = spawnCli(["serve-local", "--port", "0", "--cache-dir", tmpDir("local-cache"), "--threads", "1"]);
  server.stderr!.on("data", (d: Buffer) => (stderr += d));
  exited = new Promise((r) => server.once("exit", (code) => r(code)));
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`serve-local did not start in 60 s:\n${stderr}`)), 60_000);
    server.stdout!.on("data", (d: Buffer) => {
      out += d;
      if (out.includes("\n")) {
        clearTimeout(timer);
        resolve(out.slice(0, out.indexOf("\n")));
      }
    });
    server.once("exit", (code) => reject(new Error(`serve-local exited ${code}:\n${stderr}`)));
  });
  const info = JSON.parse(line) as { url: string; model: string; note: string };
  [url, model] = [info.url, info.model];
  assert.match(info.note, /meaningless/);
});
after(() => {
  if (server.exitCode === null) server.kill("SIGKILL");
});

interface Completion {
  choices: { index: number; message: { content: string }; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number };
}

async function chat(body: object): Promise<{ status: number; json: Completion & { error?: Record<string, unknown> } }> {
  const res = await fetch(`${url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, ...body }),
  });
  return { status: res.status, json: (await res.json()) as Completion };
}

const ask = [{ role: "user", content: "Name three uses of a paperclip." }];
const texts = (c: Completion): string[] => c.choices.map((x) => x.message.content);

describe("serve-local: the HTTP API of the random-weights model", () => {
  it("says at start and in /v1/models that its output is meaningless", async () => {
    // Written before the url line, but stderr is another pipe: give it a moment to arrive.
    for (let i = 0; i < 50 && !/ready in/.test(stderr); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(stderr, /random weights: its output is meaningless/);
    const list = (await (await fetch(`${url}/models`)).json()) as { data: { id: string; description: string }[] };
    assert.deepEqual(
      list.data.map((m) => m.id),
      [model],
    );
    assert.match(list.data[0]!.description, /meaningless/);
  });

  it("gives n choices; the same seed repeats them exactly, another seed does not", async () => {
    const body = { messages: ask, n: 3, seed: 11, temperature: 0.8, max_tokens: 16 };
    const a = await chat(body);
    assert.equal(a.status, 200, JSON.stringify(a.json));
    assert.deepEqual(
      a.json.choices.map((c) => c.index),
      [0, 1, 2],
    );
    assert.equal(new Set(texts(a.json)).size, 3, "each choice samples with its own seed (seed + i)");
    assert.ok(a.json.usage.prompt_tokens > 5);
    assert.ok(a.json.usage.completion_tokens > 0 && a.json.usage.completion_tokens <= 48);
    const again = await chat(body);
    assert.deepEqual(texts(again.json), texts(a.json));
    const other = await chat({ ...body, seed: 12 });
    assert.notDeepEqual(texts(other.json), texts(a.json));
  });

  it("stops at max_tokens and says so", async () => {
    const { json } = await chat({ messages: ask, n: 2, seed: 3, max_tokens: 5 });
    assert.equal(json.choices.length, 2);
    // Random weights almost never sample an end-of-sequence token, so five tokens are always used up.
    assert.deepEqual(
      json.choices.map((c) => c.finish_reason),
      ["length", "length"],
    );
    assert.equal(json.usage.completion_tokens, 10);
  });

  it("follows a JSON schema: the answers parse and carry the asked-for fields", async () => {
    const schema = {
      type: "object",
      properties: { reason: { type: "string", maxLength: 200 }, score: { type: "number" } },
      required: ["reason", "score"],
    };
    const { status, json } = await chat({
      messages: ask,
      n: 2,
      seed: 1,
      max_tokens: 400,
      response_format: { type: "json_schema", json_schema: { name: "verdict", schema } },
    });
    assert.equal(status, 200);
    for (const c of json.choices) {
      assert.equal(c.finish_reason, "stop", "the grammar closes the object well before max_tokens");
      const v = JSON.parse(c.message.content) as { reason: unknown; score: unknown };
      assert.equal(typeof v.reason, "string");
      assert.equal(typeof v.score, "number");
    }
  });

  it("answers a malformed body with 400 in OpenAI's error shape", async () => {
    const res = await fetch(`${url}/chat/completions`, { method: "POST", body: '{"model": ' });
    assert.equal(res.status, 400);
    const { error } = (await res.json()) as { error: Record<string, unknown> };
    assert.deepEqual(Object.keys(error).sort(), ["code", "message", "param", "type"]);
    assert.equal(error.type, "invalid_request_error");
    const wrong = await chat({ messages: ask, max_tokens: "many" });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error?.param, "max_tokens");
  });
});

/** An experiment on the local server: 3 prompts, K = 2 responses, N = 2 judgements, short answers. */
function smallExperiment(mode: "text" | "json_schema"): string {
  const dir = makeExperiment(url, (c) => {
    c.endpoint = { base_url: url, model };
    c.concurrency = 2;
    c.request = { timeout_ms: 60_000, max_retries: 2 };
    c.roles.actor.sampling = { ...c.roles.actor.sampling, n: 2, max_tokens: 24 };
    // A verdict in json_schema mode needs room for the bounded reason plus the JSON around it.
    const verdictTokens = mode === "text" ? 24 : 96;
    c.roles.judge = {
      ...c.roles.judge,
      mode,
      reason_max_length: 40,
      sampling: { ...c.roles.judge.sampling, n: 2, max_tokens: verdictTokens },
    };
    c.roles.meta_judge = {
      ...c.roles.meta_judge,
      mode,
      reason_max_length: 40,
      sampling: { ...c.roles.meta_judge.sampling, max_tokens: verdictTokens },
    };
  });
  const prompts = path.join(dir, "prompts.jsonl");
  fs.writeFileSync(prompts, fs.readFileSync(prompts, "utf8").split("\n").slice(0, 3).join("\n") + "\n");
  return dir;
}

async function runIteration(dir: string): Promise<string> {
  const res = await runCli(["run", dir, "--iteration", "1", "--json"]);
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual(
    res.events.filter((e) => e.type === "stage-end").map((e) => [e.stage, e.state]),
    STAGES.map((s) => [s, "done"]),
  );
  const iter = path.join(dir, "iterations", "1");
  for (const f of [
    "responses.jsonl",
    "judgements.jsonl",
    "meta_judgements.jsonl",
    "pairs.actor.jsonl",
    "pairs.judge.jsonl",
    "dpo.jsonl",
    "manifest.json",
  ]) {
    assert.ok(fs.existsSync(path.join(iter, f)), `${f} exists`);
  }
  const manifest = ManifestSchema.parse(JSON.parse(fs.readFileSync(path.join(iter, "manifest.json"), "utf8")));
  assert.equal(manifest.models.actor, model);
  return iter;
}

describe("metajudge run against serve-local", () => {
  it("text verdicts: every stage runs; random text holds no 'Score: X', so no pairs", async () => {
    const iter = await runIteration(smallExperiment("text"));
    const responses = readLines(path.join(iter, "responses.jsonl")).map((r) => ResponseRecordSchema.parse(r));
    assert.equal(responses.length, 6);
    assert.ok(responses.every((r) => r.finish_reason === "length"));
    const judgements = readLines(path.join(iter, "judgements.jsonl")).map((r) => JudgementRecordSchema.parse(r));
    assert.equal(judgements.length, new Set(responses.map((r) => r.text)).size * 2);
    // The score is read from free text, and token soup never writes one: every judgement is a kept
    // parse failure, the meta-judge has no scored responses to compare, and nothing can be paired.
    assert.ok(judgements.every((j) => j.score === null && typeof j.parse_error === "string"));
    assert.equal(readLines(path.join(iter, "meta_judgements.jsonl")).length, 0);
    assert.equal(readLines(path.join(iter, "pairs.actor.jsonl")).length, 0);
    assert.equal(readLines(path.join(iter, "dpo.jsonl")).length, 0);
  });

  it("json_schema verdicts: the grammar makes every verdict readable, so pairs and DPO data come out", async () => {
    const iter = await runIteration(smallExperiment("json_schema"));
    const responses = readLines(path.join(iter, "responses.jsonl")).map((r) => ResponseRecordSchema.parse(r));
    const judgements = readLines(path.join(iter, "judgements.jsonl")).map((r) => JudgementRecordSchema.parse(r));
    // The server narrows the 0–5 score to the integers 0..5, so every answer is a valid score.
    assert.ok(
      judgements.length > 0 && judgements.every((j) => j.score !== null && Number.isInteger(j.score) && j.score >= 0 && j.score <= 5),
    );
    const metas = readLines(path.join(iter, "meta_judgements.jsonl")).map((r) => MetaJudgementRecordSchema.parse(r));
    assert.ok(
      metas.every((m) => m.winner !== null),
      "every battle has a winner",
    );
    const actorPairs = readLines(path.join(iter, "pairs.actor.jsonl")).map((r) => ActorPairSchema.parse(r));
    const judgePairs = readLines(path.join(iter, "pairs.judge.jsonl")).map((r) => JudgePairSchema.parse(r));
    const dpo = readLines(path.join(iter, "dpo.jsonl")).map((r) => DpoRecordSchema.parse(r));
    // Whether a prompt yields a pair depends on the random scores (equal means give none), but with
    // scores spread over 0..5 some of the three prompts do; each pair becomes one DPO example.
    assert.ok(actorPairs.length + judgePairs.length > 0, "some pair was made");
    assert.equal(dpo.length, actorPairs.length + judgePairs.length);
    const ids = new Set(responses.map((r) => r.id));
    for (const p of actorPairs) assert.ok(ids.has(p.chosen_id) && ids.has(p.rejected_id));
    const text = new Map(responses.map((r) => [r.id, r.text]));
    for (const d of dpo.filter((x) => x.kind === "actor")) assert.equal(d.chosen[0]!.content, text.get(d.source_ids.chosen_id));
  });

  it("stops cleanly on SIGTERM", async () => {
    server.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.match(stderr, /SIGTERM: stopping/);
  });
});
