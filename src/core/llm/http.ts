// The wire under LlmClient: the SDK's transport and the HTTP details a person needs to read when a
// call fails (the server's own error message, Retry-After, the connection error's code).
import http from "node:http";
import https from "node:https";
import zlib from "node:zlib";
import type { APIConnectionError } from "openai";

// The SDK's transport. Node's own http costs about a third less CPU per request than the global
// fetch (no web streams), which is what bounds throughput at high request rates; the SDK sends no
// Accept-Encoding, so a compressed answer comes only from a proxy that compresses regardless.
const agents = { "http:": new http.Agent({ keepAlive: true }), "https:": new https.Agent({ keepAlive: true }) };
const INFLATE: Record<string, (b: Buffer) => Buffer> = { gzip: zlib.gunzipSync, deflate: zlib.inflateSync, br: zlib.brotliDecompressSync };

function nodeFetch(url: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  if (init.body != null && typeof init.body !== "string") return fetch(url, init); // never for chat bodies
  return new Promise((resolve, reject) => {
    const u = new URL(url instanceof Request ? url.url : url);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    const agent = u.protocol === "https:" ? agents["https:"] : agents["http:"];
    const req = (u.protocol === "https:" ? https : http).request(u, { method: init.method ?? "GET", headers, agent, signal: init.signal ?? undefined }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("close", () => (res.complete ? undefined : reject(new Error("the connection closed mid-answer"))));
      res.on("end", () => {
        try {
          const out = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(", ") : v);
          const inflate = INFLATE[String(res.headers["content-encoding"])];
          const body = inflate ? inflate(Buffer.concat(chunks)) : Buffer.concat(chunks);
          out.delete("content-encoding");
          resolve(new Response(res.statusCode === 204 ? null : body, { status: res.statusCode ?? 500, statusText: res.statusMessage, headers: out }));
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on("error", reject);
    req.end(typeof init.body === "string" ? init.body : undefined);
  });
}

// Servers disagree on error bodies ({"error":{…}}, {"object":"error","message"}, FastAPI's {"detail"});
// rewriting them into OpenAI's shape lets the SDK report the server's own words.
export async function normalizingFetch(url: string | URL | Request, init?: RequestInit): Promise<Response> {
  const res = await nodeFetch(url, init);
  if (res.ok) return res;
  const text = await res.text();
  let body = text;
  try {
    const j = JSON.parse(text) as Record<string, unknown>;
    if (j && typeof j === "object" && !(j.error && typeof j.error === "object")) {
      const message = j.message ?? j.detail ?? j.error ?? text;
      body = JSON.stringify({ error: { message: typeof message === "string" ? message : JSON.stringify(message), type: j.type, param: j.param } });
    }
  } catch {
    // not JSON: the SDK uses the text as it is
  }
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** Retry-After (seconds or HTTP date) or retry-after-ms, in ms; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = Number(headers?.get("retry-after-ms") ?? NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const ra = headers?.get("retry-after");
  if (!ra) return undefined;
  const secs = Number(ra);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

// The SDK says only "Connection error."; the cause chain holds what a person can act on (ECONNREFUSED…).
export function connectionDetail(e: APIConnectionError): string {
  let detail = e.message;
  for (let c: unknown = e.cause, i = 0; c && i < 6; c = (c as { cause?: unknown }).cause, i++) {
    const { code, message } = c as { code?: unknown; message?: unknown };
    if (typeof message !== "string" || !message || message === "fetch failed") continue;
    detail = typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
  }
  return detail;
}

// A proxy's HTML error page or a multi-line traceback must not break the one-line reason.
export function oneLine(s: string): string {
  const flat = s.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}
