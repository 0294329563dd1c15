// Every line the CLI writes to stdout with --json, declared once: the CLI writes these types, the
// editor reads them through parseWireLine and never casts what a worker printed. A line the guard
// does not know is not a line of this contract: a reader logs it and goes on.
//
// The closed vocabularies (stages, stage states, error reasons, job states) are part of the contract;
// src/core checks at compile time that its own lists are these, so neither side can drift alone.

export const WIRE_STAGES = ["generate", "judge", "metajudge", "pairs", "export"] as const;
export type WireStage = (typeof WIRE_STAGES)[number];
export const WIRE_STAGE_STATES = ["pending", "running", "done", "failed", "cancelled"] as const;
export type WireStageState = (typeof WIRE_STAGE_STATES)[number];
export const WIRE_ERROR_REASONS = [
  "badInput",
  "auth",
  "refused",
  "timeout",
  "rateLimited",
  "server",
  "hostKey",
  "jobFailed",
  "locked",
  "io",
  "cancelled",
  "internal",
] as const;
export type WireErrorReason = (typeof WIRE_ERROR_REASONS)[number];
export const WIRE_JOB_STATES = ["submitting", "queued", "running", "succeeded", "failed", "cancelled", "timeout", "lost"] as const;
export type WireJobState = (typeof WIRE_JOB_STATES)[number];

/** A failure, as the last line of any command that failed. */
export interface WireError {
  type: "error";
  reason: WireErrorReason;
  message: string;
}

/** Progress of a pipeline run (run, pairs, export, batch write/read/submit). */
export type ProgressEvent =
  | { type: "run-start"; experiment: string; iteration: number; stages: WireStage[] }
  | { type: "stage-start"; stage: WireStage; total: number; done: number }
  | {
      type: "progress";
      stage: WireStage;
      done: number;
      total: number;
      inFlight: number;
      promptTokens: number;
      completionTokens: number;
      elapsedMs: number;
    }
  | { type: "stage-end"; stage: WireStage; state: WireStageState; counts: Record<string, number>; seconds: number }
  | { type: "retry"; stage: WireStage; attempt: number; delayMs: number; reason: string; status?: number }
  | { type: "warning"; message: string }
  | { type: "run-end"; ok: boolean; iteration: number; seconds: number }
  | WireError;

/** The fields of a job record the editor reads; the record carries more (jobs/<id>.json). */
export interface WireJob {
  id: string;
  state: WireJobState;
  host: string;
  kind: string;
  detail?: string;
  [field: string]: unknown;
}

/** Events of a launch or a followed job; Job is the full record on the writing side. */
export type RemoteEventOf<Job> =
  | { type: "job"; job: Job } // created or changed state
  | { type: "log"; jobId: string; text: string } // new log text
  | { type: "transfer"; direction: "up" | "down"; file: string; done: number; total: number }
  | { type: "metrics"; jobId: string; step: number; metrics: Record<string, number> }
  | { type: "note"; message: string };

/** The one result line each command ends with (besides an error). Fields beyond these are reports for people and programs. */
export type WireResult =
  | { type: "init"; dir: string; written: string[] }
  | { type: "status"; experiment: string; name: string | null; iterations: { iteration: number; [field: string]: unknown }[] }
  | { type: "pairs"; iteration: number; counts: Record<string, number>; annotation_problems: unknown[] }
  | {
      type: "export";
      iteration: number;
      file: string;
      /** actor and judge always */ counts: Record<string, number>;
      annotation_problems: unknown[];
      [field: string]: unknown;
    }
  | { type: "validate"; ok: boolean; findings: unknown[]; records: unknown[] }
  | { type: "batch-write"; stage: WireStage; file: string; requests: number; records: number; [field: string]: unknown }
  | { type: "batch-read"; stage: WireStage; file: string; imported: number; requests: number; [field: string]: unknown }
  | { type: "batch-submit" | "batch-cancel"; ok: boolean; batches: unknown[]; missing: number; [field: string]: unknown }
  | { type: "hosts"; experiment: string; hosts: { name: string; kind: string | null; [field: string]: unknown }[] }
  | { type: "host-check"; host: string; kind: string; label: string; [field: string]: unknown }
  | { type: "launched"; what: "generation"; iteration: number; jobs: WireJob[] }
  | { type: "launched"; what: "training"; iteration: number; job: WireJob; checkpoint: string | null }
  | { type: "jobs"; experiment: string; jobs: WireJob[]; problems: unknown[] }
  | { type: "attached" | "cancelled"; job: WireJob }
  | { type: "resubmitted"; from: string; job: WireJob }
  | { type: "try"; role: string; iteration: number; template: string; cases: unknown[]; [field: string]: unknown };

/** What `batch submit` reports while it polls a provider's batch. */
export type WireBatchEvent =
  | { type: "batch-submitted"; stage: WireStage; id: string; input_file_id: string; requests: number }
  | { type: "batch-attached"; stage: WireStage; id: string | null; input_file_id: string; requests: number; status: string }
  | { type: "batch-status"; id: string; status: string; request_counts: unknown }
  | { type: "batch-retry"; what: string; reason: string; attempt: number; delayMs: number; [field: string]: unknown }
  | { type: "batch-detached"; stage: WireStage; running: string[] };

export type WireLine = ProgressEvent | RemoteEventOf<WireJob> | WireBatchEvent | WireResult;
export type WireType = WireLine["type"];

export type WireParse = { ok: true; line: WireLine } | { ok: false; reason: string };

// ---- the guard ---------------------------------------------------------------------------------

type Check = (v: unknown) => boolean;
const str: Check = (v) => typeof v === "string";
const num: Check = (v) => typeof v === "number" && Number.isFinite(v);
const bool: Check = (v) => typeof v === "boolean";
const obj: Check = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const arr: Check = (v) => Array.isArray(v);
const oneOf =
  (values: readonly string[]): Check =>
  (v) =>
    typeof v === "string" && values.includes(v);
const orNull =
  (c: Check): Check =>
  (v) =>
    v === null || c(v);
const optional =
  (c: Check): Check =>
  (v) =>
    v === undefined || c(v);
const arrayOf =
  (c: Check): Check =>
  (v) =>
    Array.isArray(v) && v.every(c);
const numbers: Check = (v) => obj(v) && Object.values(v as object).every(num);
const stage = oneOf(WIRE_STAGES);
const job: Check = (v) =>
  obj(v) &&
  str((v as WireJob).id) &&
  oneOf(WIRE_JOB_STATES)((v as WireJob).state) &&
  str((v as WireJob).host) &&
  str((v as WireJob).kind) &&
  optional(str)((v as WireJob).detail);

type Shape = Record<string, Check>;
const SHAPES: Record<WireType, Shape | ((v: Record<string, unknown>) => string | undefined)> = {
  error: { reason: oneOf(WIRE_ERROR_REASONS), message: str },
  "run-start": { experiment: str, iteration: num, stages: arrayOf(stage) },
  "stage-start": { stage, total: num, done: num },
  progress: { stage, done: num, total: num, inFlight: num, promptTokens: num, completionTokens: num, elapsedMs: num },
  "stage-end": { stage, state: oneOf(WIRE_STAGE_STATES), counts: numbers, seconds: num },
  retry: { stage, attempt: num, delayMs: num, reason: str, status: optional(num) },
  warning: { message: str },
  "run-end": { ok: bool, iteration: num, seconds: num },
  job: { job },
  log: { jobId: str, text: str },
  transfer: { direction: oneOf(["up", "down"]), file: str, done: num, total: num },
  metrics: { jobId: str, step: num, metrics: numbers },
  note: { message: str },
  "batch-submitted": { stage, id: str, input_file_id: str, requests: num },
  "batch-attached": { stage, id: orNull(str), input_file_id: str, requests: num, status: str },
  "batch-status": { id: str, status: str },
  "batch-retry": { what: str, reason: str, attempt: num, delayMs: num },
  "batch-detached": { stage, running: arrayOf(str) },
  init: { dir: str, written: arrayOf(str) },
  status: { experiment: str, name: orNull(str), iterations: arrayOf((i) => obj(i) && num((i as { iteration: unknown }).iteration)) },
  pairs: { iteration: num, counts: numbers, annotation_problems: arr },
  export: {
    iteration: num,
    file: str,
    counts: (c) => numbers(c) && num((c as { actor: unknown }).actor) && num((c as { judge: unknown }).judge),
    annotation_problems: arr,
  },
  validate: { ok: bool, findings: arr, records: arr },
  "batch-write": { stage, file: str, requests: num, records: num },
  "batch-read": { stage, file: str, imported: num, requests: num },
  "batch-submit": { ok: bool, batches: arr, missing: num },
  "batch-cancel": { ok: bool, batches: arr, missing: num },
  hosts: {
    experiment: str,
    hosts: arrayOf((h) => obj(h) && str((h as { name: unknown }).name) && orNull(str)((h as { kind: unknown }).kind)),
  },
  "host-check": { host: str, kind: str, label: str },
  launched: (v) =>
    v.what === "generation"
      ? check(v, { iteration: num, jobs: arrayOf(job) })
      : v.what === "training"
        ? check(v, { iteration: num, job, checkpoint: orNull(str) })
        : `"what" is ${JSON.stringify(v.what)}, not generation or training`,
  jobs: { experiment: str, jobs: arrayOf(job), problems: arr },
  attached: { job },
  cancelled: { job },
  resubmitted: { from: str, job },
  try: { role: str, iteration: num, template: str, cases: arr },
};

function check(v: Record<string, unknown>, shape: Shape): string | undefined {
  for (const [field, ok] of Object.entries(shape))
    if (!ok(v[field]))
      return `"${String(v.type)}" line: field "${field}" is ${v[field] === undefined ? "missing" : `wrong (${JSON.stringify(v[field])?.slice(0, 80)})`}`;
  return undefined;
}

/** Reads one stdout line of a --json command: the line, typed, or why it is not one of the contract. */
export function readWireLine(line: string): WireParse {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { ok: false, reason: "not JSON" };
  }
  if (!obj(v)) return { ok: false, reason: "not a JSON object" };
  const rec = v as Record<string, unknown>;
  const shape = typeof rec.type === "string" && Object.hasOwn(SHAPES, rec.type) ? SHAPES[rec.type as WireType] : undefined;
  if (!shape) return { ok: false, reason: `unknown line type ${JSON.stringify(rec.type)}` };
  const problem = typeof shape === "function" ? shape(rec) : check(rec, shape);
  return problem === undefined ? { ok: true, line: v as WireLine } : { ok: false, reason: problem };
}

/** The line, typed, or undefined when it is not one of the contract. */
export function parseWireLine(line: string): WireLine | undefined {
  const r = readWireLine(line);
  return r.ok ? r.line : undefined;
}

/** Whether a line read through the guard is of this type: narrows without a cast. */
export function isWireType<T extends WireType>(line: WireLine | undefined, type: T): line is Extract<WireLine, { type: T }> {
  return line?.type === type;
}
