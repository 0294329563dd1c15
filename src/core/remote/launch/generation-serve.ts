// Serve generation: `vllm serve` runs as a job on the host, we reach it through a tunnel and run the
// stages here as a live run would, then stop the server. The server is stopped on every way out
// (done, failed, cancelled), because an idle GPU server is the most expensive thing we can leave behind.
import { MetajudgeError, isCancelled } from "../../errors.js";
import type { EventSink } from "../../pipeline/events.js";
import { runIteration } from "../../pipeline/run.js";
import type { GenerationSettings, Role } from "../../schema.js";
import { JobStore, type JobRecord } from "../jobs/record.js";
import { TERMINAL_STATES, type Forward } from "../types.js";
import type { LaunchHost } from "./host.js";
import type { LaunchContext } from "./types.js";
import { emitJob, followToEnd, jobFailure, staged, startJob } from "./job.js";
import { followPlain, markFinalized, type Recipe } from "./recipe.js";
import { renderCommand } from "./template.js";

export interface ServeLaunch {
  recipe: "serve";
  model: string;
  port: number;
}

/** One server serves one model, so the three roles must name the same one (as M_t does in the method). */
export function servedModel(models: Record<Role, string>): string {
  const distinct = [...new Set(Object.values(models))];
  if (distinct.length !== 1) {
    throw new MetajudgeError(
      "badInput",
      `serve mode starts one server, but the roles use different models (${Object.entries(models)
        .map(([r, m]) => `${r}: ${m}`)
        .join(", ")}); ` + `give them one model in metajudge.json, or use remote.generation.mode "batch"`,
    );
  }
  return distinct[0]!;
}

export async function runServe(
  ctx: LaunchContext,
  host: LaunchHost,
  iteration: number,
  gen: GenerationSettings,
  model: string,
  emit: EventSink,
): Promise<JobRecord> {
  const script = renderCommand(gen.serve_command, { model, port: gen.port }, "metajudge.json: remote.generation.serve_command");
  const launch: ServeLaunch = { recipe: "serve", model, port: gen.port };
  const record = await startJob(ctx, host, {
    kind: "generate-serve",
    title: `Iteration ${iteration}: vllm serve ${model}`,
    iteration,
    script,
    inputs: [],
    launch: { ...launch },
  });
  const store = new JobStore(ctx.experimentDir);
  // The log is copied home while the server runs, so its output is there when something goes wrong.
  // Following outlives a cancel of the run: it stops once the server job has ended, below.
  const stopFollowing = new AbortController();
  const following = followToEnd(ctx, host, record.id, undefined, stopFollowing.signal).then(
    (r) => r,
    () => undefined,
  );
  let forward: Forward | undefined;
  let failure: unknown;
  try {
    forward = await waitReady(ctx, host, record.id, gen);
    const baseUrl = `http://127.0.0.1:${forward.localPort}/v1`;
    ctx.onEvent?.({ type: "note", message: `vllm serve is ready on ${host.name}; running the stages through ${baseUrl}` });
    await runIteration({ experimentDir: ctx.experimentDir, iteration, emit, signal: ctx.signal ?? new AbortController().signal, baseUrl });
  } catch (err) {
    failure = err;
  }
  try {
    const now = store.get(record.id);
    if (now && !TERMINAL_STATES.has(now.state))
      await staged(ctx, `stopping the server job ${record.id}`, () => host.executor.cancel(now.remote));
  } catch (err) {
    ctx.onEvent?.({
      type: "note",
      message: `stopping the server job ${record.id} on ${host.name} failed: ${err instanceof Error ? err.message : String(err)}; cancel it by hand`,
    });
  }
  await forward?.close().catch(() => undefined);
  // Give the follower one more look so the record ends in the state the host reports.
  const poll = setTimeout(() => stopFollowing.abort(), Math.max(30_000, 4 * (ctx.pollMs ?? 2000)));
  const final = (await following) ?? store.get(record.id) ?? record;
  clearTimeout(poll);
  if (failure instanceof ServerEnded) failure = jobFailure(ctx, final, "vllm serve ended before it answered /v1/models");
  const done = emitJob(
    ctx,
    store.update(final.id, {
      finalized: true,
      ...(failure ? { error: failure instanceof Error ? failure.message : String(failure) } : {}),
    }),
  );
  if (failure) throw failure;
  return done;
}

/** The server job ended before it was ready; reported once its whole log is home. */
class ServerEnded extends Error {}

async function waitReady(ctx: LaunchContext, host: LaunchHost, id: string, gen: GenerationSettings): Promise<Forward> {
  const store = new JobStore(ctx.experimentDir);
  const deadline = Date.now() + gen.ready_timeout_s * 1000;
  const interval = Math.min(ctx.pollMs ?? 2000, 1000);
  let forward: Forward | undefined;
  try {
    for (;;) {
      if (ctx.signal?.aborted) throw new MetajudgeError("cancelled", `cancelled while waiting for vllm serve (job ${id}) on ${host.name}`);
      const record = store.get(id);
      if (!record) throw new MetajudgeError("internal", `job record ${id} disappeared`);
      const status = await staged(ctx, `checking the server job ${id}`, () => host.executor.status(record.remote));
      if (TERMINAL_STATES.has(status.state)) throw new ServerEnded();
      if (status.state === "running") {
        forward ??= await host.shell.forward(status.node ?? "127.0.0.1", gen.port);
        if (await answers(`http://127.0.0.1:${forward.localPort}/v1/models`)) return forward;
      }
      if (Date.now() > deadline) {
        throw new MetajudgeError(
          "timeout",
          `vllm serve (job ${id}) on ${host.name} did not answer /v1/models within ${gen.ready_timeout_s} s (remote.generation.ready_timeout_s); its log is ${new JobStore(ctx.experimentDir).logPath(id)}`,
        );
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  } catch (err) {
    await forward?.close().catch(() => undefined);
    if (isCancelled(err)) throw new MetajudgeError("cancelled", `cancelled while waiting for vllm serve (job ${id}) on ${host.name}`);
    throw err;
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** A server lives for one run: followed and finalized like any job, but never submitted again on its own. */
export const serveRecipe: Recipe<"serve"> = {
  kind: "serve",
  follow: followPlain,
  finalize: markFinalized,
  resubmit: async (_ctx, old) => {
    throw new MetajudgeError("badInput", `job ${old.id} was a server for one run; launch generation again instead`);
  },
};
