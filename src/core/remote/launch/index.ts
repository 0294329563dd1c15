// Launching generation and DPO training on a remote host: what the CLI and the editor call.
// Each function writes job records under <experiment>/jobs/ as it goes, so anything it started can be
// found again (attachJob) after the process that started it is gone.
import type { GenerationMode } from "../../schema.js";
import type { HostDeps } from "../types.js";
import type { JobRecord } from "../jobs/record.js";
import { MetajudgeError } from "../../errors.js";

export type RemoteEvent =
  | { type: "job"; job: JobRecord } // created or changed state
  | { type: "log"; jobId: string; text: string } // new log text
  | { type: "transfer"; direction: "up" | "down"; file: string; done: number; total: number }
  | { type: "metrics"; jobId: string; step: number; metrics: Record<string, number> }
  | { type: "note"; message: string };

export interface LaunchContext {
  experimentDir: string;
  deps: HostDeps;
  /** Host profiles from the editor's metajudge.hosts setting; the experiment's own hosts override them by name. */
  settingsHosts?: Record<string, unknown>;
  signal?: AbortSignal;
  onEvent?(e: RemoteEvent): void;
  /** How often job status and logs are polled; default 2000. */
  pollMs?: number;
}

function notYet(what: string): never {
  throw new MetajudgeError("internal", `${what} is not implemented yet`);
}

export async function launchGeneration(_ctx: LaunchContext, _o: { iteration: number; host?: string; mode?: GenerationMode }): Promise<{ jobs: JobRecord[] }> {
  return notYet("launchGeneration");
}

export async function launchTraining(_ctx: LaunchContext, _o: { iteration: number; host?: string }): Promise<{ job: JobRecord; checkpoint?: string }> {
  return notYet("launchTraining");
}

/** Follows a job to its end, then finalizes it (idempotent): imports batch results, records a checkpoint. */
export async function attachJob(_ctx: LaunchContext, _jobId: string): Promise<JobRecord> {
  return notYet("attachJob");
}

export async function cancelJob(_ctx: LaunchContext, _jobId: string): Promise<JobRecord> {
  return notYet("cancelJob");
}

/** The same spec under a new job id; the old record is kept. */
export async function resubmitJob(_ctx: LaunchContext, _jobId: string): Promise<JobRecord> {
  return notYet("resubmitJob");
}
