// Launching generation and DPO training on a remote host: what the CLI and the editor call.
// Each function writes job records under <experiment>/jobs/ as it goes, so anything it started can be
// found again (attachJob) after the process that started it is gone.
import { iterationSettings, loadConfig, roleEndpoint } from "../../config.js";
import { MetajudgeError } from "../../errors.js";
import type { ProgressEvent } from "../../pipeline/events.js";
import { runIteration } from "../../pipeline/run.js";
import { writingIteration } from "../../pipeline/writer.js";
import { iterationDir } from "../../store/iteration.js";
import type { GenerationMode, Role } from "../../schema.js";
import { JobStore, type JobRecord } from "../jobs/record.js";
import { TERMINAL_STATES } from "../types.js";
import { runBatchStages } from "./generation-batch.js";
import { runServe, servedModel } from "./generation-serve.js";
import { hostName, loadLaunchConfig, openLaunchHost, type LaunchHost } from "./host.js";
import { emitJob } from "./job.js";
import { jobRecord } from "./recipe.js";
import { recipeFor } from "./recipes.js";
import { finalizeTraining, followTraining, startTraining } from "./training.js";
import type { LaunchContext } from "./types.js";

export type { LaunchContext, RemoteEvent } from "./types.js";

const ROLES: readonly Role[] = ["actor", "judge", "meta_judge"];

async function withHost<T>(ctx: LaunchContext, name: string, fn: (host: LaunchHost) => Promise<T>): Promise<T> {
  const host = await openLaunchHost(ctx, loadConfig(ctx.experimentDir), name);
  try {
    return await fn(host);
  } finally {
    host.executor.close();
  }
}

function emitProgress(ctx: LaunchContext): (e: ProgressEvent) => void {
  return (e) => {
    ctx.onProgress?.(e);
    if (e.type === "warning") ctx.onEvent?.({ type: "note", message: e.message });
  };
}

export async function launchGeneration(
  ctx: LaunchContext,
  o: { iteration: number; host?: string; mode?: GenerationMode },
): Promise<{ jobs: JobRecord[] }> {
  const { config, remote } = loadLaunchConfig(ctx);
  const settings = iterationSettings(config, o.iteration);
  const name = hostName(o.host, remote.generation.host, "generation");
  const mode = o.mode ?? remote.generation.mode;
  const signal = ctx.signal ?? new AbortController().signal;
  // Held from before the host is asked for anything: a second writer is refused before a GPU job starts.
  const iterDir = iterationDir(ctx.experimentDir, o.iteration);
  return writingIteration(iterDir, { emit: emitProgress(ctx) }, () =>
    withHost(ctx, name, async (host) => {
      if (mode === "serve") {
        const models = Object.fromEntries(ROLES.map((r) => [r, roleEndpoint(config, r, settings).model])) as Record<Role, string>;
        const job = await runServe(ctx, host, o.iteration, remote.generation, servedModel(models), emitProgress(ctx));
        return { jobs: [job] };
      }
      const jobs = await runBatchStages(ctx, host, o.iteration, remote.generation.batch_command);
      await runIteration({
        experimentDir: ctx.experimentDir,
        iteration: o.iteration,
        stages: ["pairs", "export"],
        emit: emitProgress(ctx),
        signal,
      });
      return { jobs };
    }),
  );
}

export async function launchTraining(
  ctx: LaunchContext,
  o: { iteration: number; host?: string },
): Promise<{ job: JobRecord; checkpoint?: string }> {
  const { config, remote } = loadLaunchConfig(ctx);
  const name = hostName(o.host, remote.training.host, "training");
  return withHost(ctx, name, async (host) => {
    const started = await startTraining(ctx, host, config, remote, o.iteration);
    const ended = await followTraining(ctx, host, started.id);
    return finalizeTraining(ctx, host, ended);
  });
}

/** Follows a job to its end, then finalizes it (idempotent): imports batch results, records a checkpoint. */
export async function attachJob(ctx: LaunchContext, jobId: string): Promise<JobRecord> {
  const record = jobRecord(ctx, jobId);
  if (record.finalized && TERMINAL_STATES.has(record.state)) return record;
  const recipe = recipeFor(record);
  return withHost(ctx, record.host, async (host) => recipe.finalize(ctx, host, await recipe.follow(ctx, host, jobId)));
}

export async function cancelJob(ctx: LaunchContext, jobId: string): Promise<JobRecord> {
  const record = jobRecord(ctx, jobId);
  if (TERMINAL_STATES.has(record.state)) return record;
  return withHost(ctx, record.host, async (host) => {
    await host.executor.cancel(record.remote);
    const status = await host.executor.status(record.remote);
    const next = new JobStore(ctx.experimentDir).update(jobId, {
      state: status.state,
      ...(status.detail !== undefined ? { detail: status.detail } : {}),
      ...(status.exitCode !== undefined ? { exit_code: status.exitCode } : {}),
      ...(TERMINAL_STATES.has(status.state) ? { finished_at: new Date().toISOString() } : {}),
    });
    return emitJob(ctx, next);
  });
}

/** The same spec under a new job id; the old record is kept. Follow the new one with attachJob. */
export async function resubmitJob(ctx: LaunchContext, jobId: string): Promise<JobRecord> {
  const old = jobRecord(ctx, jobId);
  if (!TERMINAL_STATES.has(old.state))
    throw new MetajudgeError("badInput", `job ${jobId} is still ${old.state}; cancel it before submitting it again`);
  return recipeFor(old).resubmit(ctx, old, (fn) => withHost(ctx, old.host, fn));
}
