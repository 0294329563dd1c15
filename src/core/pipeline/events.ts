// Progress events: what the CLI prints with --json (one object a line) and the extension listens to.
import type { ErrorReason } from "../errors.js";
import type { StageName, StageState } from "../schema.js";

export type ProgressEvent =
  | { type: "run-start"; experiment: string; iteration: number; stages: StageName[] }
  | { type: "stage-start"; stage: StageName; total: number; done: number }
  | {
      type: "progress";
      stage: StageName;
      done: number;
      total: number;
      inFlight: number;
      promptTokens: number;
      completionTokens: number;
      elapsedMs: number;
    }
  | { type: "stage-end"; stage: StageName; state: StageState; counts: Record<string, number>; seconds: number }
  | { type: "retry"; stage: StageName; attempt: number; delayMs: number; reason: string; status?: number }
  | { type: "warning"; message: string }
  | { type: "run-end"; ok: boolean; iteration: number; seconds: number }
  | { type: "error"; reason: ErrorReason; message: string };

export type EventSink = (e: ProgressEvent) => void;
