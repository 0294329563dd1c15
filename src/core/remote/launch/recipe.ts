// What a launch recipe does with a job it started, once the process that started it may be gone:
// follow it to its end, finalize it (bring home what it made; idempotent), submit it again. The
// recipes (serve, batch, train) each give these in their own module; recipes.ts lists them.
import { MetajudgeError } from "../../errors.js";
import { JobStore, type JobRecord } from "../jobs/record.js";
import type { LaunchHost } from "./host.js";
import { emitJob, followToEnd, startJob } from "./job.js";
import type { LaunchContext } from "./types.js";

/** The `recipe` field of a job record's `launch`: which module started the job. */
export type RecipeKind = "serve" | "batch" | "train";

export interface Recipe<K extends RecipeKind = RecipeKind> {
  kind: K;
  /** Follows the job until the executor says it has ended; its log is copied home meanwhile. */
  follow(ctx: LaunchContext, host: LaunchHost, jobId: string): Promise<JobRecord>;
  /** Brings home what an ended job made and marks it finalized; running it again changes nothing. */
  finalize(ctx: LaunchContext, host: LaunchHost, ended: JobRecord): Promise<JobRecord>;
  /**
   * The same work under a new job id; the old record is kept. The host is opened through `onHost`
   * only once the record is known to be submittable, so a refusal never waits on a connection.
   */
  resubmit(ctx: LaunchContext, old: JobRecord, onHost: OnHost): Promise<JobRecord>;
}

/** Runs `fn` with the job's host open, and closes it after. */
export type OnHost = <T>(fn: (host: LaunchHost) => Promise<T>) => Promise<T>;

/** The job's record as it is now on disk. */
export function jobRecord(ctx: LaunchContext, jobId: string): JobRecord {
  const store = new JobStore(ctx.experimentDir);
  const record = store.get(jobId);
  if (!record) throw new MetajudgeError("badInput", `no job ${jobId} in ${store.dir}`);
  return record;
}

export function followPlain(ctx: LaunchContext, host: LaunchHost, jobId: string): Promise<JobRecord> {
  return followToEnd(ctx, host, jobId);
}

/** For a job that leaves nothing to bring home. */
export async function markFinalized(ctx: LaunchContext, _host: LaunchHost, ended: JobRecord): Promise<JobRecord> {
  return emitJob(ctx, new JobStore(ctx.experimentDir).update(ended.id, { finalized: true }));
}

/** Runs the old job's script again on the very files it read, copied on the host: the local ones may have been rewritten since. */
export async function resubmitScript(ctx: LaunchContext, old: JobRecord, onHost: OnHost): Promise<JobRecord> {
  const script = (old.spec as { script?: unknown } | undefined)?.script;
  if (typeof script !== "string") throw new MetajudgeError("badInput", `job ${old.id} has no script in its record to submit again`);
  const launch = { ...(old.launch as Record<string, unknown>), resubmitted_from: old.id };
  return onHost((host) =>
    startJob(ctx, host, {
      kind: old.kind,
      title: old.title,
      iteration: old.iteration ?? 1,
      ...(old.stage ? { stage: old.stage } : {}),
      script,
      inputs: [],
      copies: (old.inputs ?? []).map((i) => ({ ...i, name: i.remote.slice(old.remote.dir.length + 1) })),
      launch,
    }),
  );
}

/** A record written without a recipe: followed and resubmitted as a plain script, nothing to bring home. */
export const PLAIN_RECIPE: Omit<Recipe, "kind"> = { follow: followPlain, finalize: markFinalized, resubmit: resubmitScript };
