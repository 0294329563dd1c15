// The OpenAI Batch and Files API through the `openai` SDK: upload a Batch JSONL file, create the
// batch, poll it, download its output and error files, cancel it. Whatever the server says is
// turned into a MetajudgeError naming what failed; the API key never appears in any message.
import { createWriteStream, createReadStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from "openai";
import { MetajudgeError } from "../errors.js";
import { BATCH_URL } from "./batch.js";

export type Batch = OpenAI.Batches.Batch;
export type BatchStatus = Batch["status"];

/** What one batch input file may hold (OpenAI: 50,000 requests, 200 MB). */
export const BATCH_LIMITS = { requests: 50_000, bytes: 200 * 1024 * 1024 } as const;

const ENDED: ReadonlySet<BatchStatus> = new Set(["completed", "failed", "expired", "cancelled"]);
export const hasEnded = (b: Pick<Batch, "status">): boolean => ENDED.has(b.status);

export interface BatchApiOptions {
  baseURL: string;
  apiKey?: string;
  /** Named in messages so the user knows what to set; never the key itself. */
  apiKeyEnv?: string;
  timeoutMs: number;
  /** Ends any call in flight: a stop during a 200 MB upload should not wait for it. */
  signal?: AbortSignal;
}

export interface RetryNotice {
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface WaitOptions {
  intervalMs: number;
  signal: AbortSignal;
  onStatus(b: Batch): void;
  onRetry?(r: RetryNotice): void;
  /** Consecutive failed polls before giving up (the batch keeps running on the server). */
  maxFailures?: number;
}

// Uploads and downloads move up to 200 MB: the per-request timeout of chat calls would cut them off.
const TRANSFER_TIMEOUT_MS = 30 * 60_000;
const MAX_BACKOFF_MS = 60_000;

export class OpenAIBatchApi {
  private readonly sdk: OpenAI;
  private readonly req: { signal?: AbortSignal };

  constructor(private readonly opts: BatchApiOptions) {
    // Retries are ours: a retried POST /batches could create a second batch behind our back.
    this.sdk = new OpenAI({ baseURL: opts.baseURL, apiKey: opts.apiKey || "none", maxRetries: 0, timeout: opts.timeoutMs });
    this.req = opts.signal ? { signal: opts.signal } : {};
  }

  async upload(file: string): Promise<string> {
    const f = await this.call("uploading the batch file", () =>
      this.sdk.files.create({ file: createReadStream(file), purpose: "batch" }, { ...this.req, timeout: TRANSFER_TIMEOUT_MS }),
    );
    return f.id;
  }

  create(inputFileId: string, metadata: Record<string, string>): Promise<Batch> {
    return this.call("creating the batch", () =>
      this.sdk.batches.create({ input_file_id: inputFileId, endpoint: BATCH_URL, completion_window: "24h", metadata }, this.req),
    );
  }

  retrieve(id: string): Promise<Batch> {
    return this.call(`reading batch ${id}`, () => this.sdk.batches.retrieve(id, this.req));
  }

  cancel(id: string): Promise<Batch> {
    return this.call(`cancelling batch ${id}`, () => this.sdk.batches.cancel(id, this.req));
  }

  /** The batch created with this metadata value, among the most recent ones; a create whose answer was lost shows up here. */
  async findByMetadata(key: string, value: string): Promise<Batch | undefined> {
    const page = await this.call("listing batches", () => this.sdk.batches.list({ limit: 100 }, this.req));
    return page.data.find((b) => (b.metadata as Record<string, string> | null | undefined)?.[key] === value);
  }

  /** Streams a file's content to `dest`, which appears only once complete. */
  async download(fileId: string, dest: string): Promise<void> {
    const tmp = `${dest}.${process.pid}.tmp`;
    try {
      await this.call(`downloading file ${fileId}`, async () => {
        const res = await this.sdk.files.content(fileId, { ...this.req, timeout: TRANSFER_TIMEOUT_MS });
        if (!res.body) throw new MetajudgeError("server", `file ${fileId} came back without a body`);
        await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), createWriteStream(tmp), this.req);
      });
      await rename(tmp, dest);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /**
   * Polls until the batch ends, reporting each change of status or counts. A dropped connection
   * or a 5xx/429 is retried with growing pauses; the batch runs on regardless.
   */
  async wait(id: string, o: WaitOptions): Promise<Batch> {
    let failures = 0;
    let last = "";
    for (;;) {
      let b: Batch | undefined;
      try {
        b = await this.retrieve(id);
        failures = 0;
      } catch (e) {
        if (!isTransient(e) || ++failures > (o.maxFailures ?? 8)) throw e;
        const delayMs = Math.min(MAX_BACKOFF_MS, Math.max(o.intervalMs, 250) * 2 ** (failures - 1));
        o.onRetry?.({ attempt: failures, delayMs, reason: (e as Error).message });
        await sleep(delayMs, o.signal);
        continue;
      }
      const seen = `${b.status} ${JSON.stringify(b.request_counts ?? null)}`;
      if (seen !== last) o.onStatus(b);
      last = seen;
      if (hasEnded(b)) return b;
      await sleep(o.intervalMs, o.signal);
    }
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.explain(e, what);
    }
  }

  private explain(e: unknown, what: string): unknown {
    if (this.opts.signal?.aborted) return this.opts.signal.reason as unknown;
    if (e instanceof MetajudgeError || (e instanceof Error && e.name === "AbortError")) return e;
    const where = `${what} at ${this.opts.baseURL}`;
    if (e instanceof APIConnectionTimeoutError)
      return new MetajudgeError("timeout", `${where}: no answer in time`, undefined, { cause: e });
    if (e instanceof APIConnectionError)
      return new MetajudgeError("refused", `${where}: ${this.redact(causeText(e))}`, undefined, { cause: e });
    if (e instanceof APIError) {
      const said = this.redact(serverMessage(e));
      const status = e.status ?? 0;
      if (status === 401 || status === 403) {
        const hint = this.opts.apiKeyEnv
          ? `check the key in $${this.opts.apiKeyEnv}`
          : `the endpoint wants a key: name its variable in "api_key_env"`;
        return new MetajudgeError("auth", `${where}: HTTP ${status}, the API key was refused (${said}); ${hint}`, undefined, { cause: e });
      }
      if (status === 429) return new MetajudgeError("rateLimited", `${where}: HTTP 429 (${said})`, undefined, { cause: e });
      if (status >= 500) return new MetajudgeError("server", `${where}: HTTP ${status} (${said})`, undefined, { cause: e });
      return new MetajudgeError("badInput", `${where}: HTTP ${status}: ${said}`, undefined, { cause: e });
    }
    return e;
  }

  private redact(s: string): string {
    const key = this.opts.apiKey;
    return key && key.length >= 4 ? s.split(key).join("***") : s;
  }
}

function serverMessage(e: InstanceType<typeof APIError>): string {
  const err = e.error as { message?: unknown } | undefined;
  return typeof err?.message === "string" && err.message ? err.message : e.message;
}

function causeText(e: Error): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? e.message;
}

/** Worth another try: the server may answer the same question later. */
export function isTransient(e: unknown): boolean {
  return (
    e instanceof MetajudgeError && (e.reason === "refused" || e.reason === "timeout" || e.reason === "server" || e.reason === "rateLimited")
  );
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal.removeEventListener("abort", stop);
      resolve();
    }, ms);
    const stop = (): void => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    signal.addEventListener("abort", stop, { once: true });
  });
}
