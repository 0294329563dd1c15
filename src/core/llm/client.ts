// The one way Metajudge talks to a model: an OpenAI-compatible chat-completions endpoint (vLLM,
// SGLang, llama.cpp, Ollama, OpenAI). Transport does the HTTP; this class owns everything a long run
// needs on top of it: a shared concurrency cap, retries that respect the server, cancellation,
// `n` emulation for servers without it, and token accounting for the manifest.
import { MetajudgeError, type ErrorReason } from "../errors.js";
import { header, redactUrl, retryAfterMs, serverError, type ServerError } from "./http.js";
import { NoAnswer, Transport, type Answer } from "./transport.js";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  n?: number;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  seed?: number;
  stop?: string[];
  response_format?: unknown;
}

export interface ChatChoice {
  index: number;
  text: string;
  finish_reason: string | null;
}

export interface ChatResult {
  choices: ChatChoice[];
  usage: { prompt_tokens: number; completion_tokens: number };
  model: string;
  latencyMs: number;
  attempts: number; // HTTP requests this call made, retries and n-emulation included
}

export interface LlmUsage {
  prompt_tokens: number;
  completion_tokens: number;
  requests: number; // HTTP requests sent
  retries: number;
  failures: number; // complete() calls that ended in an error other than cancellation
}

export interface RetryInfo {
  attempt: number; // 1-based number of the attempt that just failed
  delayMs: number;
  reason: string;
  status?: number;
}

export interface LlmClientOptions {
  baseURL: string;
  apiKey?: string;
  apiKeyEnv?: string; // only named in error messages, so the user knows what to set
  concurrency: number;
  timeoutMs: number;
  maxRetries: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  random?: () => number;
  onRetry?: (info: RetryInfo) => void;
}

/** Turns one chat-completions response body (live or from a batch file) into a ChatResult. */
export function toChatResult(body: unknown, fallbackModel: string, latencyMs: number, attempts: number): ChatResult {
  const b = (body ?? {}) as { choices?: unknown; usage?: { prompt_tokens?: unknown; completion_tokens?: unknown }; model?: unknown };
  if (!Array.isArray(b.choices)) throw new Error("the response has no choices array");
  const choices = (b.choices as { index?: unknown; message?: { content?: unknown }; finish_reason?: unknown }[]).map((c, i) => ({
    index: typeof c?.index === "number" ? c.index : i,
    text: typeof c?.message?.content === "string" ? c.message.content : "",
    finish_reason: typeof c?.finish_reason === "string" ? c.finish_reason : null,
  }));
  const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  return {
    choices,
    usage: { prompt_tokens: num(b.usage?.prompt_tokens), completion_tokens: num(b.usage?.completion_tokens) },
    model: typeof b.model === "string" ? b.model : fallbackModel,
    latencyMs,
    attempts,
  };
}

const cancelled = (): MetajudgeError => new MetajudgeError("cancelled", "cancelled");

interface Failure {
  kind: "status" | "timeout" | "connection" | "invalid";
  retryable: boolean;
  status?: number; // the HTTP status, or for an error in a 200 answer the status its code names
  inBody?: boolean; // the server answered 200 with an error object
  code?: string; // that error's code, as the server wrote it
  detail: string;
  retryAfterMs?: number;
  mentionsN?: boolean;
  cause?: unknown;
}

// What send() learnt about a request that failed for good, for completeMany() to decide on `n`.
const failures = new WeakMap<MetajudgeError, Failure & { attempts: number }>();

export class LlmClient {
  private readonly wire: Transport;
  private readonly url: string; // credentials masked: it goes into messages
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly random: () => number;
  private active = 0;
  private readonly waiters: { grant: () => void }[] = [];
  private readonly totals: LlmUsage = { prompt_tokens: 0, completion_tokens: 0, requests: 0, retries: 0, failures: 0 };
  private nSupport: boolean | undefined;

  constructor(private readonly opts: LlmClientOptions) {
    if (!(opts.concurrency >= 1)) throw new MetajudgeError("badInput", `concurrency must be at least 1, got ${opts.concurrency}`);
    const url = `${opts.baseURL.replace(/\/+$/, "")}/chat/completions`;
    try {
      this.wire = new Transport(url, opts.apiKey, opts.concurrency);
    } catch {
      throw new MetajudgeError("badInput", `endpoint.base_url ${redactUrl(opts.baseURL)} is not a URL; write it as http://host:port/v1`);
    }
    this.url = redactUrl(url);
    this.retryBaseMs = opts.retryBaseMs ?? 500;
    this.retryMaxMs = opts.retryMaxMs ?? 30_000;
    this.random = opts.random ?? Math.random;
  }

  get inFlight(): number {
    return this.active;
  }
  get queued(): number {
    return this.waiters.length;
  }
  /** Whether the server honours `n` > 1; undefined until a call with n > 1 found out. */
  get supportsN(): boolean | undefined {
    return this.nSupport;
  }
  get usage(): LlmUsage {
    return { ...this.totals };
  }

  async complete(body: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
    try {
      return (body.n ?? 1) <= 1 ? await this.send(body, signal) : await this.completeMany(body, body.n ?? 1, signal);
    } catch (e) {
      if (!(e instanceof MetajudgeError && e.reason === "cancelled")) this.totals.failures++;
      throw e;
    }
  }

  private async completeMany(body: ChatRequest, n: number, signal?: AbortSignal): Promise<ChatResult> {
    let first: ChatResult | undefined;
    let probe = false; // first came from a one-choice request
    let wasted = 0; // attempts of a refused n request, still counted in `attempts`
    if (this.nSupport !== false) {
      try {
        first = await this.send(body, signal);
      } catch (e) {
        const f = e instanceof MetajudgeError ? failures.get(e) : undefined;
        if (!f || f.kind !== "status" || !(f.status === 400 || (f.status === 422 && f.mentionsN))) throw e;
        wasted = f.attempts;
        // A 400 that does not name `n` may still be about it: the same body with one choice tells.
        if (!f.mentionsN) [first, probe] = [await this.send(this.single(body, 0), signal), true];
        this.nSupport = false;
      }
    }
    const have = new Map<number, ChatChoice>();
    if (probe && first) have.set(0, { ...(first.choices[0] as ChatChoice), index: 0 });
    else if (first) {
      for (const c of first.choices) if (c.index >= 0 && c.index < n && !have.has(c.index)) have.set(c.index, c);
      // Only ever learnt downwards, so a concurrent call's success cannot undo a refusal.
      if (have.size < n) this.nSupport = false;
      else this.nSupport ??= true;
    }
    const missing = [...Array(n).keys()].filter((i) => !have.has(i));
    const rest = await Promise.all(missing.map((i) => this.send(this.single(body, i), signal)));
    missing.forEach((i, k) => {
      const c = rest[k]?.choices[0];
      have.set(i, { index: i, text: c?.text ?? "", finish_reason: c?.finish_reason ?? null });
    });
    const parts = first ? [first, ...rest] : rest;
    const sum = (f: (r: ChatResult) => number): number => parts.reduce((s, p) => s + f(p), 0);
    return {
      choices: [...have.values()].sort((a, b) => a.index - b.index),
      usage: { prompt_tokens: sum((p) => p.usage.prompt_tokens), completion_tokens: sum((p) => p.usage.completion_tokens) },
      model: parts[0]?.model ?? body.model,
      // The fill-in requests run side by side, so they add their slowest, not their sum.
      latencyMs: (first?.latencyMs ?? 0) + Math.max(0, ...rest.map((r) => r.latencyMs)),
      attempts: wasted + sum((p) => p.attempts),
    };
  }

  private single(body: ChatRequest, index: number): ChatRequest {
    const { n: _n, ...rest } = body;
    return body.seed === undefined ? rest : { ...rest, seed: body.seed + index };
  }

  /** One request with its retries, holding one slot throughout (see `backoff`). */
  private async send(body: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
    await this.acquire(signal);
    const started = Date.now();
    try {
      for (let attempt = 1; ; attempt++) {
        const outcome = await this.attempt(body, signal);
        if (!("kind" in outcome)) {
          const result = toChatResult(outcome, body.model, Date.now() - started, attempt);
          this.totals.prompt_tokens += result.usage.prompt_tokens;
          this.totals.completion_tokens += result.usage.completion_tokens;
          return result;
        }
        const failure = outcome;
        if (!failure.retryable || attempt > this.opts.maxRetries) throw this.toError(failure, attempt);
        const delayMs = this.backoff(attempt, failure.retryAfterMs);
        this.totals.retries++;
        this.opts.onRetry?.({
          attempt,
          delayMs,
          reason: failure.detail,
          ...(failure.status === undefined ? {} : { status: failure.status }),
        });
        await sleep(delayMs, signal);
      }
    } finally {
      this.release();
    }
  }

  // Full jitter spreads a crowd of retries; a server's Retry-After is a floor, never exceeded past retryMaxMs.
  // The slot stays held while sleeping: a struggling server then sees at most `concurrency` requests,
  // at the price of healthy calls queueing behind the sleepers.
  private backoff(attempt: number, serverMs: number | undefined): number {
    const jittered = Math.floor(this.random() * Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (attempt - 1)));
    return Math.min(this.retryMaxMs, Math.max(jittered, Math.ceil(serverMs ?? 0)));
  }

  /** One HTTP request: the usable body of a 200, or what went wrong. Throws only on cancellation. */
  private async attempt(body: ChatRequest, signal?: AbortSignal): Promise<ChatBody | Failure> {
    if (signal?.aborted) throw cancelled();
    this.totals.requests++;
    let answer: Answer;
    try {
      answer = await this.wire.post(JSON.stringify(body), this.opts.timeoutMs, signal);
    } catch (e) {
      if (signal?.aborted || (e instanceof NoAnswer && e.kind === "cancelled")) throw cancelled();
      const kind = e instanceof NoAnswer && e.kind === "timeout" ? "timeout" : "connection";
      return { kind, retryable: true, detail: e instanceof Error ? e.message : String(e), cause: e instanceof NoAnswer ? e.cause : e };
    }
    if (answer.status >= 200 && answer.status < 300) return this.readOk(answer.text, (body.n ?? 1) <= 1);
    return this.readStatus(answer);
  }

  private readOk(text: string, oneChoice: boolean): ChatBody | Failure {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { kind: "invalid", retryable: false, detail: `not JSON: ${serverError(text)?.message ?? ""}` };
    }
    const b = parsed as ChatBody | null;
    if (b && typeof b === "object" && Array.isArray(b.choices) && (!oneChoice || b.choices.length > 0)) return b;
    const err = b && typeof b === "object" ? serverError(text, true) : undefined;
    if (err) return this.inBodyError(err);
    return {
      kind: "invalid",
      retryable: false,
      detail: Array.isArray(b?.choices) ? "the response has no choices" : "the response has no choices array",
    };
  }

  // Some servers (vLLM's older routes, LiteLLM proxies) answer 200 with {"error": …}: the error's
  // code is all there is to say whether a retry can help.
  private inBodyError(err: ServerError): Failure {
    const code = typeof err.code === "string" || typeof err.code === "number" ? String(err.code) : undefined;
    let status = code !== undefined && /^[1-5]\d\d$/.test(code) ? Number(code) : undefined;
    if (status === undefined && code !== undefined) {
      if (/rate.?limit|too.?many|quota/i.test(code)) status = 429;
      else if (/overload|unavailable|busy|capacity|timeout|internal|server.?error/i.test(code)) status = 503;
    }
    if (status !== undefined && status < 400) status = undefined;
    const retryable = status !== undefined && transient(status);
    return {
      kind: "status",
      inBody: true,
      retryable,
      detail: err.message,
      mentionsN: mentionsN(err),
      ...(status === undefined ? {} : { status }),
      ...(code === undefined ? {} : { code }),
    };
  }

  private readStatus(a: Answer): Failure {
    const status = a.status;
    const location = status >= 300 && status < 400 ? header(a.headers, "location") : undefined;
    const err = serverError(a.text) ?? { message: "" };
    const detail = location ? `a redirect to ${redactUrl(location)}` : err.message;
    const hint = header(a.headers, "x-should-retry");
    const retryable = hint === "true" || (hint !== "false" && transient(status));
    const wait = status === 429 || status === 503 ? retryAfterMs(a.headers) : undefined;
    return {
      kind: "status",
      retryable,
      status,
      detail,
      mentionsN: mentionsN({ ...err, message: detail }),
      ...(wait === undefined ? {} : { retryAfterMs: wait }),
    };
  }

  private toError(f: Failure, attempts: number): MetajudgeError {
    const base = redactUrl(this.opts.baseURL);
    const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
    const keyHint = this.opts.apiKeyEnv
      ? `set the API key in the ${this.opts.apiKeyEnv} environment variable`
      : "set endpoint.api_key_env in metajudge.json and export that variable";
    let reason: ErrorReason = "server";
    let what = f.inBody
      ? `answered 200 with an error${f.code === undefined ? "" : ` (code ${f.code})`}: ${f.detail}`
      : `answered ${f.status ?? "?"}: ${f.detail}`;
    let todo = "check the server's log";
    if (f.kind === "timeout")
      [reason, what, todo] = [
        "timeout",
        f.detail,
        `check that the server at ${base} is up and not overloaded, or raise request.timeout_ms`,
      ];
    else if (f.kind === "connection")
      [reason, what, todo] = ["refused", `connection failed (${f.detail})`, `check that the server is running at ${base}`];
    else if (f.kind === "invalid")
      [what, todo] = [`sent an answer Metajudge cannot use (${f.detail})`, "check that it is an OpenAI-compatible server"];
    else if (f.status === 401 || f.status === 403)
      [reason, todo] = ["auth", f.status === 401 ? keyHint : "check that the key may use this model"];
    else if (f.status === 429) [reason, todo] = ["rateLimited", "lower concurrency in metajudge.json or wait for the quota to reset"];
    else if (f.status === 408) reason = "timeout";
    else if (f.status !== undefined && f.status < 400) [reason, todo] = ["badInput", "put the URL it redirects to in endpoint.base_url"];
    else if (f.status !== undefined && f.status < 500 && f.status !== 409)
      [reason, todo] = [
        "badInput",
        f.status === 404 ? "check endpoint.base_url and the model name" : "check the model name and sampling settings",
      ];
    const err = new MetajudgeError(
      reason,
      `POST ${this.url} ${what}${tries}; ${todo}`,
      undefined,
      f.cause === undefined ? undefined : { cause: f.cause },
    );
    failures.set(err, { ...f, attempts });
    return err;
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(cancelled());
    if (this.active < this.opts.concurrency && this.waiters.length === 0) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(cancelled());
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  // A freed slot passes straight to the oldest waiter, so `active` never dips and nobody jumps the queue.
  private release(): void {
    const next = this.waiters.shift();
    if (next) next.grant();
    else this.active--;
  }
}

type ChatBody = { choices: unknown[] };

const transient = (status: number): boolean => status === 408 || status === 409 || status === 429 || status >= 500;
const mentionsN = (e: ServerError): boolean => e.param === "n" || /(^|[^\w])n([^\w]|$)/.test(e.message);

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(cancelled());
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(t);
      reject(cancelled());
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
