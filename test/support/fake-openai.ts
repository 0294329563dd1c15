// A real HTTP server speaking the chat-completions protocol, so the client, the pipeline and the
// CLI are exercised over loopback exactly as against vLLM or OpenAI, without a GPU. Answers are
// pure functions of the request so runs are reproducible and resumes can be compared byte for byte.
import http from "node:http";
import { prng } from "../../src/local/model.js";

export interface FakeChatRequest {
  model: string;
  messages: { role: string; content: string }[];
  n?: number;
  temperature?: number;
  max_tokens?: number;
  seed?: number;
  stop?: string[] | string;
  [key: string]: unknown;
}

export type Fault =
  | { kind: "status"; status: number; times?: number; retryAfter?: number; message?: string }
  | { kind: "hang"; times?: number }
  | { kind: "reset"; times?: number }
  | { kind: "every"; nth: number; status: number };

export interface FakeOptions {
  port?: number; // 0 (default) picks a free one
  host?: string; // default 127.0.0.1
  latencyMs?: number | ((req: FakeChatRequest) => number);
  maxConcurrency?: number; // admitted chat requests beyond this get 429
  busyRetryAfterMs?: number; // what that 429 asks for; default 100
  rejectN?: boolean; // 400 on n > 1, as some servers do
  ignoreN?: boolean; // one choice whatever n says, as other servers do
  apiKey?: string; // when set, other bearer tokens get 401
  models?: string[]; // when set, other models get 404
  fault?: Fault | null;
  record?: boolean; // keep every chat body in `received` (tests only: it grows without bound)
  respond?: (req: FakeChatRequest, index: number) => string;
  // Share (0..1) of json_schema answers broken on purpose, as from a server that ignores the schema.
  // Default 0: a schema is always honoured, as constrained decoding does.
  malformedJson?: number;
}

// requests counts every route but the /__ control ones; the in-flight figures count chat requests.
export type FakeStats = { requests: number; chatRequests: number; byStatus: Record<number, number>; maxInFlight: number; inFlight: number };

export interface FakeServer {
  url: string; // base URL ending in /v1
  port: number;
  close(): Promise<void>;
  stats: FakeStats;
  received: FakeChatRequest[]; // filled only with opts.record
  setFault(f: Fault | null): void;
}

// ---- deterministic text ----------------------------------------------------------------------

function fnv1a(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function mix(h: number, v: number): number {
  h = Math.imul(h ^ (v >>> 0), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const WORDS = (
  "the a model answer question data result method approach example value step first then because however " +
  "therefore simple clear important consider note case use process system test measure improve learn " +
  "function input output training response user each this that which can should will often usually " +
  "more less better different specific general key part way time number small large quickly carefully"
).split(" ");

const JUDGE_LINES = [
  "The response is relevant and addresses the user's question.",
  "It covers a substantial portion of the request but misses some details.",
  "The answer is written from an AI assistant's perspective and is well organized.",
  "Some statements are vague and would benefit from concrete examples.",
  "It answers the basic elements of the question in a useful way.",
  "The response contains minor inaccuracies that reduce its value.",
  "It is concise, focused and reflects expert knowledge.",
];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

function prose(r: () => number, length: number): string {
  let out = "";
  while (out.length < length) {
    const words = 6 + Math.floor(r() * 11);
    let s = "";
    for (let w = 0; w < words; w++) s += (w === 0 ? "" : " ") + pick(r, WORDS);
    out += (out ? " " : "") + s.charAt(0).toUpperCase() + s.slice(1) + ".";
  }
  const cut = out.lastIndexOf(" ", length);
  return cut > 0 && out.length > length ? out.slice(0, cut).replace(/[.,]?$/, ".") : out;
}

function judgeText(r: () => number, base: number): string {
  const lines = [pick(r, JUDGE_LINES), pick(r, JUDGE_LINES)];
  if (r() < 0.5) lines.push(pick(r, JUDGE_LINES));
  const u = r();
  if (u < 0.03) return lines.join(" "); // the occasional judge that forgets to score
  const noise = [-1, -0.5, 0, 0, 0.5, 1][Math.floor(r() * 6)] ?? 0;
  const score = Math.min(5, Math.max(0, base + noise));
  return u < 0.13 ? `${lines.join(" ")}\n\n**Score:** ${score}/5` : `${lines.join(" ")}\n\nScore: ${score}`;
}

function metaText(r: () => number, spelling: string): string {
  const reason = `${pick(r, JUDGE_LINES)} ${pick(r, JUDGE_LINES)}`;
  const u = r();
  if (u < 0.03) return `${reason} Both ${spelling.toLowerCase()}s have merit and I cannot decide.`;
  return `${reason}\n\nWinner: ${spelling} ${u < 0.6 ? "A" : "B"}`; // position bias toward A
}

/** The default answer for choice `index`: realistic per role, judged from the last user message. */
export function defaultAnswer(req: FakeChatRequest, index: number, promptHash = hashPrompt(req), malformedJson = 0): string {
  const temp = Math.round((req.temperature ?? 1) * 1000);
  const r = prng(mix(mix(mix(promptHash, req.seed ?? 0x5eed), index), temp));
  const last = [...req.messages].reverse().find((m) => m.role === "user")?.content ?? "";
  const schema = requestedSchema(req);
  if (schema) return schemaAnswer(r, schema, last, malformedJson);
  const meta = /Judg(e?)ment A/.exec(last);
  if (meta) return metaText(r, meta[1] ? "Judgement" : "Judgment");
  // Same judged text, same underlying quality: samples scatter around it, with ties, as real judges do.
  if (last.includes("additive 5-point") || last.includes("Score:")) return judgeText(r, [1, 2, 3, 3, 4, 4, 5][fnv1a(last) % 7] ?? 3);
  return prose(r, 40 + Math.floor(r() * 561));
}

// ---- json_schema answers -----------------------------------------------------------------------
//
// What a server with constrained decoding returns: JSON valid against the request's schema, the
// verdict drawn as the text answers draw theirs (the same quality per judged text, the same
// position bias), strings cut to maxLength as a grammar would close them.

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  enum?: unknown[];
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

function requestedSchema(req: FakeChatRequest): Schema | null {
  const f = req.response_format as { type?: unknown; json_schema?: { schema?: unknown } } | undefined;
  if (f?.type !== "json_schema" || typeof f.json_schema?.schema !== "object" || f.json_schema.schema === null) return null;
  return f.json_schema.schema as Schema;
}

function schemaValue(r: () => number, s: Schema, key: string, last: string): unknown {
  if (Array.isArray(s.enum) && s.enum.length > 0)
    return key === "winner" && s.enum.length === 2 ? s.enum[r() < 0.6 ? 0 : 1] : pick(r, s.enum);
  switch (s.type) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s.properties ?? {})) out[k] = schemaValue(r, v, k, last);
      return out;
    }
    case "number":
    case "integer": {
      const lo = s.minimum ?? 0;
      const hi = s.maximum ?? lo + 10;
      if (key === "score") {
        const base = [1, 2, 3, 3, 4, 4, 5][fnv1a(last) % 7] ?? 3;
        const noise = [-1, -0.5, 0, 0, 0.5, 1][Math.floor(r() * 6)] ?? 0;
        return Math.min(hi, Math.max(lo, s.type === "integer" ? Math.round(base + noise) : base + noise));
      }
      const v = lo + r() * (hi - lo);
      return s.type === "integer" ? Math.round(v) : Math.round(v * 100) / 100;
    }
    case "boolean":
      return r() < 0.5;
    default: {
      const text = key === "reason" ? `${pick(r, JUDGE_LINES)} ${pick(r, JUDGE_LINES)}` : prose(r, 20 + Math.floor(r() * 80));
      return s.maxLength !== undefined && text.length > s.maxLength ? text.slice(0, s.maxLength) : text;
    }
  }
}

function schemaAnswer(r: () => number, schema: Schema, last: string, malformed: number): string {
  const value = schemaValue(r, schema, "", last);
  const json =
    typeof value === "object" && value !== null
      ? `{${Object.entries(value)
          .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
          .join(", ")}}`
      : JSON.stringify(value);
  if (malformed <= 0 || r() >= malformed) return json;
  const verdict = Object.keys(schema.properties ?? {}).find((k) => k !== "reason") ?? "score";
  switch (Math.floor(r() * 3)) {
    case 0:
      return json.slice(0, Math.floor(json.length / 2)); // cut short
    case 1: // the schema ignored: the text-mode format instead
      return verdict === "winner" ? `${pick(r, JUDGE_LINES)}\n\nWinner: Judgement A` : `${pick(r, JUDGE_LINES)}\n\nScore: 4`;
    default: // the verdict of the wrong type
      return json.replace(new RegExp(`("${verdict}": )([^,}]+)`), (_m, k: string, v: string) => `${k}${JSON.stringify(v)}`);
  }
}

function hashPrompt(req: FakeChatRequest): number {
  let h = fnv1a(req.model);
  for (const m of req.messages) h = fnv1a(m.content, fnv1a(m.role, h));
  return h;
}

// ---- server ------------------------------------------------------------------------------------

function errorBody(message: string, type: string, param: string | null = null, code: string | null = null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  404: "not_found_error",
  429: "rate_limit_error",
};

export function startFakeOpenAI(opts: FakeOptions = {}): Promise<FakeServer> {
  let fault: Fault | null = opts.fault ?? null;
  let faultHits = 0;
  let admitted = 0; // chat requests past the capacity check, still being answered
  let seq = 0;
  const timers = new Set<NodeJS.Timeout>();
  const stats: FakeStats = { requests: 0, chatRequests: 0, byStatus: {}, maxInFlight: 0, inFlight: 0 };
  const received: FakeChatRequest[] = [];
  const setFault = (f: Fault | null): void => void ([fault, faultHits] = [f, 0]);

  function send(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    if (res.destroyed || res.writableEnded) return;
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers });
    res.end(body);
  }

  function answer(req: FakeChatRequest): string {
    const n = opts.ignoreN ? 1 : Math.max(1, req.n ?? 1);
    const stops = req.stop === undefined ? [] : Array.isArray(req.stop) ? req.stop : [req.stop];
    const promptChars = req.messages.reduce((s, m) => s + m.content.length, 0);
    const hash = hashPrompt(req);
    let completion = 0;
    const choices = [];
    for (let i = 0; i < n; i++) {
      let text = opts.respond ? opts.respond(req, i) : defaultAnswer(req, i, hash, opts.malformedJson ?? 0);
      let finish = "stop";
      for (const s of stops) if (s && text.includes(s)) text = text.slice(0, text.indexOf(s));
      if (req.max_tokens !== undefined && text.length > req.max_tokens * 4) {
        text = text.slice(0, req.max_tokens * 4);
        finish = "length";
      }
      completion += Math.ceil(text.length / 4);
      choices.push({ index: i, message: { role: "assistant", content: text }, logprobs: null, finish_reason: finish });
    }
    const prompt = Math.ceil(promptChars / 4);
    return JSON.stringify({
      id: `chatcmpl-fake-${++seq}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: req.model,
      choices,
      usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
      system_fingerprint: "fake",
    });
  }

  // True when the fault took over the request.
  function applyFault(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const f = fault;
    if (!f) return false;
    if (f.kind === "every") {
      if (++faultHits % Math.max(1, f.nth) !== 0) return false;
      send(res, f.status, errorBody(`injected failure (every ${f.nth})`, "server_error"));
      return true;
    }
    if (f.times !== undefined && faultHits >= f.times) return false;
    faultHits++;
    // A hang leaves the socket open until the client gives up or close().
    if (f.kind === "reset") req.socket.destroy();
    else if (f.kind === "status") {
      const headers: Record<string, string> = f.retryAfter === undefined ? {} : { "retry-after": String(f.retryAfter) };
      const type = ERROR_TYPES[f.status] ?? (f.status >= 500 ? "server_error" : "invalid_request_error");
      send(res, f.status, errorBody(f.message ?? `injected ${f.status}`, type), headers);
    }
    return true;
  }

  function chat(req: http.IncomingMessage, res: http.ServerResponse, raw: string): void {
    let body: FakeChatRequest;
    try {
      body = JSON.parse(raw) as FakeChatRequest;
      if (typeof body.model !== "string" || !Array.isArray(body.messages)) throw new Error("model and messages are required");
      for (const m of body.messages) if (typeof m?.content !== "string") throw new Error("each message needs string content");
    } catch (e) {
      return send(res, 400, errorBody(`invalid request: ${(e as Error).message}`, "invalid_request_error"));
    }
    if (opts.record) received.push(body);
    if (applyFault(req, res)) return;
    if (opts.models && !opts.models.includes(body.model))
      return send(res, 404, errorBody(`The model \`${body.model}\` does not exist`, "invalid_request_error", "model", "model_not_found"));
    if (opts.rejectN && (body.n ?? 1) > 1) return send(res, 400, errorBody("n > 1 is not supported", "invalid_request_error", "n"));
    if (opts.maxConcurrency !== undefined && admitted >= opts.maxConcurrency) {
      const ms = opts.busyRetryAfterMs ?? 100;
      const headers = { "retry-after": String(Math.ceil(ms / 1000)), "retry-after-ms": String(ms) };
      return send(res, 429, errorBody("server busy", "rate_limit_error"), headers);
    }
    admitted++;
    const latency = typeof opts.latencyMs === "function" ? opts.latencyMs(body) : (opts.latencyMs ?? 0);
    const finish = (): void => {
      admitted--;
      let out: string;
      try {
        out = answer(body);
      } catch (e) {
        return send(res, 500, errorBody(`respond() threw: ${(e as Error).message}`, "server_error"));
      }
      send(res, 200, out);
    };
    if (latency <= 0) return finish();
    const t = setTimeout(() => {
      timers.delete(t);
      finish();
    }, latency);
    timers.add(t);
  }

  function authorized(req: http.IncomingMessage): boolean {
    return opts.apiKey === undefined || req.headers.authorization === `Bearer ${opts.apiKey}`;
  }

  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      if (path?.startsWith("/__")) return control(path, req.method, raw, res);
      stats.requests++;
      if (!authorized(req))
        return send(res, 401, errorBody("Incorrect API key provided", "invalid_request_error", null, "invalid_api_key"));
      if (req.method === "GET" && path === "/v1/models") {
        const ids = opts.models ?? ["fake-model"];
        return send(
          res,
          200,
          JSON.stringify({ object: "list", data: ids.map((id) => ({ id, object: "model", created: 0, owned_by: "fake" })) }),
        );
      }
      if (req.method !== "POST" || path !== "/v1/chat/completions")
        return send(res, 404, errorBody(`no route ${req.method} ${path}`, "not_found_error"));
      stats.chatRequests++;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      res.once("close", () => stats.inFlight--);
      chat(req, res, raw);
    });
  });

  // Lets a test drive a server that runs in another process.
  function control(path: string, method: string | undefined, raw: string, res: http.ServerResponse): void {
    if (path === "/__stats") return send(res, 200, JSON.stringify(stats));
    if (path === "/__fault" && method === "POST") {
      try {
        setFault(raw.trim() ? (JSON.parse(raw) as Fault | null) : null);
      } catch (e) {
        return send(res, 400, errorBody(`bad fault: ${(e as Error).message}`, "invalid_request_error"));
      }
      return send(res, 200, "{}");
    }
    send(res, 404, errorBody("unknown control route", "not_found_error"));
  }

  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.maxRequestsPerSocket = 0;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    // A deep backlog so a burst of thousands of new connections is not met with SYN retries.
    server.listen({ port: opts.port ?? 0, host: opts.host ?? "127.0.0.1", backlog: 4096 }, () => {
      const addr = server.address();
      if (addr === null || typeof addr === "string") return reject(new Error("no TCP address"));
      const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
      resolve({
        url: `http://${host}:${addr.port}/v1`,
        port: addr.port,
        stats,
        received,
        setFault,
        close: () =>
          new Promise<void>((done) => {
            for (const t of timers) clearTimeout(t);
            timers.clear();
            server.close(() => done());
            server.closeAllConnections(); // hanging requests would otherwise keep close() waiting
          }),
      });
    });
  });
}

// ---- standalone --------------------------------------------------------------------------------

/** `status:500[:times=3][:retryAfter=1]`, `hang`, `reset[:times=2]`, `every:5[:status=500]`, or a JSON Fault. */
export function parseFault(spec: string): Fault {
  if (spec.trim().startsWith("{")) return JSON.parse(spec) as Fault;
  const [kind = "", first, ...rest] = spec.split(":");
  const main = { status: "status", every: "nth" }[kind];
  const f: Record<string, unknown> = { kind, ...(kind === "every" ? { status: 500 } : {}) };
  for (const part of first === undefined ? [] : [first, ...rest]) {
    const [k = "", v] = part.split("=");
    if (v === undefined && main) f[main] = Number(k);
    else f[k] = Number(v);
  }
  if (!["status", "hang", "reset", "every"].includes(kind) || (main && typeof f[main] !== "number")) throw new Error(`bad fault "${spec}"`);
  return f as Fault;
}

async function main(argv: string[]): Promise<void> {
  const opts: FakeOptions = {};
  const flags: Record<string, (v: string) => void> = {
    "--port": (v) => (opts.port = Number(v)),
    "--host": (v) => (opts.host = v),
    "--latency-ms": (v) => (opts.latencyMs = Number(v)),
    "--max-concurrency": (v) => (opts.maxConcurrency = Number(v)),
    "--busy-retry-after-ms": (v) => (opts.busyRetryAfterMs = Number(v)),
    "--api-key": (v) => (opts.apiKey = v),
    "--models": (v) => (opts.models = v.split(",")),
    "--fault": (v) => (opts.fault = parseFault(v)),
    "--malformed-json": (v) => (opts.malformedJson = Number(v)),
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? "";
    if (flag === "--reject-n" || flag === "--ignore-n") opts[flag === "--reject-n" ? "rejectN" : "ignoreN"] = true;
    else if (flags[flag] && argv[i + 1] !== undefined) flags[flag](argv[++i] as string);
    else throw new Error(`unknown flag or missing value: ${flag}`);
  }
  const server = await startFakeOpenAI(opts);
  process.stdout.write(JSON.stringify({ url: server.url, port: server.port }) + "\n");
  const stop = (): void => void server.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

if (typeof require !== "undefined" && require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`fake-openai: ${(e as Error).message}\n`);
    process.exit(2);
  });
}
