// What a person needs to read when a call fails: the server's own error message whatever shape it
// takes, Retry-After, and URLs with their credentials masked.
import type { IncomingHttpHeaders } from "node:http";

export interface ServerError {
  message: string;
  param?: unknown;
  code?: unknown;
}

const MAX_ERROR_CHARS = 500;
// Reading a megabyte of HTML to keep 500 characters of it would only cost time.
const MAX_SCANNED_CHARS = 64 * 1024;

/**
 * The error a server put in its body, or undefined when the body is not one. Servers disagree on the
 * shape: OpenAI's {"error":{…}}, vLLM's {"object":"error","message"}, llama.cpp's and Ollama's
 * {"error":"…"}, FastAPI's {"detail"}; anything else is shown as text.
 */
export function serverError(text: string, strict = false): ServerError | undefined {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return strict ? undefined : { message: oneLine(text) || "no body" };
  }
  if (!j || typeof j !== "object" || Array.isArray(j)) return strict ? undefined : { message: oneLine(text) || "no body" };
  const b = j as Record<string, unknown>;
  const e = b.error;
  if (e && typeof e === "object") {
    const o = e as Record<string, unknown>;
    return { message: oneLine(typeof o.message === "string" ? o.message : JSON.stringify(e)), param: o.param, code: o.code ?? b.code };
  }
  if (typeof e === "string" && e) return { message: oneLine(e), code: b.code };
  if (b.object === "error" || (!strict && typeof b.message === "string")) {
    return { message: oneLine(typeof b.message === "string" ? b.message : text), param: b.param, code: b.code };
  }
  if (strict) return undefined;
  if (b.detail !== undefined) return { message: oneLine(typeof b.detail === "string" ? b.detail : JSON.stringify(b.detail)) };
  return { message: oneLine(text) };
}

/** One header's value, as Node gives it (a string, several, or none). */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
}

/** Retry-After (seconds or HTTP date) or retry-after-ms, in ms; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers | IncomingHttpHeaders | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const get = (k: string): string | undefined => (headers instanceof Headers ? (headers.get(k) ?? undefined) : header(headers, k));
  const ms = Number(get("retry-after-ms") ?? NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const ra = get("retry-after");
  if (!ra) return undefined;
  const secs = Number(ra);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

// A proxy's HTML error page or a multi-line traceback must not break the one-line reason.
export function oneLine(s: string): string {
  const head = s.length > MAX_SCANNED_CHARS ? s.slice(0, MAX_SCANNED_CHARS) : s;
  const flat = head
    .replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return flat.length > MAX_ERROR_CHARS || head !== s ? `${flat.slice(0, MAX_ERROR_CHARS)}…` : flat;
}

/**
 * The URL with any user name and password masked (http://user:***@host/v1), for every message,
 * log line and event that names an endpoint. Text that is not a URL comes back unchanged.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.replace(/\/\/[^/@\s]*@/, "//***@");
  }
  if (!u.username && !u.password) return url;
  // A lone user name is often a token, so it is masked too.
  const who = u.password ? `${u.username}:***` : "***";
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, `$1${who}@`);
}
