// Offline runs send the same chat bodies as live runs, written as OpenAI Batch JSONL for
// `vllm run-batch` or the OpenAI Batch API, and read back joined on custom_id (both engines
// answer in completion order). Files reach gigabytes, so both directions stream.
import { createReadStream, createWriteStream } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { MetajudgeError } from "../errors.js";
import { toChatResult, type ChatRequest, type ChatResult } from "./client.js";

export const BATCH_URL = "/v1/chat/completions";

export type BatchResult = { customId: string; ok: true; result: ChatResult } | { customId: string; ok: false; error: string };

export interface BatchReadSummary {
  ok: number;
  failed: number;
  duplicates: number; // later lines repeating a custom_id already seen; the first one wins
  malformed: { line: number; message: string }[]; // line is 1-based
}

export function toBatchLine(customId: string, body: ChatRequest): string {
  return JSON.stringify({ custom_id: customId, method: "POST", url: BATCH_URL, body });
}

/**
 * Writes one request a line and returns how many. The file appears under its name only once
 * complete, so an interrupted write never passes for a whole batch. Duplicate ids are refused
 * because both engines require custom_id to be unique.
 */
export async function writeBatchFile(
  path: string,
  entries: Iterable<{ customId: string; body: ChatRequest }> | AsyncIterable<{ customId: string; body: ChatRequest }>,
): Promise<number> {
  const tmp = `${path}.${process.pid}.tmp`;
  const out = createWriteStream(tmp, { encoding: "utf8" });
  const failed = new Promise<never>((_, reject) => out.once("error", reject));
  failed.catch(() => {});
  const seen = new Set<string>();
  let count = 0;
  let chunk = "";
  try {
    for await (const { customId, body } of entries) {
      if (seen.has(customId)) throw new MetajudgeError("badInput", `duplicate custom_id "${customId}" in batch ${path}`);
      seen.add(customId);
      chunk += toBatchLine(customId, body) + "\n";
      count++;
      // Batching small lines into ~1 MB writes keeps the stream overhead off the hot path.
      if (chunk.length >= 1 << 20) {
        if (!out.write(chunk)) await Promise.race([once(out, "drain"), failed]);
        chunk = "";
      }
    }
    if (chunk) out.write(chunk);
    out.end();
    await Promise.race([once(out, "finish"), failed]);
    // On disk before it takes the name, so a crash leaves the old file or the whole new one.
    const fh = await open(tmp, "r+");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    return count;
  } catch (e) {
    // The stream may still be opening the file; removing it before the stream closes would race.
    out.on("error", () => {}); // the error that matters is already in hand
    if (!out.closed) await new Promise<void>((done) => out.destroy().once("close", () => done()));
    await rm(tmp, { force: true });
    throw e;
  }
}

function errorText(error: unknown): string {
  if (typeof error === "string") return error;
  const e = error as { message?: unknown; code?: unknown } | null;
  if (e && typeof e.message === "string") return typeof e.code === "string" && e.code ? `${e.code}: ${e.message}` : e.message;
  return JSON.stringify(error);
}

/** One output line into a result, or a string saying why it is not a batch output line at all. */
function interpret(raw: unknown): BatchResult | string {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return "not a JSON object";
  const o = raw as { custom_id?: unknown; response?: unknown; error?: unknown };
  if (typeof o.custom_id !== "string") return "no custom_id";
  const customId = o.custom_id;
  const fail = (error: string): BatchResult => ({ customId, ok: false, error });
  if (o.error !== null && o.error !== undefined) return fail(errorText(o.error));
  if (!o.response || typeof o.response !== "object") return fail("no response");
  const res = o.response as { status_code?: unknown; body?: unknown };
  const status = typeof res.status_code === "number" ? res.status_code : 200;
  const body = res.body as { error?: unknown; model?: unknown } | null | undefined;
  if (status < 200 || status >= 300) return fail(`HTTP ${status}${body?.error ? `: ${errorText(body.error)}` : ""}`);
  if (!body || typeof body !== "object") return fail("response has no body");
  try {
    return { customId, ok: true, result: toChatResult(body, typeof body.model === "string" ? body.model : "", 0, 1) };
  } catch (e) {
    return fail((e as Error).message);
  }
}

/**
 * Streams a results file (vLLM run-batch output, or an OpenAI batch's output or error file) line by
 * line into onResult; awaiting onResult's promise, if it returns one, gives the reader backpressure.
 * A line that is not a result is reported with its number rather than ending the read.
 */
export async function readBatchResults(path: string, onResult: (r: BatchResult) => void | Promise<void>): Promise<BatchReadSummary> {
  const summary: BatchReadSummary = { ok: 0, failed: 0, duplicates: 0, malformed: [] };
  const seen = new Set<string>();
  const input = createReadStream(path, { encoding: "utf8" });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (!line.trim()) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (e) {
        summary.malformed.push({ line: n, message: `invalid JSON: ${(e as Error).message}` });
        continue;
      }
      const r = interpret(parsed);
      if (typeof r === "string") {
        summary.malformed.push({ line: n, message: r });
        continue;
      }
      if (seen.has(r.customId)) {
        summary.duplicates++;
        continue;
      }
      seen.add(r.customId);
      if (r.ok) summary.ok++;
      else summary.failed++;
      await onResult(r);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      throw new MetajudgeError("badInput", `batch results file not found: ${path}`, undefined, { cause: e });
    throw e;
  } finally {
    lines.close();
    input.destroy();
  }
  return summary;
}
