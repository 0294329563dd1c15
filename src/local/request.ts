// A chat-completions body checked field by field, as OpenAI does: a wrong type is a 400 naming the
// parameter; fields this server does not know are ignored, so clients that send extras still work.
import type { EngineMessage, GenerateParams, OutputFormat } from "./engine.js";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

const bad = (param: string, message: string, code: string | null = null): HttpError =>
  new HttpError(400, message, "invalid_request_error", param, code);

export const MAX_N = 128;
// Random weights seldom produce an end-of-sequence token, so an open-ended request would run to the
// end of the context; OpenAI's "no limit" default is replaced by this.
export const DEFAULT_MAX_TOKENS = 256;
// node-llama-cpp's own default: sampling from the 40 likeliest tokens is ~3x faster than from the
// whole vocabulary. A request's `top_k` (a vLLM extension; 0 or -1 = whole vocabulary) overrides it.
export const DEFAULT_TOP_K = 40;

const UNSUPPORTED: Record<string, (v: unknown) => boolean> = {
  stream: (v) => v === true,
  logprobs: (v) => v === true,
  tools: (v) => Array.isArray(v) && v.length > 0,
  functions: (v) => Array.isArray(v) && v.length > 0,
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function number(body: Record<string, unknown>, key: string, min: number, max: number, fallback: number, integer = false): number {
  const v = body[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v)))
    throw bad(key, `'${key}' must be ${integer ? "an integer" : "a number"}; got ${JSON.stringify(v)}`);
  if (v < min || v > max) throw bad(key, `'${key}' must be between ${min} and ${max}; got ${v}`);
  return v;
}

function content(v: unknown, i: number): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "";
  // The parts form: [{type: "text", text}]; images and audio have no meaning for this model.
  if (Array.isArray(v) && v.every((p) => isObject(p) && p.type === "text" && typeof p.text === "string"))
    return v.map((p) => (p as { text: string }).text).join("");
  throw bad(`messages[${i}].content`, `'messages[${i}].content' must be a string or a list of text parts`);
}

function messages(v: unknown): EngineMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw bad("messages", "'messages' must be a non-empty array");
  return v.map((m, i) => {
    if (!isObject(m)) throw bad(`messages[${i}]`, `'messages[${i}]' must be an object`);
    const role = m.role === "developer" ? "system" : m.role;
    if (role !== "system" && role !== "user" && role !== "assistant")
      throw bad(`messages[${i}].role`, `'messages[${i}].role' must be system, developer, user or assistant; got ${JSON.stringify(m.role)}`);
    return { role, content: content(m.content, i) };
  });
}

function stops(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === "string"))
    throw bad("stop", "'stop' must be a string or an array of strings");
  if (list.length > 4) throw bad("stop", "'stop' takes at most 4 sequences");
  return (list as string[]).filter((s) => s !== "");
}

function format(v: unknown): OutputFormat {
  if (v === undefined || v === null) return { kind: "text" };
  if (!isObject(v)) throw bad("response_format", "'response_format' must be an object");
  if (v.type === "text") return { kind: "text" };
  if (v.type === "json_object") return { kind: "json_object" };
  if (v.type === "json_schema") {
    const js = v.json_schema;
    if (!isObject(js) || !isObject(js.schema))
      throw bad("response_format.json_schema.schema", "'response_format.json_schema.schema' must be a JSON Schema object");
    return { kind: "json_schema", schema: js.schema };
  }
  throw bad("response_format.type", `'response_format.type' must be text, json_object or json_schema; got ${JSON.stringify(v.type)}`);
}

/** The body of POST /v1/chat/completions as generation parameters, or an HttpError to send. */
export function parseChatRequest(body: unknown, modelId: string): GenerateParams {
  if (!isObject(body)) throw bad("", "the request body must be a JSON object");
  if (typeof body.model !== "string") throw bad("model", "'model' must be a string");
  if (body.model !== modelId) {
    throw new HttpError(
      404,
      `The model \`${body.model}\` does not exist; this server serves \`${modelId}\` (see GET /v1/models)`,
      "invalid_request_error",
      "model",
      "model_not_found",
    );
  }
  for (const [key, refused] of Object.entries(UNSUPPORTED))
    if (refused(body[key])) throw bad(key, `'${key}' is not supported by this server`, "unsupported_parameter");
  const topK = number(body, "top_k", -1, 1_000_000, DEFAULT_TOP_K, true);
  const seed =
    body.seed === undefined || body.seed === null
      ? undefined
      : number(body, "seed", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 0, true);
  const maxKey = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null ? "max_completion_tokens" : "max_tokens";
  return {
    messages: messages(body.messages),
    n: number(body, "n", 1, MAX_N, 1, true),
    temperature: number(body, "temperature", 0, 2, 1),
    topP: number(body, "top_p", 0, 1, 1),
    topK: topK < 0 ? 0 : topK,
    maxTokens: number(body, maxKey, 1, 1_000_000, DEFAULT_MAX_TOKENS, true),
    ...(seed === undefined ? {} : { seed }),
    stop: stops(body.stop),
    format: format(body.response_format),
  };
}
