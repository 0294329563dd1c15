// The wire under LlmClient: one POST over node:http(s) with a keep-alive pool, nothing more. A long
// stage sends hundreds of requests a second, so every object made per request here is paid for in
// throughput; the OpenAI SDK's request and response machinery cost about four times the CPU of this.
import http from "node:http";
import https from "node:https";
import zlib from "node:zlib";

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** Why a request got no HTTP answer: the client's own timer, the caller's signal, or the network. */
export class NoAnswer extends Error {
  constructor(
    readonly kind: "timeout" | "cancelled" | "connection",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// Only a proxy that compresses regardless sends these: no Accept-Encoding goes out.
const INFLATE: Record<string, (b: Buffer) => Buffer> = { gzip: zlib.gunzipSync, deflate: zlib.inflateSync, br: zlib.brotliDecompressSync };

export class Transport {
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private readonly host: string;
  private readonly port: string;
  private readonly path: string;
  private readonly auth: string | undefined;

  /** `url` is the full endpoint; `maxSockets` matches the caller's concurrency so no request waits on a socket. */
  constructor(url: string, apiKey: string | undefined, maxSockets: number) {
    const u = new URL(url);
    const secure = u.protocol === "https:";
    this.request = secure ? https.request : http.request;
    this.agent = new (secure ? https.Agent : http.Agent)({ keepAlive: true, maxSockets });
    this.host = u.hostname.replace(/^\[(.*)\]$/, "$1");
    this.port = u.port;
    this.path = u.pathname + u.search;
    // An API key wins; credentials in the URL are what a basic-auth proxy in front of the server wants.
    const user = decodeURIComponent(u.username);
    this.auth = apiKey
      ? `Bearer ${apiKey}`
      : user || u.password
        ? `Basic ${Buffer.from(`${user}:${decodeURIComponent(u.password)}`).toString("base64")}`
        : undefined;
  }

  /** Resolves with any HTTP answer, whatever its status; rejects with NoAnswer when there is none. */
  post(json: string, timeoutMs: number, signal?: AbortSignal): Promise<Answer> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new NoAnswer("cancelled", "cancelled"));
      // A string body goes out in the same write as the headers; a Buffer would take a second chunk.
      const headers: http.OutgoingHttpHeaders = { "content-type": "application/json", "content-length": Buffer.byteLength(json) };
      if (this.auth) headers.authorization = this.auth;
      let settled = false;
      const finish = (err: NoAnswer | null, answer?: Answer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unwatch?.();
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(answer as Answer);
      };
      const onAbort = (): void => finish(new NoAnswer("cancelled", "cancelled"));
      const unwatch = signal ? watch(signal, onAbort) : undefined;
      // One timer over the whole attempt, the answer's body included.
      const timer = setTimeout(() => finish(new NoAnswer("timeout", `no answer within ${timeoutMs} ms`)), timeoutMs);
      const req = this.request({ host: this.host, port: this.port, path: this.path, method: "POST", headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (e) => finish(lost(e)));
        res.on("close", () => (res.complete ? undefined : finish(new NoAnswer("connection", "the connection closed mid-answer"))));
        res.on("end", () => {
          try {
            let raw = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
            const inflate = res.headers["content-encoding"] === undefined ? undefined : INFLATE[res.headers["content-encoding"]];
            if (inflate) raw = inflate(raw);
            finish(null, { status: res.statusCode ?? 0, headers: res.headers, text: raw.toString("utf8") });
          } catch (e) {
            finish(new NoAnswer("connection", `the answer could not be decompressed (${(e as Error).message})`, { cause: e }));
          }
        });
      });
      req.on("error", (e) => finish(lost(e)));
      req.end(json);
    });
  }
}

// Every request in flight shares the stage's signal, and EventTarget walks its whole listener list
// on each add (to refuse duplicates): one listener per signal, fanning out, keeps that off the hot path.
const watchers = new WeakMap<AbortSignal, Set<() => void>>();

function watch(signal: AbortSignal, onAbort: () => void): () => void {
  let set = watchers.get(signal);
  if (!set) {
    const fresh = new Set<() => void>();
    signal.addEventListener("abort", () => [...fresh].forEach((f) => f()), { once: true });
    watchers.set(signal, (set = fresh));
  }
  const listeners = set;
  listeners.add(onAbort);
  return () => void listeners.delete(onAbort);
}

// Node says "connect ECONNREFUSED 127.0.0.1:8000" or "socket hang up" (ECONNRESET): both are what a
// person can act on, so the code joins the message when the message does not already carry it.
function lost(e: Error): NoAnswer {
  const code = (e as { code?: unknown }).code;
  const message = typeof code === "string" && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
  return new NoAnswer("connection", message, { cause: e });
}
