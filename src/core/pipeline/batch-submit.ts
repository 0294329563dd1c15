// A stage run through the OpenAI Batch API: its missing requests written as Batch JSONL (split to
// the API's limits), uploaded, batched, polled, and the output and error files joined back into the
// records. What was submitted is written down in iterations/<t>/openai-batch/<stage>.json before
// and after each call, so a killed run re-attaches to its batches instead of paying for them twice.
import * as fs from "node:fs";
import * as path from "node:path";
import { randomUUID } from "node:crypto";
import { roleEndpoint } from "../config.js";
import { MetajudgeError } from "../errors.js";
import { toBatchLine, writeBatchFile } from "../llm/batch.js";
import { BATCH_LIMITS, hasEnded, isTransient, OpenAIBatchApi, sleep, type Batch, type RetryNotice } from "../llm/openai-batch.js";
import { readIfExists, writeFileAtomic } from "../fs-atomic.js";
import { addBatchUsage, importStageBatch, stageCounts } from "./batch.js";
import type { RunContext } from "./context.js";
import type { LlmTask } from "./llm-stage.js";
import { trackStage } from "./run.js";
import { modelStage, planLlmStage, type LlmStageName } from "./stages/index.js";

const NONCE_KEY = "metajudge_submission";

export interface BatchEntry {
  /** Written into the batch's metadata: finds a batch whose create answer was lost. */
  nonce: string;
  input_file_id: string;
  requests: number;
  bytes: number;
  id: string | null;
  status: string;
  request_counts?: { total: number; completed: number; failed: number };
  output_file_id?: string | null;
  error_file_id?: string | null;
  submitted_at: string;
  joined_at?: string;
  imported?: number;
  failed?: number;
}

interface BatchState {
  stage: LlmStageName;
  batches: BatchEntry[];
}

export interface BatchError {
  code: string | null;
  message: string;
  line: number | null;
  param: string | null;
}

export interface BatchOutcome {
  id: string;
  status: Batch["status"];
  request_counts: { total: number; completed: number; failed: number } | null;
  errors: BatchError[];
  files: string[]; // the output and error files downloaded, joined in this order
  imported: number; // records appended
  failed: number; // results that carry an error
}

export interface SubmitOptions {
  intervalMs: number;
  maxRequests?: number;
  maxBytes?: number;
  /** Cancel the stage's running batches (then join what they finished) instead of submitting. */
  cancel?: boolean;
  onSubmitted?(e: BatchEntry & { id: string }): void;
  onAttached?(e: BatchEntry): void;
  onStatus(b: Batch): void;
  onRetry?(r: RetryNotice & { what: string }): void;
}

export interface SubmitResult {
  stage: LlmStageName;
  stateFile: string;
  submitted: number; // batches created by this call
  reattached: number; // batches an earlier call created
  batches: BatchOutcome[];
  imported: number;
  failed: number;
  missing: number; // requests the stage still needs
  records: number; // the stage's records on disk, and how many it holds when complete
  expected: number;
}

export function batchStateFile(ctx: RunContext, stage: LlmStageName): string {
  return path.join(ctx.store.dir, "openai-batch", `${stage}.json`);
}

/** Requests in order, cut where a file would pass either limit. A request too big for any file is refused. */
export function splitForBatch(tasks: readonly LlmTask[], maxRequests: number, maxBytes: number): { tasks: LlmTask[]; bytes: number }[] {
  const chunks: { tasks: LlmTask[]; bytes: number }[] = [];
  let cur: { tasks: LlmTask[]; bytes: number } = { tasks: [], bytes: 0 };
  for (const t of tasks) {
    const bytes = Buffer.byteLength(toBatchLine(t.id, t.body)) + 1;
    if (bytes > maxBytes)
      throw new MetajudgeError(
        "badInput",
        `request ${t.id} is ${bytes} bytes as a batch line, more than the ${maxBytes} a batch file may hold`,
      );
    if (cur.tasks.length > 0 && (cur.tasks.length >= maxRequests || cur.bytes + bytes > maxBytes)) {
      chunks.push(cur);
      cur = { tasks: [], bytes: 0 };
    }
    cur.tasks.push(t);
    cur.bytes += bytes;
  }
  if (cur.tasks.length > 0) chunks.push(cur);
  return chunks;
}

async function submitStageBatch(ctx: RunContext, stage: LlmStageName, o: SubmitOptions): Promise<SubmitResult> {
  const stateFile = batchStateFile(ctx, stage);
  const dir = path.dirname(stateFile);
  try {
    const state = readState(stateFile, stage);
    const save = (): void => writeFileAtomic(stateFile, JSON.stringify(state, null, 2) + "\n");
    const api = batchApi(ctx, stage);
    const retry = <T>(what: string, fn: () => Promise<T>, before?: () => Promise<T | undefined>): Promise<T> =>
      retrying(fn, ctx.signal, (r) => o.onRetry?.({ ...r, what }), before);
    const res: SubmitResult = {
      stage,
      stateFile,
      submitted: 0,
      reattached: 0,
      batches: [],
      imported: 0,
      failed: 0,
      missing: 0,
      records: 0,
      expected: 0,
    };

    let open = state.batches.filter((b) => !b.joined_at);
    const fresh = new Set<BatchEntry>();
    res.reattached = open.length;
    for (const e of open) o.onAttached?.(e);
    if (open.length === 0 && !o.cancel) {
      const plan = await planLlmStage(ctx, stage);
      const chunks = splitForBatch(plan.tasks, o.maxRequests ?? BATCH_LIMITS.requests, o.maxBytes ?? BATCH_LIMITS.bytes);
      for (const [i, chunk] of chunks.entries()) {
        const file = path.join(dir, `${stage}.${i + 1}.requests.jsonl`);
        await writeBatchFile(
          file,
          chunk.tasks.map((t) => ({ customId: t.id, body: t.body })),
        );
        const inputFileId = await retry("upload", () => api.upload(file));
        const entry: BatchEntry = {
          nonce: randomUUID(),
          input_file_id: inputFileId,
          requests: chunk.tasks.length,
          bytes: chunk.bytes,
          id: null,
          status: "uploaded",
          submitted_at: new Date().toISOString(),
        };
        state.batches.push(entry);
        save();
        fs.rmSync(file, { force: true }); // the server holds it now, under input_file_id
        open.push(entry);
        fresh.add(entry);
      }
    }
    // Created now, or uploaded by a call that died before the batch was created (or before it heard back).
    for (const e of open.filter((b) => b.id === null)) {
      const found = fresh.has(e) ? undefined : await retry("list", () => api.findByMetadata(NONCE_KEY, e.nonce));
      if (o.cancel && !found) {
        e.status = "never created";
        e.joined_at = new Date().toISOString();
        save();
        continue;
      }
      const metadata = { [NONCE_KEY]: e.nonce, metajudge_stage: stage, metajudge_iteration: String(ctx.iteration) };
      const b =
        found ??
        (await retry(
          "create",
          () => api.create(e.input_file_id, metadata),
          () => api.findByMetadata(NONCE_KEY, e.nonce),
        ));
      e.id = b.id;
      e.status = b.status;
      save();
      if (!found) res.submitted++;
      o.onSubmitted?.(e as BatchEntry & { id: string });
    }
    open = open.filter((b) => b.id !== null && !b.joined_at);
    if (o.cancel) {
      for (const e of open) {
        const b = await retry("cancel", () => api.retrieve(e.id!));
        if (!hasEnded(b) && b.status !== "cancelling") await retry("cancel", () => api.cancel(e.id!));
      }
    }

    // All batches are polled at once (their progress shows together); joins take turns, as they share the store.
    const stop = new AbortController();
    const signal = AbortSignal.any([ctx.signal, stop.signal]);
    let turn: Promise<unknown> = Promise.resolve();
    const join = async (e: BatchEntry, b: Batch): Promise<BatchOutcome> => {
      const outcome: BatchOutcome = {
        id: b.id,
        status: b.status,
        request_counts: b.request_counts ?? null,
        errors: batchErrors(b),
        files: [],
        imported: 0,
        failed: 0,
      };
      const needed = new Set((await planLlmStage(ctx, stage)).tasks.map((t) => t.id));
      for (const [fileId, suffix] of [
        [b.output_file_id, "output"],
        [b.error_file_id, "errors"],
      ] as const) {
        if (!fileId) continue;
        const dest = path.join(dir, `${b.id}.${suffix}.jsonl`);
        await retry("download", () => api.download(fileId, dest));
        outcome.files.push(dest);
        await addBatchUsage(ctx, stage, dest, needed);
        const r = await importStageBatch(ctx, stage, dest);
        outcome.imported += r.imported;
        outcome.failed += r.failed;
      }
      e.joined_at = new Date().toISOString();
      e.imported = outcome.imported;
      e.failed = outcome.failed;
      save();
      const info = ctx.stageInfo(stage);
      info.counts = { ...info.counts, batch_imported: (info.counts.batch_imported ?? 0) + outcome.imported };
      ctx.saveManifest();
      return outcome;
    };
    let outcomes: BatchOutcome[];
    try {
      outcomes = await Promise.all(
        open.map(async (e) => {
          const b = await api.wait(e.id!, {
            intervalMs: o.intervalMs,
            signal,
            onStatus: (b) => (remember(e, b), o.onStatus(b)),
            onRetry: (r) => o.onRetry?.({ ...r, what: "poll" }),
          });
          remember(e, b);
          save();
          const mine = turn.then(() => join(e, b));
          turn = mine.catch(() => {});
          return mine;
        }),
      );
    } catch (err) {
      stop.abort(err); // the other batches' polls end too; the first failure is the one reported
      await turn;
      throw err;
    }
    for (const outcome of outcomes) {
      res.batches.push(outcome);
      res.imported += outcome.imported;
      res.failed += outcome.failed;
    }
    const after = await planLlmStage(ctx, stage);
    Object.assign(res, { missing: after.tasks.length, records: after.done, expected: after.total });
    return res;
  } finally {
    ctx.store.close();
  }
}

/**
 * submitStageBatch with the stage's manifest entry kept as a live run keeps it: running while the
 * batches are polled, then done, failed (requests still missing, or an error) or cancelled, with
 * the counts a live run leaves.
 */
export async function runStageBatch(ctx: RunContext, stage: LlmStageName, o: SubmitOptions): Promise<SubmitResult> {
  const dir = path.dirname(batchStateFile(ctx, stage));
  fs.mkdirSync(dir, { recursive: true });
  // Taken before the stage is marked running: a refused second process must not touch the entry.
  const unlock = lock(path.join(dir, `${stage}.lock`));
  let res: SubmitResult | undefined;
  try {
    const before = await planLlmStage(ctx, stage);
    await trackStage(
      ctx,
      stage,
      async (info) => {
        res = await submitStageBatch(ctx, stage, o);
        info.counts = { ...info.counts, ...(await stageCounts(ctx, stage)) };
        if (res.missing === 0) return;
        if (o.cancel) throw new MetajudgeError("cancelled", `${stage}: batches cancelled with ${res.missing} request(s) missing`);
        throw new MetajudgeError(
          "jobFailed",
          `${stage}: ${res.missing} request(s) still missing after the batch API run; \`metajudge batch submit\` again submits just those`,
        );
      },
      { start: (i) => void (i.counts = { ...i.counts, ...before.counts, records: before.done, expected: before.total }) },
    );
  } catch (e) {
    if (res === undefined) throw e; // the stage's own failure, already recorded
  } finally {
    ctx.store.close();
    unlock();
  }
  return res!;
}

function batchApi(ctx: RunContext, stage: LlmStageName): OpenAIBatchApi {
  const role = modelStage(stage).role;
  const ep = roleEndpoint(ctx.config, role, ctx.settings);
  let apiKey: string | undefined;
  if (ep.api_key_env) {
    apiKey = ctx.env[ep.api_key_env];
    if (!apiKey)
      throw new MetajudgeError(
        "auth",
        `the ${role} endpoint needs an API key in $${ep.api_key_env}, which is not set (export it, or remove "api_key_env" for a server without keys)`,
      );
  }
  return new OpenAIBatchApi({
    baseURL: ep.base_url,
    apiKey,
    timeoutMs: ctx.config.request.timeout_ms,
    signal: ctx.signal,
    ...(ep.api_key_env ? { apiKeyEnv: ep.api_key_env } : {}),
  });
}

function remember(e: BatchEntry, b: Batch): void {
  e.status = b.status;
  if (b.request_counts)
    e.request_counts = { total: b.request_counts.total, completed: b.request_counts.completed, failed: b.request_counts.failed };
  e.output_file_id = b.output_file_id ?? null;
  e.error_file_id = b.error_file_id ?? null;
}

function batchErrors(b: Batch): BatchError[] {
  return (b.errors?.data ?? []).map((d) => ({
    code: d.code ?? null,
    message: d.message ?? "",
    line: d.line ?? null,
    param: d.param ?? null,
  }));
}

async function retrying<T>(
  fn: () => Promise<T>,
  signal: AbortSignal,
  onRetry: (r: RetryNotice) => void,
  before?: () => Promise<T | undefined>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isTransient(e) || attempt >= 5) throw e;
      const delayMs = Math.min(30_000, 500 * 2 ** (attempt - 1));
      onRetry({ attempt, delayMs, reason: (e as Error).message });
      await sleep(delayMs, signal);
      // A request whose answer was lost may have taken effect: look before asking again.
      const done = before ? await before().catch(() => undefined) : undefined;
      if (done !== undefined) return done;
    }
  }
}

function readState(file: string, stage: LlmStageName): BatchState {
  const text = readIfExists(file);
  if (text === null) return { stage, batches: [] };
  try {
    const s = JSON.parse(text) as BatchState;
    if (!Array.isArray(s.batches)) throw new Error("no batches list");
    return s;
  } catch (e) {
    throw new MetajudgeError(
      "badInput",
      `${file}: ${(e as Error).message}; it records the batches submitted for this stage and is rewritten atomically, so it was edited by hand`,
      { file },
    );
  }
}

/** One attached process per stage; a lock left by a killed one is taken over. */
function lock(file: string): () => void {
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
      return () => fs.rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const pid = Number(fs.readFileSync(file, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
      throw new MetajudgeError(
        "badInput",
        `another metajudge (pid ${pid}) is attached to these batches (${file}); wait for it, or stop it and run this again`,
        { file },
      );
    }
    fs.rmSync(file, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
