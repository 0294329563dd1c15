// A fixed set of workers pulling from one iterator: every finished task starts the next at once, so
// the endpoint's concurrency stays full. The first failure stops the rest (in-flight work is aborted
// through the shared signal) and is rethrown once everything has settled.
import { setMaxListeners } from "node:events";
import { MetajudgeError } from "../errors.js";

export async function runPool<T>(
  items: Iterable<T>,
  concurrency: number,
  work: (item: T, signal: AbortSignal) => Promise<void>,
  outer?: AbortSignal,
): Promise<void> {
  const ctl = new AbortController();
  // Every request in flight listens on this one signal; that is by design, not a leak.
  setMaxListeners(0, ctl.signal);
  const onAbort = (): void => ctl.abort(outer?.reason);
  if (outer?.aborted) throw new MetajudgeError("cancelled", "cancelled");
  outer?.addEventListener("abort", onAbort, { once: true });
  const it = items[Symbol.iterator]();
  let failure: unknown;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (ctl.signal.aborted) return;
      const next = it.next();
      if (next.done) return;
      try {
        await work(next.value, ctl.signal);
      } catch (err) {
        if (failure === undefined) failure = err;
        ctl.abort(err);
        return;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  } finally {
    outer?.removeEventListener("abort", onAbort);
  }
  if (outer?.aborted) throw new MetajudgeError("cancelled", "cancelled");
  if (failure !== undefined) throw failure;
}
