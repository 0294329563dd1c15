// The OpenAI-compatible HTTP face of the local model: GET /v1/models, POST /v1/chat/completions.
// One model on one CPU thread gains nothing from running requests side by side, so they are served
// one at a time in arrival order (the choices of one request do run together, in one batch); a
// bounded queue answers 429 with Retry-After when full, which Metajudge's client waits out.
import http from "node:http";
import type { GenerateParams, Generation } from "./engine.js";
import { RequestRejected } from "./engine.js";
import { MEANINGLESS } from "./model.js";
import { HttpError, parseChatRequest } from "./request.js";

/** What the server needs of a model; LocalEngine in production, a stand-in in tests. */
export interface Generator {
  generate(p: GenerateParams): Promise<Generation>;
  readonly contextSize: number;
}

export interface LocalServerOptions {
  host: string;
  port: number;
  modelId: string;
  /** Requests waiting beyond the one being answered; one more gets 429. */
  maxQueue: number;
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

export interface LocalServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Hosts a socket may bind to: this machine only. The model is a toy; the port should not be a door. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);
}

interface Job {
  params: GenerateParams;
  ctl: AbortController;
  done: (g: Generation) => void;
  fail: (e: unknown) => void;
}

function errorBody(e: HttpError): string {
  return JSON.stringify({ error: { message: e.message, type: e.type, param: e.param, code: e.code } });
}

export function startLocalServer(model: Generator, o: LocalServerOptions): Promise<LocalServer> {
  if (!isLoopback(o.host))
    return Promise.reject(
      new Error(`refusing to listen on ${o.host}: the local model serves this machine only (use 127.0.0.1, ::1 or localhost)`),
    );
  const log = o.log ?? (() => {});
  const maxBody = o.maxBodyBytes ?? 8 << 20;
  const queue: Job[] = [];
  let busy = false;
  let closing = false;
  let seq = 0;
  let avgMs = 200; // moving average of a request's service time, for Retry-After
  const created = Math.floor(Date.now() / 1000);

  function send(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers });
    res.end(body);
  }
  const fail = (res: http.ServerResponse, e: HttpError, headers: Record<string, string> = {}): void =>
    send(res, e.status, errorBody(e), headers);

  async function pump(): Promise<void> {
    if (busy) return;
    busy = true;
    try {
      for (let job = queue.shift(); job; job = queue.shift()) {
        if (job.ctl.signal.aborted) continue;
        const t0 = performance.now();
        try {
          job.done(await model.generate({ ...job.params, signal: job.ctl.signal }));
        } catch (e) {
          job.fail(e);
        }
        avgMs = 0.8 * avgMs + 0.2 * (performance.now() - t0);
      }
    } finally {
      busy = false;
    }
  }

  function modelEntry(): object {
    return {
      id: o.modelId,
      object: "model",
      created,
      owned_by: "metajudge",
      context_length: model.contextSize,
      description: `The embedded local model: ${MEANINGLESS}.`,
    };
  }

  function chat(raw: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    let params: GenerateParams;
    try {
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch (e) {
        throw new HttpError(400, `the request body is not valid JSON: ${(e as Error).message}`, "invalid_request_error");
      }
      params = parseChatRequest(body, o.modelId);
    } catch (e) {
      return fail(res, e instanceof HttpError ? e : new HttpError(400, String(e), "invalid_request_error"));
    }
    if (closing) return fail(res, new HttpError(503, "the server is shutting down", "server_error"));
    if (busy && queue.length >= o.maxQueue) {
      const waitMs = Math.ceil(avgMs * (queue.length + 1));
      return fail(res, new HttpError(429, `${queue.length} requests are queued; retry later`, "rate_limit_error", null, "queue_full"), {
        "retry-after": String(Math.max(1, Math.ceil(waitMs / 1000))),
        "retry-after-ms": String(waitMs),
      });
    }
    const id = `chatcmpl-local-${++seq}`;
    const ctl = new AbortController();
    // A client that gives up (timeout, cancel) frees its place in the queue or stops its generation.
    res.once("close", () => {
      if (!res.writableFinished) ctl.abort();
    });
    req.socket.setTimeout(0);
    const job: Job = {
      params,
      ctl,
      done: (g) => {
        const completion = g.choices.reduce((s, c) => s + c.completionTokens, 0);
        send(
          res,
          200,
          JSON.stringify({
            id,
            object: "chat.completion",
            created: Math.floor(Date.now() / 1000),
            model: o.modelId,
            choices: g.choices.map((c, index) => ({
              index,
              message: { role: "assistant", content: c.text },
              logprobs: null,
              finish_reason: c.finishReason,
            })),
            usage: { prompt_tokens: g.promptTokens, completion_tokens: completion, total_tokens: g.promptTokens + completion },
            system_fingerprint: "metajudge-local",
          }),
        );
      },
      fail: (e) => {
        if (ctl.signal.aborted) return; // nobody is listening any more
        if (e instanceof RequestRejected) return fail(res, new HttpError(400, e.message, "invalid_request_error", e.param, e.code));
        const message = e instanceof Error ? e.message : String(e);
        log(`${id}: ${message}`);
        fail(res, new HttpError(500, `the local model failed: ${message}`, "server_error"));
      },
    };
    queue.push(job);
    void pump();
  }

  const server = http.createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0] ?? "/";
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= maxBody) chunks.push(c);
    });
    req.on("error", () => res.destroy());
    req.on("end", () => {
      try {
        if (size > maxBody)
          return fail(res, new HttpError(413, `the request body is larger than ${maxBody} bytes`, "invalid_request_error"));
        const route = url.replace(/\/+$/, "");
        if (route === "/v1/models" || route === "/health" || route.startsWith("/v1/models/") || route === "/v1/chat/completions") {
          const want = route === "/v1/chat/completions" ? "POST" : "GET";
          if (req.method !== want)
            return fail(res, new HttpError(405, `${req.method} is not allowed on ${route}; use ${want}`, "invalid_request_error"), {
              allow: want,
            });
        }
        if (route === "/health") return send(res, 200, JSON.stringify({ status: "ok", queued: queue.length, busy }));
        if (route === "/v1/models") return send(res, 200, JSON.stringify({ object: "list", data: [modelEntry()] }));
        if (route.startsWith("/v1/models/")) {
          if (decodeURIComponent(route.slice("/v1/models/".length)) === o.modelId) return send(res, 200, JSON.stringify(modelEntry()));
          return fail(
            res,
            new HttpError(
              404,
              `The model \`${route.slice(11)}\` does not exist; this server serves \`${o.modelId}\``,
              "invalid_request_error",
              "model",
              "model_not_found",
            ),
          );
        }
        if (route === "/v1/chat/completions") return chat(Buffer.concat(chunks).toString("utf8"), req, res);
        fail(
          res,
          new HttpError(
            404,
            `no route ${req.method} ${url}; this server answers GET /v1/models and POST /v1/chat/completions`,
            "not_found_error",
          ),
        );
      } catch (e) {
        log(`internal error: ${(e as Error).stack ?? String(e)}`);
        fail(res, new HttpError(500, `internal error: ${(e as Error).message}`, "server_error"));
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  // A generation may take longer than Node's default 5-minute request timeout when the queue is long.
  server.requestTimeout = 0;

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: o.port, host: o.host.replace(/^\[|\]$/g, "") }, () => {
      server.off("error", reject);
      const addr = server.address();
      if (addr === null || typeof addr === "string") return reject(new Error("no TCP address"));
      const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
      resolve({
        url: `http://${host}:${addr.port}/v1`,
        port: addr.port,
        close: () =>
          new Promise<void>((done) => {
            closing = true;
            for (const job of queue.splice(0)) job.ctl.abort();
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
