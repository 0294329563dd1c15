// One iteration, stage by stage. Every stage resumes from what is on disk, so `run` after a crash,
// a cancel or a failure just continues.
import { isCancelled, MetajudgeError } from "../errors.js";
import { STAGES, type StageInfo, type StageName } from "../schema.js";
import { openRun, type OpenOptions, type RunContext } from "./context.js";
import { runLlmStage } from "./llm-stage.js";
import { iterationDir } from "../store/iteration.js";
import { writingIteration } from "./writer.js";
import { STAGE_TABLE, type StageDef, type StageTable } from "./stages/index.js";

export { LLM_STAGES, planLlmStage, type LlmStageName } from "./stages/index.js";

/**
 * `stages` picks from the table, in the order given (the whole table when absent). The table is the
 * built-in one unless a caller brings its own; then the names are that table's.
 */
export type RunOptions = OpenOptions &
  ({ stages?: readonly StageName[]; table?: undefined } | { stages?: readonly string[]; table: StageTable });

/** Stages from the first up to `until`, inclusive. */
export function stagesUntil(until: StageName): StageName[] {
  return STAGES.slice(0, STAGES.indexOf(until) + 1);
}

async function runStage(ctx: RunContext, stage: StageDef): Promise<Record<string, number>> {
  if (stage.kind === "derived") return stage.run(ctx);
  const plan = await stage.plan(ctx);
  await runLlmStage(ctx, plan);
  return { ...plan.counts, records: plan.total };
}

function pickStages(table: StageTable, names: readonly string[] | undefined): StageDef[] {
  if (!names) return [...table];
  return names.map((name) => {
    const def = table.find((s) => s.name === name);
    if (!def) throw new MetajudgeError("badInput", `no stage "${name}"; the stages are ${table.map((s) => s.name).join(", ")}`);
    return def;
  });
}

/**
 * Keeps a stage's manifest entry around its work, however it is done (live here, batch jobs on a host):
 * running with its start time, then done, failed with the error, or cancelled, and the seconds spent.
 * `start` fills the entry before it is first saved; `end` runs once it is saved, whatever happened.
 */
export async function trackStage(
  ctx: RunContext,
  stage: StageName,
  work: (info: StageInfo) => Promise<void>,
  hooks: { start?(info: StageInfo): void; end?(info: StageInfo, seconds: number): void } = {},
): Promise<void> {
  const info = ctx.stageInfo(stage);
  const t0 = Date.now();
  info.state = "running";
  info.started_at = new Date(t0).toISOString();
  delete info.error;
  hooks.start?.(info);
  ctx.saveManifest();
  let failed = false;
  try {
    await work(info);
    info.state = "done";
  } catch (err) {
    failed = true;
    info.state = isCancelled(err) ? "cancelled" : "failed";
    if (!isCancelled(err)) info.error = err instanceof Error ? err.message : String(err);
    throw err;
  } finally {
    const t1 = Date.now();
    info.finished_at = new Date(t1).toISOString();
    info.seconds = (info.seconds ?? 0) + (t1 - t0) / 1000;
    try {
      ctx.saveManifest();
    } catch (saveErr) {
      // A full disk fails the stage and then its bookkeeping: the stage's own error is the one to tell.
      if (!failed) throw saveErr;
      ctx.emit({ type: "warning", message: saveErr instanceof Error ? saveErr.message : String(saveErr) });
    }
    hooks.end?.(info, (t1 - t0) / 1000);
  }
}

/** Runs the stages holding the iteration's lock (see writingIteration); a second writer is refused. */
export function runIteration(opts: RunOptions): Promise<RunContext> {
  return writingIteration(iterationDir(opts.experimentDir, opts.iteration), { emit: opts.emit }, () => runLocked(opts));
}

async function runLocked(opts: RunOptions): Promise<RunContext> {
  const started = Date.now();
  const stages = pickStages(opts.table ?? STAGE_TABLE, opts.stages);
  // Events and the manifest name the built-in stages; a table a caller brings (a test's) may add its own.
  const names = stages.map((s) => s.name as StageName);
  const ctx = await openRun(opts);
  ctx.emit({ type: "run-start", experiment: opts.experimentDir, iteration: opts.iteration, stages: names });
  try {
    for (const [i, def] of stages.entries()) {
      const stage = names[i]!;
      ctx.currentStage = stage;
      await trackStage(
        ctx,
        stage,
        async (info) => {
          const counts = await runStage(ctx, def);
          info.counts = { ...info.counts, ...counts };
        },
        { end: (info, seconds) => ctx.emit({ type: "stage-end", stage, state: info.state, counts: info.counts, seconds }) },
      );
    }
  } finally {
    ctx.store.close();
  }
  ctx.emit({ type: "run-end", ok: true, iteration: opts.iteration, seconds: (Date.now() - started) / 1000 });
  return ctx;
}
