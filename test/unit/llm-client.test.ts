// The client against a real HTTP server on loopback: every behaviour here is one a long run leans on.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import http from "node:http";
import { createInterface } from "node:readline";
import { LlmClient, type LlmClientOptions, type RetryInfo } from "../../src/core/llm/client.js";
import { redactUrl, retryAfterMs } from "../../src/core/llm/http.js";
import { trialReport } from "../../src/core/trial/report.js";
import { MetajudgeError } from "../../src/core/errors.js";
import { startFakeOpenAI, type FakeOptions, type FakeServer } from "../support/fake-openai.js";

const servers: FakeServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function fake(opts: FakeOptions = {}): Promise<FakeServer> {
  const s = await startFakeOpenAI(opts);
  servers.push(s);
  return s;
}

function client(url: string, opts: Partial<LlmClientOptions> = {}): LlmClient {
  return new LlmClient({ baseURL: url, concurrency: 4, timeoutMs: 5000, maxRetries: 3, retryBaseMs: 5, random: () => 0.5, ...opts });
}

/** A one-off server for answers the fake does not give; closed after the suite. */
async function loopback(handler: http.RequestListener): Promise<{ url: string; requests(): number }> {
  let count = 0;
  const srv = http.createServer((req, res) => {
    count++;
    handler(req, res);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  servers.push({ close: () => new Promise<void>((r) => (srv.closeAllConnections(), srv.close(() => r()))) } as FakeServer);
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/v1`, requests: () => count };
}

const ask = (extra: object = {}) => ({ model: "m", messages: [{ role: "user" as const, content: "Explain backoff." }], ...extra });

async function rejection(p: Promise<unknown>): Promise<MetajudgeError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof MetajudgeError, `expected a MetajudgeError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected a rejection");
}

describe("LlmClient", () => {
  it("returns n choices from one request", async () => {
    const s = await fake();
    const c = client(s.url);
    const r = await c.complete(ask({ n: 3, seed: 1 }));
    assert.deepEqual(
      r.choices.map((x) => x.index),
      [0, 1, 2],
    );
    assert.equal(new Set(r.choices.map((x) => x.text)).size, 3);
    assert.ok(r.choices.every((x) => x.text.length >= 40 && x.finish_reason === "stop"));
    assert.equal(r.attempts, 1);
    assert.equal(r.model, "m");
    assert.equal(s.stats.chatRequests, 1);
    assert.equal(c.supportsN, true);
  });

  it("retries a 500 with jittered exponential backoff, then succeeds", async () => {
    const s = await fake({ fault: { kind: "status", status: 500, times: 2 } });
    const retries: RetryInfo[] = [];
    const c = client(s.url, { onRetry: (i) => retries.push(i) });
    const r = await c.complete(ask());
    assert.equal(r.attempts, 3);
    assert.equal(s.stats.chatRequests, 3);
    // random() = 0.5 of a cap of 5 ms, then 10 ms
    assert.deepEqual(
      retries.map((i) => [i.attempt, i.delayMs, i.status]),
      [
        [1, 2, 500],
        [2, 5, 500],
      ],
    );
    assert.equal(c.usage.retries, 2);
  });

  it("waits as long as Retry-After asks on a 429", async () => {
    const s = await fake({ fault: { kind: "status", status: 429, times: 1, retryAfter: 1 } });
    const retries: RetryInfo[] = [];
    const c = client(s.url, { onRetry: (i) => retries.push(i) });
    const t0 = Date.now();
    await c.complete(ask());
    assert.equal(retries.length, 1);
    assert.equal(retries[0]?.status, 429);
    assert.equal(retries[0]?.delayMs, 1000);
    assert.ok(Date.now() - t0 >= 950);
  });

  it("caps a server's Retry-After at retryMaxMs and reads HTTP dates", () => {
    assert.equal(retryAfterMs(new Headers({ "retry-after-ms": "250", "retry-after": "9" })), 250);
    assert.equal(retryAfterMs(new Headers({ "retry-after": "2" })), 2000);
    const now = Date.parse("2026-01-01T00:00:00Z");
    assert.equal(retryAfterMs(new Headers({ "retry-after": "Thu, 01 Jan 2026 00:00:03 GMT" }), now), 3000);
    assert.equal(retryAfterMs(new Headers({ "retry-after": "soon" })), undefined);
  });

  it("gives up on a server that always fails with reason server, naming the URL", async () => {
    const s = await fake({ fault: { kind: "status", status: 500, message: "engine crashed" } });
    const c = client(s.url, { maxRetries: 2 });
    const e = await rejection(c.complete(ask()));
    assert.equal(e.reason, "server");
    assert.match(e.message, new RegExp(`${s.url}/chat/completions`));
    assert.match(e.message, /500/);
    assert.match(e.message, /engine crashed/);
    assert.equal(s.stats.chatRequests, 3);
    assert.equal(c.usage.failures, 1);
  });

  it("reports a closed port as refused, naming the URL", async () => {
    const s = await startFakeOpenAI();
    await s.close();
    const c = client(s.url, { maxRetries: 1 });
    const e = await rejection(c.complete(ask()));
    assert.equal(e.reason, "refused");
    assert.ok(e.message.includes(`${s.url}/chat/completions`));
    assert.match(e.message, /check that the server is running/);
  });

  it("times out a hanging server after each attempt's timeoutMs", async () => {
    const s = await fake({ fault: { kind: "hang" } });
    const c = client(s.url, { timeoutMs: 200, maxRetries: 1 });
    const t0 = Date.now();
    const e = await rejection(c.complete(ask()));
    assert.equal(e.reason, "timeout");
    assert.equal(s.stats.chatRequests, 2);
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(c.inFlight, 0);
  });

  it("retries a reset connection", async () => {
    const s = await fake({ fault: { kind: "reset", times: 1 } });
    const c = client(s.url);
    const r = await c.complete(ask());
    assert.equal(r.attempts, 2);
  });

  it("rejects promptly with cancelled when aborted mid-request", async () => {
    const s = await fake({ fault: { kind: "hang" } });
    const c = client(s.url);
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 50);
    const t0 = Date.now();
    const e = await rejection(c.complete(ask(), ctl.signal));
    assert.equal(e.reason, "cancelled");
    assert.ok(Date.now() - t0 < 500);
    assert.equal(c.inFlight, 0);
    assert.equal(c.usage.failures, 0);
  });

  it("rejects promptly when aborted during a backoff sleep", async () => {
    const s = await fake({ fault: { kind: "status", status: 503, retryAfter: 10 } });
    const c = client(s.url);
    const ctl = new AbortController();
    const t0 = Date.now();
    const p = c.complete(ask(), ctl.signal);
    setTimeout(() => ctl.abort(), 100);
    assert.equal((await rejection(p)).reason, "cancelled");
    assert.ok(Date.now() - t0 < 1000);
  });

  it("lets a queued call be cancelled without leaking its slot", async () => {
    const s = await fake({ fault: { kind: "hang" } });
    const c = client(s.url, { concurrency: 1 });
    const first = new AbortController();
    const queued = new AbortController();
    const p1 = c.complete(ask(), first.signal);
    const p2 = c.complete(ask(), queued.signal);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(c.inFlight, 1);
    assert.equal(c.queued, 1);
    queued.abort();
    assert.equal((await rejection(p2)).reason, "cancelled");
    assert.equal(c.queued, 0);
    first.abort();
    assert.equal((await rejection(p1)).reason, "cancelled");
    assert.equal(c.inFlight, 0);
    s.setFault(null);
    const r = await c.complete(ask());
    assert.equal(r.choices.length, 1);
    assert.equal(s.stats.chatRequests, 2); // the queued call never reached the server
  });

  it("keeps at most `concurrency` requests in flight", async () => {
    const s = await fake({ latencyMs: 15 });
    const c = client(s.url, { concurrency: 4 });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => c.complete(ask({ seed: i }))));
    assert.equal(results.length, 50);
    assert.equal(s.stats.maxInFlight, 4);
    assert.equal(c.inFlight, 0);
    assert.equal(c.usage.requests, 50);
  });

  it("falls back to one request per choice when the server refuses n", async () => {
    const s = await fake({ rejectN: true, record: true });
    const c = client(s.url);
    const r = await c.complete(ask({ n: 3, seed: 7 }));
    assert.deepEqual(
      r.choices.map((x) => x.index),
      [0, 1, 2],
    );
    assert.equal(c.supportsN, false);
    assert.deepEqual(
      s.received
        .filter((b) => b.n === undefined)
        .map((b) => b.seed)
        .sort(),
      [7, 8, 9],
    );
    assert.equal(r.attempts, 4);
    const before = s.stats.chatRequests;
    await c.complete(ask({ n: 2 }));
    assert.equal(s.stats.chatRequests - before, 2); // no second try of n
  });

  it("fills in choices a server that ignores n did not return", async () => {
    const s = await fake({ ignoreN: true });
    const c = client(s.url);
    const r = await c.complete(ask({ n: 3, seed: 1 }));
    assert.deepEqual(
      r.choices.map((x) => x.index),
      [0, 1, 2],
    );
    assert.equal(s.stats.chatRequests, 3);
    assert.equal(c.supportsN, false);
  });

  it("probes with n=1 after a 400 that does not name n", async () => {
    const s = await fake({ respond: (_req, i) => `answer ${i}` });
    s.setFault({ kind: "status", status: 400, times: 1, message: "unsupported parameter combination" });
    const c = client(s.url);
    const r = await c.complete(ask({ n: 2 }));
    assert.deepEqual(
      r.choices.map((x) => x.text),
      ["answer 0", "answer 0"],
    );
    assert.equal(c.supportsN, false);
    assert.equal(s.stats.chatRequests, 3);
  });

  it("does not retry a 401 and reports auth", async () => {
    const s = await fake({ apiKey: "secret" });
    const c = client(s.url, { apiKeyEnv: "MJ_KEY" });
    const e = await rejection(c.complete(ask()));
    assert.equal(e.reason, "auth");
    assert.match(e.message, /MJ_KEY/);
    assert.equal(s.stats.requests, 1);
    assert.ok((await client(s.url, { apiKey: "secret" }).complete(ask())).choices.length === 1);
  });

  it("reports a 404 model as badInput without retrying", async () => {
    const s = await fake({ models: ["real"] });
    const e = await rejection(client(s.url).complete(ask()));
    assert.equal(e.reason, "badInput");
    assert.match(e.message, /does not exist/);
    assert.equal(s.stats.requests, 1);
  });

  it("accumulates usage across calls", async () => {
    const s = await fake({ fault: { kind: "every", nth: 2, status: 500 } });
    const c = client(s.url);
    const a = await c.complete(ask({ n: 2 }));
    const b = await c.complete(ask({ max_tokens: 3 }));
    assert.equal(b.choices[0]?.finish_reason, "length");
    assert.equal(b.usage.completion_tokens, 3);
    const u = c.usage;
    assert.equal(u.prompt_tokens, a.usage.prompt_tokens + b.usage.prompt_tokens);
    assert.equal(u.completion_tokens, a.usage.completion_tokens + b.usage.completion_tokens);
    assert.equal(u.requests, 3);
    assert.equal(u.retries, 1);
    assert.equal(u.failures, 0);
  });

  it("backs off as a saturated server asks and still gets every answer", async () => {
    const s = await fake({ latencyMs: 10, maxConcurrency: 2, busyRetryAfterMs: 20 });
    const retries: RetryInfo[] = [];
    const c = client(s.url, { concurrency: 6, maxRetries: 20, onRetry: (i) => retries.push(i) });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => c.complete(ask({ seed: i }))));
    assert.equal(results.length, 12);
    assert.ok(retries.length > 0 && retries.every((r) => r.status === 429 && r.delayMs >= 20));
  });

  it("reports the server's own words whatever shape its error takes", async () => {
    const bodies = [
      '{"object":"error","message":"max_tokens is too large","type":"BadRequestError","param":null,"code":400}',
      '{"detail":[{"loc":["body","messages"],"msg":"field required"}]}',
      "<html><head><title>400 Bad Request</title></head>\n<body>nginx</body></html>",
    ];
    let i = 0;
    const srv = http.createServer((req, res) => {
      req.resume();
      res.writeHead(400, { "content-type": "application/json" }).end(bodies[i++]);
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as { port: number }).port;
    const c = client(`http://127.0.0.1:${port}/v1`);
    const messages = [];
    for (let k = 0; k < bodies.length; k++) messages.push((await rejection(c.complete(ask()))).message);
    srv.closeAllConnections();
    srv.close();
    assert.match(messages[0] ?? "", /answered 400: max_tokens is too large;/);
    assert.match(messages[1] ?? "", /field required/);
    assert.match(messages[2] ?? "", /answered 400: 400 Bad Request nginx;/);
    assert.ok(messages.every((m) => !m.includes("\n")));
  });

  it("surfaces the message of an error a server sends with 200, retrying it only when its code is transient", async () => {
    const bodies = [
      '{"error":{"message":"CUDA out of memory while allocating the KV cache","type":"InternalServerError","code":503}}',
      '{"object":"error","message":"This model\'s maximum context length is 4096 tokens","type":"BadRequestError","param":null,"code":400}',
    ];
    const srv = await loopback((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json" }).end(bodies[Number(req.headers["x-case"] ?? 0)] ?? bodies[0]);
    });
    const transient = await rejection(client(srv.url, { maxRetries: 2 }).complete(ask()));
    assert.equal(transient.reason, "server");
    assert.match(transient.message, /CUDA out of memory while allocating the KV cache/);
    assert.match(transient.message, /after 3 attempts/);
    assert.equal(srv.requests(), 3);
    bodies[0] = bodies[1] as string;
    const fatal = await rejection(client(srv.url, { maxRetries: 2 }).complete(ask()));
    assert.equal(fatal.reason, "badInput");
    assert.match(fatal.message, /maximum context length is 4096 tokens/);
    assert.equal(srv.requests(), 4, "a 400 in the body is not retried");
  });

  it("never shows a password from base_url in an error, however the request fails", async () => {
    const secretUrl = (url: string): string => url.replace("http://", "http://alice:s3cr3t-pw@");
    const failing = await fake({ fault: { kind: "status", status: 500, message: "engine crashed" } });
    const locked = await fake({ apiKey: "right-key" });
    const hanging = await fake({ fault: { kind: "hang" } });
    const closed = await startFakeOpenAI();
    await closed.close();
    const redirect = await loopback((req, res) => {
      req.resume();
      res.writeHead(307, { location: `http://bob:hunter2@127.0.0.1:1/v1/chat/completions` }).end();
    });
    const retries: RetryInfo[] = [];
    const errors = [
      await rejection(client(secretUrl(failing.url), { maxRetries: 1, onRetry: (i) => retries.push(i) }).complete(ask())),
      await rejection(client(secretUrl(locked.url), { apiKey: "wrong-key" }).complete(ask())),
      await rejection(client(secretUrl(hanging.url), { timeoutMs: 100, maxRetries: 0 }).complete(ask())),
      await rejection(client(secretUrl(closed.url), { maxRetries: 0 }).complete(ask())),
      await rejection(client(secretUrl(redirect.url), { maxRetries: 0 }).complete(ask())),
    ];
    assert.deepEqual(
      errors.map((e) => e.reason),
      ["server", "auth", "timeout", "refused", "badInput"],
    );
    for (const e of errors) {
      const text = `${e.message} ${String(e.cause)} ${JSON.stringify(retries)}`;
      assert.ok(!text.includes("s3cr3t-pw") && !text.includes("hunter2"), text);
      assert.ok(e.message.includes("alice:***@127.0.0.1"), e.message);
    }
    assert.match(errors[4]?.message ?? "", /bob:\*\*\*@127\.0\.0\.1:1/);
  });

  it("masks the credentials of any URL it is asked to show, and nothing else", () => {
    const cases: [string, string][] = [
      ["http://alice:s3cr3t@gpu-box:8000/v1", "http://alice:***@gpu-box:8000/v1"],
      ["https://sk-token@proxy.example/v1", "https://***@proxy.example/v1"],
      ["http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"],
      ["http://u:p%40ss@[::1]:8000/v1/chat/completions", "http://u:***@[::1]:8000/v1/chat/completions"],
      ["not a url, user:pw@host", "not a url, user:pw@host"],
    ];
    for (const [url, shown] of cases) assert.equal(redactUrl(url), shown, url);
  });

  it("the trial report names the endpoint without its password", () => {
    const plan = {
      role: "judge",
      cases: [],
      iteration: 1,
      mode: "text",
      endpoint: { base_url: "http://alice:s3cr3t@gpu-box:8000/v1", model: "m" },
    };
    const report = trialReport(plan as unknown as Parameters<typeof trialReport>[0], [], {
      templateName: "judge.md",
      source: "x",
      describe: String,
      at: new Date(0),
    });
    assert.match(report, /sent to http:\/\/alice:\*\*\*@gpu-box:8000\/v1 \(model m\)/);
    assert.ok(!report.includes("s3cr3t"));
  });

  it("sends the credentials of base_url as basic auth when no API key is set", async () => {
    let seen: string | undefined;
    const srv = await loopback((req, res) => {
      req.resume();
      seen = req.headers.authorization;
      res
        .writeHead(200, { "content-type": "application/json" })
        .end('{"choices":[{"index":0,"message":{"content":"hi"},"finish_reason":"stop"}]}');
    });
    const r = await client(srv.url.replace("http://", "http://alice:s3cr3t@")).complete(ask());
    assert.equal(r.choices[0]?.text, "hi");
    assert.equal(seen, `Basic ${Buffer.from("alice:s3cr3t").toString("base64")}`);
  });

  it("cuts a huge error page to its first few hundred characters", async () => {
    const page = `<html><body><h1>502 Bad Gateway</h1>${"<p>upstream trace line</p>\n".repeat(40_000)}</body></html>`;
    const srv = await loopback((req, res) => {
      req.resume();
      res.writeHead(502, { "content-type": "text/html" }).end(page);
    });
    const e = await rejection(client(srv.url, { maxRetries: 0 }).complete(ask()));
    assert.ok(page.length > 1_000_000);
    assert.match(e.message, /answered 502: 502 Bad Gateway upstream trace line upstream trace line/);
    assert.ok(e.message.length < 900, `${e.message.length} characters`);
    assert.match(e.message, /…; check the server's log$/);
    assert.ok(!e.message.includes("\n"));
  });

  it("runs as its own process, steerable over HTTP", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "test/support/fake-openai.ts", "--port", "0", "--fault", "status:503:times=1"],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    try {
      let timer: NodeJS.Timeout | undefined;
      const [line] = await Promise.race([
        createInterface({ input: child.stdout })
          [Symbol.asyncIterator]()
          .next()
          .then((r) => [r.value as string]),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("fake server did not start")), 8000))),
      ]).finally(() => clearTimeout(timer));
      const { url } = JSON.parse(line ?? "") as { url: string };
      const c = client(url);
      assert.equal((await c.complete(ask())).attempts, 2);
      const root = url.replace(/\/v1$/, "");
      await fetch(`${root}/__fault`, { method: "POST", body: JSON.stringify({ kind: "status", status: 401 }) });
      assert.equal((await rejection(c.complete(ask()))).reason, "auth");
      const stats = (await (await fetch(`${root}/__stats`)).json()) as { chatRequests: number; byStatus: Record<string, number> };
      assert.deepEqual([stats.chatRequests, stats.byStatus["503"], stats.byStatus["401"]], [3, 1, 1]);
    } finally {
      child.kill("SIGTERM");
    }
  });
});
