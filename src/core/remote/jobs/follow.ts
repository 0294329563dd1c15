// Following a job: poll its status and copy its log into <experiment>/jobs/<id>.log until it ends.
// The record is the bookmark (log offset, state), so following can stop at any moment (window reload,
// dropped link, Ctrl-C) and start again later from where it was, with no byte copied twice.
import { MetajudgeError, isCancelled } from "../../errors.js";
import { TERMINAL_STATES, type Executor, type JobState, type JobStatus, type RemoteJobRef } from "../types.js";
import type { JobPatch, JobRecord, JobStore } from "./record.js";

export const DEFAULT_MAX_CHUNK = 1024 * 1024;
export const DEFAULT_TAIL_SKIP_ABOVE = 64 * 1024 * 1024;
/** Chunks read per poll before the status is looked at again, so a chatty job cannot starve it. */
const CHUNKS_PER_POLL = 32;
const MAX_BACKOFF_MS = 60_000;

export interface FollowOptions {
  store: JobStore;
  executor: Executor;
  id: string;
  intervalMs?: number;
  signal?: AbortSignal;
  onState?(record: JobRecord, status: JobStatus): void;
  onLog?(data: Buffer): void;
  /** A poll failed (e.g. the SSH link dropped); following goes on after a pause. */
  onRetry?(error: unknown, attempt: number, delayMs: number): void;
  /** Opens a fresh executor after a failed poll, when the old one's connection cannot recover. */
  reconnect?(): Promise<Executor>;
  maxChunk?: number;
  tailSkipAbove?: number;
}

/** Resolves with the final record once the job is in a terminal state and its log is copied; with the
 *  current one if the signal aborts (the job itself is left alone). */
export async function followJob(o: FollowOptions): Promise<JobRecord> {
  const interval = o.intervalMs ?? 2000;
  const maxChunk = o.maxChunk ?? DEFAULT_MAX_CHUNK;
  const skipAbove = o.tailSkipAbove ?? DEFAULT_TAIL_SKIP_ABOVE;
  let executor = o.executor;
  let failures = 0;
  for (;;) {
    const record = mustGet(o.store, o.id);
    if (o.signal?.aborted) return record;
    let status: JobStatus;
    let log: JobRecord["log"];
    try {
      status = await executor.status(record.remote);
      // After a terminal status the log is complete, so read it to the end rather than a few chunks.
      const terminal = TERMINAL_STATES.has(status.state);
      log = await copyLog(o, executor, record, maxChunk, skipAbove, terminal ? Infinity : CHUNKS_PER_POLL);
      failures = 0;
    } catch (err) {
      if (o.signal?.aborted || isCancelled(err)) return mustGet(o.store, o.id);
      if (!transient(err)) throw err;
      failures++;
      const delay = Math.min(MAX_BACKOFF_MS, interval * 2 ** Math.min(failures, 10));
      o.onRetry?.(err, failures, delay);
      if (!(await sleep(delay, o.signal))) return mustGet(o.store, o.id);
      if (o.reconnect) {
        try {
          executor = await o.reconnect();
        } catch (e) {
          if (!transient(e)) throw e;
        }
      }
      continue;
    }
    const next = applyStatus(o, record, status, log);
    if (TERMINAL_STATES.has(next.state)) return next;
    if (!(await sleep(interval, o.signal))) return mustGet(o.store, o.id);
  }
}

function applyStatus(o: FollowOptions, record: JobRecord, status: JobStatus, log: JobRecord["log"]): JobRecord {
  const patch: JobPatch = {};
  const now = new Date().toISOString();
  if (status.state !== record.state) patch.state = status.state;
  if (status.detail !== undefined && status.detail !== record.detail) patch.detail = status.detail;
  if (status.detail === undefined && record.detail !== undefined && status.state !== record.state) patch.detail = undefined;
  if (status.exitCode !== undefined && status.exitCode !== record.exit_code) patch.exit_code = status.exitCode;
  if (status.node !== undefined && status.node !== record.node) patch.node = status.node;
  const terminal = TERMINAL_STATES.has(status.state);
  // A job that ended between two polls ran all the same (cancelled or lost ones may never have).
  if (!record.started_at && ["running", "succeeded", "failed", "timeout"].includes(status.state)) patch.started_at = now;
  if (terminal && !record.finished_at) patch.finished_at = now;
  if (log.offset !== record.log.offset || log.skipped !== record.log.skipped) patch.log = log;
  if (Object.keys(patch).length === 0) return record;
  const next = o.store.update(o.id, patch);
  if (patch.state !== undefined) o.onState?.(next, status);
  return next;
}

async function copyLog(
  o: FollowOptions,
  executor: Executor,
  record: JobRecord,
  maxChunk: number,
  skipAbove: number,
  maxChunks: number,
): Promise<JobRecord["log"]> {
  const log = { ...record.log };
  const save = (): void => {
    // The bookmark moves with the copied bytes, so a crash between chunks repeats nothing.
    o.store.update(o.id, { log: { ...log } });
  };
  for (let n = 0; n < maxChunks; n++) {
    if (o.signal?.aborted) break;
    const chunk = await executor.readLog(record.remote, log.offset, maxChunk);
    if (chunk.size !== undefined && chunk.size < log.offset) {
      // Replaced on the host (a requeued Slurm job starts its output again): copy it again from the top.
      o.store.appendLog(o.id, `\n[metajudge: the log on the host restarted; copying it again from its start]\n`);
      log.offset = 0;
      save();
      continue;
    }
    if (chunk.size !== undefined && chunk.size - log.offset > skipAbove) {
      const keepFrom = chunk.size - Math.min(maxChunk, skipAbove);
      const skipped = keepFrom - log.offset;
      const marker = `\n[metajudge: skipped ${skipped} bytes; the whole log is on the host at ${record.log.remote}]\n`;
      o.store.appendLog(o.id, marker);
      o.onLog?.(Buffer.from(marker));
      log.skipped += skipped;
      log.offset = keepFrom;
      save();
      continue;
    }
    if (chunk.data.length > 0) {
      o.store.appendLog(o.id, chunk.data);
      o.onLog?.(chunk.data);
      log.offset += chunk.data.length;
      save();
    }
    if (chunk.data.length < maxChunk) break;
  }
  return log;
}

/** Errors worth waiting out: a link or a server that may come back. Not a wrong key or a bad profile. */
function transient(err: unknown): boolean {
  if (err instanceof MetajudgeError) return !["auth", "hostKey", "badInput", "cancelled"].includes(err.reason);
  return true;
}

function mustGet(store: JobStore, id: string): JobRecord {
  const record = store.get(id);
  if (!record) throw new MetajudgeError("badInput", `no job ${id} in ${store.dir}`);
  return record;
}

/** false when the signal aborted the wait. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(ok);
    };
    const onAbort = (): void => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export interface WaitOptions {
  intervalMs?: number;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Polls until the job reaches one of `states` (or any terminal state, which also ends the wait). */
export async function waitForState(
  executor: Executor,
  ref: RemoteJobRef,
  states: readonly JobState[],
  o: WaitOptions = {},
): Promise<JobStatus> {
  const interval = o.intervalMs ?? 1000;
  const deadline = o.timeoutMs === undefined ? Infinity : Date.now() + o.timeoutMs;
  for (;;) {
    const status = await executor.status(ref);
    if (states.includes(status.state) || TERMINAL_STATES.has(status.state)) return status;
    if (Date.now() >= deadline) {
      throw new MetajudgeError(
        "timeout",
        `job in ${ref.dir} was still ${status.state} after ${o.timeoutMs} ms, waiting for ${states.join(" or ")}`,
      );
    }
    if (!(await sleep(interval, o.signal))) throw new MetajudgeError("cancelled", `cancelled while waiting for the job in ${ref.dir}`);
  }
}
