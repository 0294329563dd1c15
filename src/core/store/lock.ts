// One writer per iteration. Whatever writes an iteration's records or derived files (run, pairs,
// export, batch read, launches) holds iterations/<t>/.lock for as long as it writes. Two writers at
// once would each resume from the same snapshot and write every missing record twice.
//
// The lock file is created whole or not at all: it is written and synced under a private name, then
// hard-linked to `.lock`, which fails if one exists. A reader never sees half a lock.
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MetajudgeError } from "../errors.js";
import { readIfExists } from "../fs-atomic.js";
import { writeError } from "./jsonl.js";

export const LOCK_FILE = ".lock";

export interface LockHolder {
  pid: number;
  hostname: string;
  /** ISO time the lock was taken. */
  started_at: string;
  /** What holds it, as a person would type it: "metajudge run exp --iteration 1". */
  command: string;
}

export type LockStatus =
  | { state: "free" }
  /** Held by a running process on this host, or by one on another host (we cannot tell there). */
  | { state: "held"; file: string; holder: LockHolder; here: boolean }
  /** Held by a process on this host that is gone: the next writer takes it over. */
  | { state: "stale"; file: string; holder: LockHolder }
  | { state: "unreadable"; file: string; message: string };

export function lockFile(iterDir: string): string {
  return path.join(iterDir, LOCK_FILE);
}

/** What the lock of an iteration says now; for display (the editor's tree) and for acquiring. */
export function lockStatus(iterDir: string): LockStatus {
  return judge(lockFile(iterDir), readRaw(lockFile(iterDir)));
}

/** "pid 123 on host-a since 2026-…Z (metajudge run exp --iteration 1)". */
export function describeHolder(h: LockHolder): string {
  return `pid ${h.pid} on ${h.hostname} since ${h.started_at} (${h.command})`;
}

/** The message a writer that finds the lock held gives; also what the editor shows. */
export function lockedMessage(iterDir: string, s: Extract<LockStatus, { state: "held" | "unreadable" }>): string {
  if (s.state === "unreadable") {
    return `${s.file}: ${s.message}; if no metajudge command is writing this iteration, delete the file and run again`;
  }
  const who = `${iterDir} is locked by ${describeHolder(s.holder)}`;
  if (s.here) return `${who}, which is still running; wait for it to finish or stop it (kill ${s.holder.pid}), then run again`;
  return (
    `${who}, on another host: metajudge cannot tell from here whether it still runs, so it never takes such a lock over. ` +
    `Wait for it to finish; if you know it is dead, delete ${s.file} and run again`
  );
}

interface Raw {
  text: string;
}

function readRaw(file: string): Raw | null {
  const text = readIfExists(file);
  return text === null ? null : { text };
}

function parseHolder(text: string): LockHolder | null {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (
      typeof v.pid === "number" &&
      Number.isInteger(v.pid) &&
      v.pid > 0 &&
      typeof v.hostname === "string" &&
      typeof v.started_at === "string"
    ) {
      return { pid: v.pid, hostname: v.hostname, started_at: v.started_at, command: typeof v.command === "string" ? v.command : "?" };
    }
  } catch {
    // fall through
  }
  return null;
}

function judge(file: string, raw: Raw | null): LockStatus {
  if (raw === null) return { state: "free" };
  const holder = parseHolder(raw.text);
  if (!holder) return { state: "unreadable", file, message: "not a lock metajudge wrote (expected JSON with pid, hostname, started_at)" };
  if (holder.hostname !== os.hostname()) return { state: "held", file, holder, here: false };
  return processAlive(holder) ? { state: "held", file, holder, here: true } : { state: "stale", file, holder };
}

/**
 * Whether the process that took the lock still runs. Our own pid is alive only while this process
 * holds the lock (the same pid in a lock we do not hold is a previous process whose pid came back).
 * On Linux a pid reused by a process started after the lock was taken counts as dead.
 */
function processAlive(h: LockHolder): boolean {
  if (h.pid === process.pid) return [...heldHere].some((l) => l.holder.pid === h.pid && l.holder.started_at === h.started_at);
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    // EPERM: it exists, under another user.
  }
  const started = processStartMs(h.pid);
  const taken = Date.parse(h.started_at);
  // The lock is written after its process starts; a process that started later is another one.
  return !(started !== null && Number.isFinite(taken) && started > taken + 2000);
}

function processStartMs(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime, in clock ticks since boot), counted after the parenthesised command name.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[19]);
    const btime = /^btime (\d+)$/m.exec(fs.readFileSync("/proc/stat", "utf8"));
    if (!btime || !Number.isFinite(ticks)) return null;
    return Number(btime[1]) * 1000 + (ticks / 100) * 1000;
  } catch {
    return null;
  }
}

// ---- holding ------------------------------------------------------------------------------------

/** Locks this process holds, so exit and signal handlers can release them and our pid reads as alive. */
const heldHere = new Set<IterationLock>();

export class IterationLock {
  private released = false;
  constructor(
    readonly file: string,
    readonly holder: LockHolder,
    private readonly text: string,
  ) {
    heldHere.add(this);
    installExitHooks();
  }

  /** Removes the lock if it is still ours; safe to call twice. */
  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this);
    for (const [k, l] of processHeld) if (l === this) processHeld.delete(k);
    try {
      if (fs.readFileSync(this.file, "utf8") === this.text) fs.unlinkSync(this.file);
    } catch {
      // Gone already (removed by hand): nothing to release.
    }
  }
}

export interface AcquireOptions {
  /** What is taking the lock, shown to whoever finds it held; defaults to this process's command line. */
  command?: string;
  /** Told when a stale lock is taken over. */
  warn?: (message: string) => void;
}

/** Takes the iteration's lock or throws a "locked" error naming who holds it. */
export function acquireIterationLock(iterDir: string, opts: AcquireOptions = {}): IterationLock {
  fs.mkdirSync(iterDir, { recursive: true });
  const file = lockFile(iterDir);
  const holder: LockHolder = {
    pid: process.pid,
    hostname: os.hostname(),
    started_at: new Date().toISOString(),
    command: opts.command ?? commandLine(),
  };
  const text = JSON.stringify(holder) + "\n";
  for (let attempt = 0; attempt < 50; attempt++) {
    if (createExclusive(file, text)) return new IterationLock(file, holder, text);
    const raw = readRaw(file);
    const s = judge(file, raw);
    if (s.state === "free") continue; // released between our try and our look
    // The message begins with the iteration's folder (or the lock file); a `where` would repeat it.
    if (s.state === "held" || s.state === "unreadable") throw new MetajudgeError("locked", lockedMessage(iterDir, s));
    if (takeOver(file, raw!.text)) {
      opts.warn?.(
        `${file}: took over a stale lock of ${describeHolder(s.holder)}; that process is gone (it was killed or crashed), and this run resumes its work`,
      );
    } else {
      sleep(20); // another process is taking the same stale lock over; look again
    }
  }
  throw new MetajudgeError(
    "locked",
    `${file}: could not take the lock: it keeps changing hands; is another metajudge command starting on ${iterDir}?`,
    { file },
  );
}

function createExclusive(file: string, text: string): boolean {
  const tmp = `${file}.new-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    const fd = fs.openSync(tmp, "wx");
    try {
      fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw writeError(err, file, "taking the iteration's lock", "nothing was written");
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Removes a stale lock, once. Only the process that creates the claim file for this very lock (its
 * bytes name it: pid and start time) may remove it, and it removes it only if `.lock` still holds
 * those bytes: a lock taken meanwhile by someone else is never removed.
 */
function takeOver(file: string, staleText: string): boolean {
  const claim = `${file}.takeover-${createHash("sha1").update(staleText).digest("hex").slice(0, 12)}`;
  try {
    fs.writeFileSync(claim, String(process.pid), { flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    // A claimant that died between its claim and its removal (a few system calls) leaves the claim.
    const pid = Number(readRaw(claim)?.text);
    if (Number.isInteger(pid) && pid > 0 && !alivePid(pid)) fs.rmSync(claim, { force: true });
    return false;
  }
  try {
    if (readRaw(file)?.text !== staleText) return false;
    fs.unlinkSync(file);
    return true;
  } finally {
    fs.rmSync(claim, { force: true });
  }
}

/** Whether a process with this pid runs on this host (ours included). */
export function alivePid(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function commandLine(): string {
  const [, script, ...args] = process.argv;
  const name = script && /(^|[/\\])(cli\.js|metajudge)$/.test(script) ? "metajudge" : path.basename(script ?? process.execPath);
  const text = [name, ...args].join(" ");
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

// ---- releasing on every way out -----------------------------------------------------------------

let hooked = false;

function releaseAll(): void {
  for (const l of [...heldHere]) l.release();
}

/**
 * `exit` covers normal ends and process.exit (a second Ctrl-C). A signal nobody else handles would
 * kill us without `exit`: then we release and die of the same signal, as we would have. Where a
 * command handles the signal itself (run cancels cleanly), its own unwinding releases the lock.
 */
function installExitHooks(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", releaseAll);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = (): void => {
      if (process.listenerCount(sig) > 1) return;
      releaseAll();
      process.off(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

// ---- scoped holding -----------------------------------------------------------------------------

const scope = new AsyncLocalStorage<ReadonlyMap<string, IterationLock>>();

export interface WithLockOptions extends AcquireOptions {
  /** Runs once the lock is newly taken (not when re-entered): the place to repair what a crash left. */
  onAcquired?: (lock: IterationLock) => void;
}

/**
 * Runs `fn` holding the iteration's lock and releases it however `fn` ends. Re-entrant along one
 * chain of calls (a launch that runs the pairs stage takes it once), but not for unrelated work in
 * the same process: that is a second writer like any other.
 */
export async function withIterationLock<T>(iterDir: string, opts: WithLockOptions, fn: () => Promise<T>): Promise<T> {
  const key = path.resolve(iterDir);
  const held = scope.getStore();
  if (held?.has(key) || processHeld.has(key)) return fn();
  const lock = acquireIterationLock(iterDir, opts);
  try {
    opts.onAcquired?.(lock);
    return await scope.run(new Map([...(held ?? []), [key, lock]]), fn);
  } finally {
    lock.release();
  }
}

/** Whether the current chain of calls (or this whole process, see holdForProcess) holds the iteration's lock. */
export function holdsIterationLock(iterDir: string): boolean {
  const key = path.resolve(iterDir);
  return (scope.getStore()?.has(key) ?? false) || processHeld.has(key);
}

/** Locks taken outside any scope: they belong to the process until it exits. */
const processHeld = new Map<string, IterationLock>();

/**
 * Takes the lock for the rest of this process's life (released by the exit hooks), for a writer that
 * opens an iteration without a scope around its work (a command that runs once and exits). The
 * process is then the writer: later work in it on the same iteration goes ahead.
 */
export function holdForProcess(iterDir: string, opts: AcquireOptions = {}): IterationLock {
  const key = path.resolve(iterDir);
  const had = processHeld.get(key);
  if (had) return had;
  const lock = acquireIterationLock(iterDir, opts);
  processHeld.set(key, lock);
  return lock;
}
