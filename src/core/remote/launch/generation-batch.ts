// Batch generation: each model-calling stage becomes one `vllm run-batch` job over the requests the
// stage still needs. Results are imported even from a job that failed half way, and whatever is
// still missing is asked for again in a smaller job, so no finished request is ever paid for twice.
import * as fs from "node:fs";
import * as path from "node:path";
import { MetajudgeError } from "../../errors.js";
import { addBatchUsage, importStageBatch, stageCounts, writeStageBatch, type BatchImport } from "../../pipeline/batch.js";
import { openRun, type RunContext } from "../../pipeline/context.js";
import { trackStage } from "../../pipeline/run.js";
import { LLM_STAGES, modelStage, planLlmStage, type LlmStageName } from "../../pipeline/stages/index.js";
import { iterationDir } from "../../store/iteration.js";
import type { ProgressEvent } from "../../pipeline/events.js";
import { writingIteration } from "../../pipeline/writer.js";
import { JobStore, type JobRecord } from "../jobs/record.js";
import { quote } from "../shell.js";
import type { LaunchHost } from "./host.js";
import type { LaunchContext } from "./types.js";
import { emitJob, followToEnd, jobFailure, staged, startJob } from "./job.js";
import { followPlain, jobRecord, resubmitScript, type Recipe } from "./recipe.js";
import { renderCommand } from "./template.js";

export const MAX_BATCH_ATTEMPTS = 3;

export interface BatchLaunch {
  recipe: "batch";
  stage: LlmStageName;
  attempt: number;
  requests: number;
  /** Where the results are downloaded to, relative to the experiment. */
  results: string;
}

function openStageRun(ctx: LaunchContext, iteration: number): Promise<RunContext> {
  return openRun({
    experimentDir: ctx.experimentDir,
    iteration,
    signal: ctx.signal ?? new AbortController().signal,
    emit: (e) => {
      if (e.type === "warning") ctx.onEvent?.({ type: "note", message: e.message });
    },
  });
}

/** Runs the three model-calling stages as batch jobs on the host, in order; returns every job started. */
export async function runBatchStages(ctx: LaunchContext, host: LaunchHost, iteration: number, command: string): Promise<JobRecord[]> {
  const jobs: JobRecord[] = [];
  for (const stage of LLM_STAGES) {
    const run = await openStageRun(ctx, iteration);
    const info = run.stageInfo(stage);
    const before = await planLlmStage(run, stage);
    if (before.tasks.length === 0 && info.state === "done") continue;
    await trackStage(
      run,
      stage,
      async (i) => {
        for (let attempt = 1; ; attempt++) {
          const job = await batchJob(ctx, host, run, stage, command, attempt);
          if (!job) break; // nothing missing
          jobs.push(job.record);
          if (job.imported.missing === 0) break;
          if (attempt >= MAX_BATCH_ATTEMPTS) {
            throw new MetajudgeError(
              "jobFailed",
              `${stage}: ${job.imported.missing} request(s) still missing after ${attempt} batch jobs on ${host.name} (last: ${job.record.id}, ${job.record.state}); ` +
                `the results so far are kept, and launching again asks only for the missing ones`,
            );
          }
          ctx.onEvent?.({
            type: "note",
            message: `${stage}: ${job.imported.missing} request(s) missing after job ${job.record.id}; asking for them again`,
          });
        }
        i.counts = await stageCounts(run, stage);
      },
      {
        start: (i) => {
          i.counts = { ...before.counts, records: before.done, expected: before.total };
        },
      },
    );
  }
  return jobs;
}

async function batchJob(
  ctx: LaunchContext,
  host: LaunchHost,
  run: RunContext,
  stage: LlmStageName,
  command: string,
  attempt: number,
): Promise<{ record: JobRecord; imported: BatchImport } | undefined> {
  const remoteDir = path.join(iterationDir(ctx.experimentDir, run.iteration), "remote");
  fs.mkdirSync(remoteDir, { recursive: true });
  const requestsFile = path.join(remoteDir, `${stage}.requests.jsonl`);
  const { requests } = await writeStageBatch(run, stage, requestsFile);
  if (requests === 0) return undefined;
  const model = run.models[modelStage(stage).role];
  const script = renderCommand(
    command,
    { input: "input.jsonl", output: "output.jsonl", model },
    "metajudge.json: remote.generation.batch_command",
  );
  const launch = (id: string): BatchLaunch => ({
    recipe: "batch",
    stage,
    attempt,
    requests,
    results: path.relative(ctx.experimentDir, path.join(remoteDir, `${stage}.${id}.results.jsonl`)),
  });
  let record = await startJob(ctx, host, {
    kind: "generate-batch",
    title: `Iteration ${run.iteration}: ${stage} (${requests} request${requests === 1 ? "" : "s"}, batch${attempt > 1 ? `, attempt ${attempt}` : ""})`,
    iteration: run.iteration,
    stage,
    script,
    inputs: [{ local: requestsFile, name: "input.jsonl" }],
    launch: { recipe: "batch", stage, attempt, requests },
  });
  record = new JobStore(ctx.experimentDir).update(record.id, { launch: launch(record.id) });
  record = await followToEnd(ctx, host, record.id);
  const imported = await finalizeBatch(ctx, host, record, run);
  return { record: new JobStore(ctx.experimentDir).get(record.id) ?? record, imported };
}

/**
 * Downloads a finished batch job's results (partial ones too) and imports them; idempotent, since
 * an import skips what is already on disk. A job that left no output at all is a failure.
 */
export async function finalizeBatch(ctx: LaunchContext, host: LaunchHost, record: JobRecord, run?: RunContext): Promise<BatchImport> {
  const store = new JobStore(ctx.experimentDir);
  const launch = record.launch as BatchLaunch;
  const results = path.join(ctx.experimentDir, launch.results);
  const remote = `${record.remote.dir}/output.jsonl`;
  const there = await staged(ctx, `looking for ${remote}`, async () => {
    const r = await host.shell.exec(`if test -f ${quote(remote)}; then echo yes; else echo no; fi`);
    if (r.code !== 0 || !/^(yes|no)$/.test(r.stdout.trim()))
      throw new MetajudgeError("server", `${host.shell.label}: cannot tell whether ${remote} exists (exit ${r.code})`);
    return r;
  });
  const empty: BatchImport = { imported: 0, requests: 0, failed: 0, unknown: 0, missing: launch.requests, malformed: [] };
  if (there.stdout.trim() !== "yes") {
    const next = store.update(record.id, { finalized: true, error: `no results file on the host (${remote})` });
    emitJob(ctx, next);
    if (record.state === "succeeded") throw jobFailure(ctx, next, `${launch.stage} batch`);
    return empty;
  }
  await staged(ctx, `downloading ${launch.results}`, () =>
    host.shell.download(remote, results, {
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      onProgress: (done, total) => ctx.onEvent?.({ type: "transfer", direction: "down", file: launch.results, done, total }),
    }),
  );
  // Importing writes records: under the iteration's lock (already held when called from a launch).
  const iterDir = iterationDir(ctx.experimentDir, record.iteration ?? 1);
  const emit = (e: ProgressEvent): void => {
    if (e.type === "warning") ctx.onEvent?.({ type: "note", message: e.message });
  };
  const imported = await writingIteration(iterDir, { emit }, async () => {
    const r = run ?? (await openStageRun(ctx, record.iteration ?? 1));
    const open = new Set((await planLlmStage(r, launch.stage)).tasks.map((t) => t.id));
    const got = await importStageBatch(r, launch.stage, results);
    await addBatchUsage(r, launch.stage, results, open);
    if (!run) r.saveManifest();
    return got;
  });
  const next = store.update(record.id, {
    finalized: true,
    outputs: { results: launch.results },
    imported: {
      records: imported.imported,
      requests: imported.requests,
      failed: imported.failed,
      missing: imported.missing,
      malformed: imported.malformed.length,
    },
  });
  emitJob(ctx, next);
  ctx.onEvent?.({
    type: "note",
    message: `${launch.stage}: imported ${imported.imported} record(s) from ${imported.requests} result(s) of job ${record.id}${imported.failed ? `; ${imported.failed} failed` : ""}${imported.missing ? `; ${imported.missing} still missing` : ""}`,
  });
  return imported;
}

export const batchRecipe: Recipe<"batch"> = {
  kind: "batch",
  follow: followPlain,
  finalize: async (ctx, host, ended) => {
    await finalizeBatch(ctx, host, ended);
    return jobRecord(ctx, ended.id);
  },
  resubmit: async (ctx, old, onHost) => {
    const job = await resubmitScript(ctx, old, onHost);
    // The new job's results get a file of their own, so the old job's are kept.
    const results = path.join("iterations", String(old.iteration ?? 1), "remote", `${old.stage}.${job.id}.results.jsonl`);
    return emitJob(
      ctx,
      new JobStore(ctx.experimentDir).update(job.id, { launch: { ...(job.launch as Record<string, unknown>), results } }),
    );
  },
};
