// What every launch step is handed: a leaf module, so the steps and the entry points that call them
// share these types without importing each other.
import type { RemoteEventOf, WireJob } from "../../../shared/cli-wire.js";
import type { ProgressEvent } from "../../pipeline/events.js";
import type { JobRecord } from "../jobs/record.js";
import type { HostDeps } from "../types.js";

/** Declared in src/shared/cli-wire.ts; here with the full job record. */
export type RemoteEvent = RemoteEventOf<JobRecord>;

// The record the core writes is what the wire promises the editor (id, state, host, kind, detail).
const recordIsWireJob: JobRecord extends WireJob ? true : false = true;
void recordIsWireJob;

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
