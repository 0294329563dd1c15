// What the editor says about an iteration's lock (iterations/<t>/.lock): who is writing it, so that
// Run, Resume, Recompute Pairs and Export tell the user instead of starting a second writer.
import * as vscode from "vscode";
import { iterationDir } from "../../core/store/iteration.js";
import { lockedMessage, lockStatus, type LockStatus } from "../../core/store/lock.js";

export function iterationLock(experimentDir: string, iteration: number): LockStatus {
  try {
    return lockStatus(iterationDir(experimentDir, iteration));
  } catch {
    return { state: "free" }; // an unreadable folder: the worker reports it with its path
  }
}

/** Why a writer must not start on this iteration now, or undefined. A stale lock is no reason: the writer takes it over. */
export function lockedReason(experimentDir: string, iteration: number): string | undefined {
  const s = iterationLock(experimentDir, iteration);
  return s.state === "held" || s.state === "unreadable" ? lockedMessage(iterationDir(experimentDir, iteration), s) : undefined;
}

/** Tells the user who holds the iteration and returns true when it is locked. */
export function refuseIfLocked(experimentDir: string, iteration: number): boolean {
  const reason = lockedReason(experimentDir, iteration);
  if (reason === undefined) return false;
  void vscode.window.showWarningMessage(`Iteration ${iteration} is busy: ${reason}`);
  return true;
}

/** "running: pid 123 on host-a since 14:02:11" for the tree, or undefined when no one holds the lock. */
export function lockDescription(s: LockStatus): string | undefined {
  if (s.state === "free") return undefined;
  if (s.state === "unreadable") return "locked (unreadable lock file)";
  const since = new Date(s.holder.started_at);
  const when = Number.isNaN(since.getTime()) ? s.holder.started_at : since.toLocaleTimeString();
  if (s.state === "stale") return `stale lock: pid ${s.holder.pid} is gone`;
  return `running: pid ${s.holder.pid} on ${s.holder.hostname} since ${when}`;
}
