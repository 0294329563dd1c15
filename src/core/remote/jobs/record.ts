// What we know about a remote job, kept beside the experiment so a restarted CLI or a reloaded window
// finds every job again: <experiment>/jobs/<id>.json (replaced atomically) and <id>.log (our copy of
// the job's log, appended as it is followed).
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { MetajudgeError } from "../../errors.js";
import { readIfExists, writeFileAtomic } from "../../fs-atomic.js";
import { JOB_STATES } from "../types.js";
import { isJobId } from "./ids.js";

export const JOB_KINDS = ["generate-serve", "generate-batch", "train", "command"] as const;
export type JobKind = (typeof JOB_KINDS)[number];

const Iso = z.string().min(1);

const JobRecordShape = z.object({
  format: z.literal(1),
  id: z.string().refine(isJobId, "a job id is lower-case letters, digits and '-'"),
  kind: z.enum(JOB_KINDS),
  title: z.string(),
  host: z.string().min(1).describe("Host profile name"),
  executor: z.enum(["ssh", "slurm", "ray", "local"]),
  iteration: z.number().int().min(1).optional(),
  stage: z.string().optional(),
  created_at: Iso,
  updated_at: Iso,
  submitted_at: Iso.optional(),
  started_at: Iso.optional(),
  finished_at: Iso.optional(),
  state: z.enum(JOB_STATES),
  detail: z.string().optional(),
  exit_code: z.number().int().nullable().optional(),
  remote: z
    .object({
      dir: z.string(),
      pid: z.number().int().optional(),
      slurmId: z.string().optional(),
      raySubmissionId: z.string().optional(),
      workdir: z.string().optional(),
    })
    .loose(),
  log: z.object({
    remote: z.string().describe("The log on the host"),
    local: z.string().describe("Our copy, relative to the experiment folder"),
    offset: z.number().int().min(0).describe("Bytes of the remote log already read"),
    skipped: z.number().int().min(0).describe("Bytes of the remote log never copied (a huge log is followed by its tail)"),
  }),
  node: z.string().optional(),
  inputs: z
    .array(z.object({ local: z.string(), remote: z.string(), sha256: z.string(), bytes: z.number().int().min(0) }).loose())
    .optional(),
  outputs: z.record(z.string(), z.string()).optional(),
  finalized: z.boolean().optional(),
  error: z.string().optional(),
  metrics: z.record(z.string(), z.unknown()).optional(),
});
/** Loose: launch recipes add fields of their own, which are kept. */
export const JobRecordSchema = JobRecordShape.loose();
export type JobRecord = z.infer<typeof JobRecordSchema>;
type JobFields = z.infer<typeof JobRecordShape>;

/** Fields a caller does not fill in: the store sets them. */
export type NewJobRecord = Omit<JobFields, "format" | "created_at" | "updated_at" | "log"> & { log?: Partial<JobFields["log"]> } & Record<
    string,
    unknown
  >;
/** A shallow patch: nested objects (remote, log, outputs, metrics) are replaced whole. */
export type JobPatch = Partial<Omit<JobFields, "format" | "id" | "created_at">> & Record<string, unknown>;

export interface RecordProblem {
  file: string;
  message: string;
}

export class JobStore {
  readonly dir: string;

  constructor(readonly experimentDir: string) {
    this.dir = path.join(experimentDir, "jobs");
  }

  recordPath(id: string): string {
    return path.join(this.dir, `${checkId(id)}.json`);
  }

  /** Our copy of the job's log, absolute. */
  logPath(id: string): string {
    return path.join(this.dir, `${checkId(id)}.log`);
  }

  create(input: NewJobRecord, now: Date = new Date()): JobRecord {
    const file = this.recordPath(input.id);
    if (fs.existsSync(file)) throw new MetajudgeError("internal", `${file}: a job with id ${input.id} already exists`, { file });
    const at = now.toISOString();
    const record = parseRecord(
      {
        ...input,
        format: 1,
        created_at: at,
        updated_at: at,
        log: {
          remote: path.posix.join(input.remote.dir, "log"),
          local: path.posix.join("jobs", `${input.id}.log`),
          offset: 0,
          skipped: 0,
          ...input.log,
        },
      },
      file,
    );
    fs.mkdirSync(this.dir, { recursive: true });
    this.write(record);
    return record;
  }

  /** undefined when there is no such job; a corrupt record throws badInput naming the file. */
  get(id: string): JobRecord | undefined {
    const file = this.recordPath(id);
    const text = readIfExists(file);
    return text === null ? undefined : parseText(text, file);
  }

  update(id: string, patch: JobPatch, now: Date = new Date()): JobRecord {
    const current = this.get(id);
    if (!current) throw new MetajudgeError("badInput", `no job ${id} in ${this.dir}`, { file: this.recordPath(id) });
    const next = parseRecord(
      { ...current, ...patch, id: current.id, format: 1, created_at: current.created_at, updated_at: now.toISOString() },
      this.recordPath(id),
    );
    this.write(next);
    return next;
  }

  /** Every readable record, oldest id first, and what was wrong with the others (left on disk untouched). */
  scan(): { records: JobRecord[]; problems: RecordProblem[] } {
    const records: JobRecord[] = [];
    const problems: RecordProblem[] = [];
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { records, problems };
      throw err;
    }
    for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
      const file = path.join(this.dir, name);
      try {
        const record = parseText(fs.readFileSync(file, "utf8"), file);
        if (`${record.id}.json` !== name)
          throw new MetajudgeError("badInput", `${file}: holds job ${record.id}, not ${name.slice(0, -5)}`, { file });
        records.push(record);
      } catch (err) {
        problems.push({ file, message: err instanceof Error ? err.message : String(err) });
      }
    }
    return { records, problems };
  }

  list(): JobRecord[] {
    return this.scan().records;
  }

  /** Appends to our copy of the log. */
  appendLog(id: string, data: Buffer | string): void {
    fs.mkdirSync(this.dir, { recursive: true });
    fs.appendFileSync(this.logPath(id), data);
  }

  private write(record: JobRecord): void {
    writeFileAtomic(this.recordPath(record.id), JSON.stringify(record, null, 2) + "\n");
  }
}

function checkId(id: string): string {
  if (!isJobId(id)) throw new MetajudgeError("badInput", `"${id}" is not a job id (lower-case letters, digits and '-')`);
  return id;
}

function parseText(text: string, file: string): JobRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new MetajudgeError("badInput", `${file}: not valid JSON (${(err as Error).message}); fix or remove the file`, { file });
  }
  return parseRecord(value, file);
}

function parseRecord(value: unknown, file: string): JobRecord {
  const parsed = JobRecordSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join(".") : "record";
  throw new MetajudgeError("badInput", `${file}: ${where}: ${issue?.message ?? "invalid"}; fix or remove the file`, { file });
}
