// The local server's protocol, queue and errors, with a stand-in for the model so every case is
// exact and fast; the real model behind it is exercised in test/e2e/serve-local.test.ts.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RequestRejected, type GenerateParams, type Generation } from "../../src/local/engine.js";
import { DEFAULT_MAX_TOKENS, DEFAULT_TOP_K, HttpError, parseChatRequest } from "../../src/local/request.js";
import { enumerateBoundedNumbers } from "../../src/local/schema-bounds.js";
import { isLoopback, startLocalServer, type Generator, type LocalServer } from "../../src/local/server.js";

const MODEL = "tiny-test";
const user = [{ role: "user", content: "hi" }];

function rejected(body: unknown): HttpError {
  try {
    parseChatRequest(body, MODEL);
  } catch (e) {
    assert.ok(e instanceof HttpError, String(e));
    return e;
  }
  assert.fail("expected a rejection");
}

describe("chat request parsing", () => {
  it("fills OpenAI's defaults, with this server's max_tokens and top_k", () => {
    assert.deepEqual(parseChatRequest({ model: MODEL, messages: user }, MODEL), {
      messages: [{ role: "user", content: "hi" }],
      n: 1,
      temperature: 1,
      topP: 1,
      topK: DEFAULT_TOP_K,
      maxTokens: DEFAULT_MAX_TOKENS,
      stop: [],
      format: { kind: "text" },
    });
  });

  it("reads every supported field", () => {
    const p = parseChatRequest(
      {
        model: MODEL,
        messages: [
          { role: "developer", content: "be brief" },
          {
            role: "user",
            content: [
              { type: "text", text: "a" },
              { type: "text", text: "b" },
            ],
          },
          { role: "assistant", content: null },
        ],
        n: 3,
        temperature: 0,
        top_p: 0.9,
        top_k: -1,
        max_completion_tokens: 9,
        max_tokens: 99,
        seed: 5,
        stop: "END",
        response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" } } },
        user: "ignored",
      },
      MODEL,
    );
    assert.deepEqual(p.messages, [
      { role: "system", content: "be brief" },
      { role: "user", content: "ab" },
      { role: "assistant", content: "" },
    ]);
    assert.deepEqual([p.n, p.temperature, p.topP, p.topK, p.maxTokens, p.seed, p.stop], [3, 0, 0.9, 0, 9, 5, ["END"]]);
    assert.deepEqual(p.format, { kind: "json_schema", schema: { type: "object" } });
    assert.deepEqual(parseChatRequest({ model: MODEL, messages: user, response_format: { type: "json_object" } }, MODEL).format, {
      kind: "json_object",
    });
  });

  const cases: [string, Record<string, unknown>, string][] = [
    ["n as a string", { n: "3" }, "n"],
    ["n of zero", { n: 0 }, "n"],
    ["a fractional max_tokens", { max_tokens: 1.5 }, "max_tokens"],
    ["temperature above 2", { temperature: 3 }, "temperature"],
    ["a seed that is not a number", { seed: "x" }, "seed"],
    ["stop as a number", { stop: 7 }, "stop"],
    ["five stop sequences", { stop: ["a", "b", "c", "d", "e"] }, "stop"],
    ["messages missing", { messages: undefined }, "messages"],
    ["an unknown role", { messages: [{ role: "tool", content: "x" }] }, "messages[0].role"],
    ["an image part", { messages: [{ role: "user", content: [{ type: "image_url" }] }] }, "messages[0].content"],
    ["a response_format of another type", { response_format: { type: "xml" } }, "response_format.type"],
    ["a json_schema without a schema", { response_format: { type: "json_schema", json_schema: {} } }, "response_format.json_schema.schema"],
    ["streaming", { stream: true }, "stream"],
  ];
  for (const [what, patch, param] of cases) {
    it(`400 for ${what}, naming ${param}`, () => {
      const e = rejected({ model: MODEL, messages: user, ...patch });
      assert.equal(e.status, 400);
      assert.equal(e.type, "invalid_request_error");
      assert.equal(e.param, param);
    });
  }

  it("404 model_not_found for another model, naming the served one", () => {
    const e = rejected({ model: "gpt-4o", messages: user });
    assert.deepEqual([e.status, e.code, e.param], [404, "model_not_found", "model"]);
    assert.match(e.message, /tiny-test/);
  });
});

describe("bounded numbers in a schema", () => {
  it("turns a judge's 0–5 score into the integers 0 to 5 and leaves the rest alone", () => {
    const schema = {
      type: "object",
      properties: { reason: { type: "string", maxLength: 50 }, score: { type: "number", minimum: 0, maximum: 5 } },
      required: ["reason", "score"],
    };
    assert.deepEqual(enumerateBoundedNumbers(schema), {
      ...schema,
      properties: { reason: schema.properties.reason, score: { enum: [0, 1, 2, 3, 4, 5] } },
    });
  });
  const cases: [string, object, object][] = [
    ["exclusive bounds", { type: "integer", exclusiveMinimum: 0, exclusiveMaximum: 4 }, { enum: [1, 2, 3] }],
    ["fractional bounds", { type: "number", minimum: 0.5, maximum: 3.5 }, { enum: [1, 2, 3] }],
    ["multipleOf", { type: "integer", minimum: 0, maximum: 10, multipleOf: 5 }, { enum: [0, 5, 10] }],
    ["one bound only", { type: "number", minimum: 0 }, { type: "number", minimum: 0 }],
    ["too wide a range", { type: "integer", minimum: 0, maximum: 10_000 }, { type: "integer", minimum: 0, maximum: 10_000 }],
    ["an existing enum", { type: "number", minimum: 0, maximum: 5, enum: [1.5] }, { type: "number", minimum: 0, maximum: 5, enum: [1.5] }],
    ["an array of them", { type: "array", items: { type: "integer", minimum: 1, maximum: 2 } }, { type: "array", items: { enum: [1, 2] } }],
  ];
  for (const [what, input, want] of cases) it(what, () => assert.deepEqual(enumerateBoundedNumbers(input as never), want));
});

// ---- the HTTP server ---------------------------------------------------------------------------

const servers: LocalServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

class StandIn implements Generator {
  readonly contextSize = 512;
  calls: GenerateParams[] = [];
  active = 0;
  maxActive = 0;
  gate: Promise<void> = Promise.resolve();
  fail: unknown = null;
  async generate(p: GenerateParams): Promise<Generation> {
    this.calls.push(p);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await this.gate;
      await new Promise((r) => setTimeout(r, 5));
      if (this.fail) throw this.fail;
      const text = p.messages.at(-1)?.content ?? "";
      return {
        promptTokens: 7,
        choices: Array.from({ length: p.n }, (_, i) => ({
          text: `${text}#${i}`,
          finishReason: i % 2 ? "stop" : "length",
          completionTokens: 3,
        })),
      };
    } finally {
      this.active--;
    }
  }
}

async function serve(model: Generator, maxQueue = 8): Promise<LocalServer> {
  const s = await startLocalServer(model, { host: "127.0.0.1", port: 0, modelId: MODEL, maxQueue });
  servers.push(s);
  return s;
}

async function post(
  s: LocalServer,
  body: unknown,
  signal?: AbortSignal,
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${s.url}/chat/completions`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

const errorOf = (j: Record<string, unknown>): Record<string, unknown> => j.error as Record<string, unknown>;

describe("the local server", () => {
  it("lists its model with the warning that it means nothing", async () => {
    const s = await serve(new StandIn());
    const list = (await (await fetch(`${s.url}/models`)).json()) as { data: { id: string; description: string; context_length: number }[] };
    assert.equal(list.data.length, 1);
    assert.equal(list.data[0]?.id, MODEL);
    assert.match(list.data[0]?.description ?? "", /random weights.*meaningless/);
    assert.equal(list.data[0]?.context_length, 512);
    assert.equal((await fetch(`${s.url}/models/${MODEL}`)).status, 200);
    assert.equal((await fetch(`${s.url}/models/other`)).status, 404);
  });

  it("answers in the chat-completions shape, usage included", async () => {
    const s = await serve(new StandIn());
    const { status, json } = await post(s, { model: MODEL, messages: user, n: 2 });
    assert.equal(status, 200);
    assert.equal(json.object, "chat.completion");
    assert.equal(json.model, MODEL);
    assert.deepEqual(json.choices, [
      { index: 0, message: { role: "assistant", content: "hi#0" }, logprobs: null, finish_reason: "length" },
      { index: 1, message: { role: "assistant", content: "hi#1" }, logprobs: null, finish_reason: "stop" },
    ]);
    assert.deepEqual(json.usage, { prompt_tokens: 7, completion_tokens: 6, total_tokens: 13 });
  });

  it("speaks OpenAI's error shape: bad JSON, bad fields, unknown routes, wrong methods", async () => {
    const s = await serve(new StandIn());
    const bad = await post(s, "{not json");
    assert.equal(bad.status, 400);
    assert.deepEqual(Object.keys(errorOf(bad.json)).sort(), ["code", "message", "param", "type"]);
    assert.equal(errorOf(bad.json).type, "invalid_request_error");
    assert.equal(errorOf((await post(s, { model: MODEL, messages: user, n: "2" })).json).param, "n");
    const none = await fetch(`${s.url}/completions`, { method: "POST", body: "{}" });
    assert.equal(none.status, 404);
    assert.equal(((await none.json()) as { error: { type: string } }).error.type, "not_found_error");
    const get = await fetch(`${s.url}/chat/completions`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
  });

  it("serves one request at a time, in arrival order", async () => {
    const m = new StandIn();
    const s = await serve(m);
    const texts = ["a", "b", "c", "d", "e"];
    const res = await Promise.all(
      texts.map((t, i) =>
        new Promise((r) => setTimeout(r, i * 2)).then(() => post(s, { model: MODEL, messages: [{ role: "user", content: t }] })),
      ),
    );
    assert.ok(res.every((r) => r.status === 200));
    assert.equal(m.maxActive, 1);
    assert.deepEqual(
      m.calls.map((c) => c.messages[0]?.content),
      texts,
    );
  });

  it("answers 429 with Retry-After when the queue is full, and serves the rest", async () => {
    const m = new StandIn();
    let open: () => void = () => {};
    m.gate = new Promise((r) => (open = r));
    const s = await serve(m, 1);
    const first = post(s, { model: MODEL, messages: user });
    await new Promise((r) => setTimeout(r, 30)); // the first is being answered
    const second = post(s, { model: MODEL, messages: user });
    await new Promise((r) => setTimeout(r, 30)); // the second waits in the queue
    const third = await post(s, { model: MODEL, messages: user });
    assert.equal(third.status, 429);
    assert.equal(errorOf(third.json).type, "rate_limit_error");
    assert.ok(Number(third.headers.get("retry-after")) >= 1);
    open();
    assert.deepEqual([(await first).status, (await second).status], [200, 200]);
  });

  it("with no queue at all, still answers when idle", async () => {
    const s = await serve(new StandIn(), 0);
    assert.equal((await post(s, { model: MODEL, messages: user })).status, 200);
  });

  it("drops a queued request whose client gave up", async () => {
    const m = new StandIn();
    let open: () => void = () => {};
    m.gate = new Promise((r) => (open = r));
    const s = await serve(m);
    const first = post(s, { model: MODEL, messages: [{ role: "user", content: "kept" }] });
    await new Promise((r) => setTimeout(r, 30));
    const ctl = new AbortController();
    const gone = post(s, { model: MODEL, messages: [{ role: "user", content: "gone" }] }, ctl.signal).catch(() => "aborted");
    await new Promise((r) => setTimeout(r, 30));
    ctl.abort();
    assert.equal(await gone, "aborted");
    await new Promise((r) => setTimeout(r, 30));
    open();
    assert.equal((await first).status, 200);
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(
      m.calls.map((c) => c.messages[0]?.content),
      ["kept"],
    );
  });

  it("turns the model's failures into 400 (the request) or 500 (the model) and keeps serving", async () => {
    const m = new StandIn();
    const s = await serve(m);
    m.fail = new RequestRejected("the prompt is 9000 tokens", "messages", "context_length_exceeded");
    const tooLong = await post(s, { model: MODEL, messages: user });
    assert.deepEqual(
      [tooLong.status, errorOf(tooLong.json).code, errorOf(tooLong.json).param],
      [400, "context_length_exceeded", "messages"],
    );
    m.fail = new Error("decode failed");
    const broken = await post(s, { model: MODEL, messages: user });
    assert.equal(broken.status, 500);
    assert.equal(errorOf(broken.json).type, "server_error");
    assert.match(String(errorOf(broken.json).message), /decode failed/);
    m.fail = null;
    assert.equal((await post(s, { model: MODEL, messages: user })).status, 200);
  });

  it("listens on loopback only", async () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) assert.ok(isLoopback(h), h);
    for (const h of ["0.0.0.0", "::", "192.168.1.2", "example.com", "127.0.0.1.evil"]) assert.ok(!isLoopback(h), h);
    await assert.rejects(startLocalServer(new StandIn(), { host: "0.0.0.0", port: 0, modelId: MODEL, maxQueue: 1 }), /this machine only/);
  });
});
