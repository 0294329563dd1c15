// One iteration, stage by stage. Every stage resumes from what is on disk, so `run` after a crash,
// a cancel or a failure just continues.
import { isCancelled } from "../errors.js";
import { STAGES, type StageInfo, type StageName } from "../schema.js";
import { openRun, type OpenOptions, type RunContext } from "./context.js";
import { runLlmStage, type LlmPlan } from "./llm-stage.js";
import { planGenerate } from "./stages/generate.js";
import { planJudge } from "./stages/judge.js";
import { planMetajudge } from "./stages/metajudge.js";
import { computePairs, writePairs } from "./stages/pairs.js";
import { readAnnotations, unreadableAnnotationsError } from "../store/annotations.js";
import { iterationDir } from "../store/iteration.js";
import { writingIteration } from "./writer.js";
import { buildDpo, exportStamp, surrogateWarning, writeDpo } from "./stages/export.js";

export interface RunOptions extends OpenOptions {
  stages?: readonly StageName[];
}

/** Stages from the first up to `until`, inclusive. */
export function stagesUntil(until: StageName): StageName[] {
  return STAGES.slice(0, STAGES.indexOf(until) + 1);
}

export type LlmStageName = "generate" | "judge" | "metajudge";
export const LLM_STAGES: readonly LlmStageName[] = ["generate", "judge", "metajudge"];

/** The requests a model-calling stage still needs, from what is on disk. */
export function planLlmStage(ctx: RunContext, stage: LlmStageName): Promise<LlmPlan> {
  return stage === "generate" ? planGenerate(ctx) : stage === "judge" ? planJudge(ctx) : planMetajudge(ctx);
}

async function runStage(ctx: RunContext, stage: StageName): Promise<Record<string, number>> {
  switch (stage) {
    case "generate":
    case "judge":
    case "metajudge": {
      const plan = await planLlmStage(ctx, stage);
      await runLlmStage(ctx, plan);
      return { ...plan.counts, records: plan.total };
    }
    case "pairs": {
      const res = await computePairs(ctx.store.dir, ctx.settings, ctx.signal);
      // A line that cannot be read may be a person's flag: no pairs without it (see `metajudge pairs`).
      if (res.annotationProblems.length > 0) {
        for (const p of res.annotationProblems) ctx.emit({ type: "warning", message: `${p.file}:${p.line}: ${p.message}` });
        throw unreadableAnnotationsError(res.annotationProblems, ctx.store.dir);
      }
      writePairs(ctx.store.dir, res);
      return res.counts;
    }
    case "export": {
      const build = await buildDpo({
        iterDir: ctx.store.dir,
        prompts: ctx.prompts.prompts,
        actorTemplate: ctx.templates.actor.template,
        judgeTemplate: ctx.templates.judge.template,
        settings: ctx.settings,
        signal: ctx.signal,
      });
      const output = writeDpo(ctx.store.dir, build.records);
      Object.assign(ctx.stageInfo("export"), exportStamp(build, output));
      if (build.repaired.records > 0) ctx.emit({ type: "warning", message: surrogateWarning(build.repaired) });
      // The pairs this data comes from may lack a flag such a line carries (pairs computed with --allow-unreadable-annotations).
      for (const p of (await readAnnotations(ctx.store.file("annotations"))).problems) {
        ctx.emit({ type: "warning", message: `${p.file}:${p.line}: ${p.message}; the exported pairs may include what it flags` });
      }
      return build.counts;
    }
  }
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
  const stages = opts.stages ?? STAGES;
  const ctx = await openRun(opts);
  ctx.emit({ type: "run-start", experiment: opts.experimentDir, iteration: opts.iteration, stages: [...stages] });
  try {
    for (const stage of stages) {
      ctx.currentStage = stage;
      await trackStage(
        ctx,
        stage,
        async (info) => {
          const counts = await runStage(ctx, stage);
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

