// The one way into writing an iteration: its lock taken, and what a crashed writer left repaired
// under it before anything else reads or writes.
import { PAIRS_COMMIT, rollForward } from "../store/commit.js";
import { cleanTempFiles } from "../store/jsonl.js";
import { alivePid, holdForProcess, holdsIterationLock, withIterationLock } from "../store/lock.js";
import type { EventSink } from "./events.js";

export interface WriterOptions {
  emit: EventSink;
  /** Shown to whoever finds the lock held; defaults to this process's command line. */
  command?: string;
}

export function writingIteration<T>(iterDir: string, opts: WriterOptions, fn: () => Promise<T>): Promise<T> {
  const warn = (message: string): void => opts.emit({ type: "warning", message });
  return withIterationLock(
    iterDir,
    { ...(opts.command ? { command: opts.command } : {}), warn, onAcquired: () => recover(iterDir, warn) },
    fn,
  );
}

/**
 * For a writer that opens an iteration with no scope around its work (openRun called on its own, as
 * a one-shot command does): unless this chain already holds the lock, the process takes it until it exits.
 */
export function ensureWriting(iterDir: string, opts: WriterOptions): void {
  if (holdsIterationLock(iterDir)) return;
  const warn = (message: string): void => opts.emit({ type: "warning", message });
  holdForProcess(iterDir, { ...(opts.command ? { command: opts.command } : {}), warn });
  recover(iterDir, warn);
}

function recover(iterDir: string, warn: (message: string) => void): void {
  const completed = rollForward(iterDir, PAIRS_COMMIT);
  if (completed)
    warn(`${iterDir}: ${completed.join(" and ")} were being replaced when a run was interrupted; the replacement is now complete`);
  const removed = cleanTempFiles(iterDir, alivePid);
  if (removed.length > 0)
    warn(
      `${iterDir}: removed ${removed.length} temporary file${removed.length === 1 ? "" : "s"} an interrupted write left (${removed.join(", ")})`,
    );
}
