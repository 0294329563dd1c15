// What every launch step is handed: a leaf module, so the steps and the entry points that call them
// share these types without importing each other.
import type { ProgressEvent } from "../../pipeline/events.js";
import type { JobRecord } from "../jobs/record.js";
import type { HostDeps } from "../types.js";

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
  /** Pipeline progress of the stages run here (serve mode's stages, pairs and export). */
  onProgress?(e: ProgressEvent): void;
  /** How often job status and logs are polled; default 2000. */
  pollMs?: number;
}
