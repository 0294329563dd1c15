// Checks an iteration's record files against the data contract and against each other, streaming
// each file once: what a reader would skip or misread (a repeated id, a torn or malformed line, a
// missing field, an id naming nothing) is named by file:line, so a person can fix it before it
// reaches training data. Nothing is changed on disk.
import { readAnnotations } from "./annotations.js";
import { IterationStore } from "./iteration.js";
import { readJsonl, type LineProblem } from "./jsonl.js";

export const RECORD_PROBLEM_KINDS = [
  "duplicate_id",
  "torn_line",
  "malformed_line",
  "missing_field",
  "unknown_id",
  "self_battle",
  "prompt_mismatch",
  "unreadable_annotation",
] as const;
export type RecordProblemKind = (typeof RECORD_PROBLEM_KINDS)[number];

export interface RecordProblem {
  kind: RecordProblemKind;
  file: string;
  line: number;
  message: string;
  /** For a repeated id: the line of its first record, the one that counts. */
  first_line?: number;
}

export interface RecordCheck {
  iterDir: string;
  records: { responses: number; judgements: number; battles: number; annotations: number };
  problems: RecordProblem[];
  counts: Record<RecordProblemKind, number>;
}

type Rec = Record<string, unknown>;

/** The first required field that is missing or of the wrong type, as a sentence; null when all are fine. */
type FieldCheck = (r: Rec) => string | null;

const isStr = (v: unknown): v is string => typeof v === "string";
const field = (r: Rec, k: string, ok: (v: unknown) => boolean, want: string): string | null =>
  !(k in r) ? `"${k}" is missing` : ok(r[k]) ? null : `"${k}" must be ${want}`;
const string =
  (k: string): FieldCheck =>
  (r) =>
    field(r, k, isStr, "a string");
const index: FieldCheck = (r) => field(r, "index", (v) => typeof v === "number" && Number.isInteger(v) && v >= 0, "a non-negative integer");
const score: FieldCheck = (r) => field(r, "score", (v) => v === null || (typeof v === "number" && Number.isFinite(v)), "a number or null");
const winner: FieldCheck = (r) => field(r, "winner", (v) => v === null || v === "first" || v === "second", `"first", "second" or null`);

const REQUIRED = {
  responses: [string("id"), string("prompt_id"), index, string("text")],
  judgements: [string("id"), string("prompt_id"), string("response_id"), index, string("text"), score],
  metaJudgements: [
    string("id"),
    string("prompt_id"),
    string("response_id"),
    string("first_id"),
    string("second_id"),
    string("text"),
    winner,
  ],
} as const;

function firstMissing(r: Rec, checks: readonly FieldCheck[]): string | null {
  for (const c of checks) {
    const why = c(r);
    if (why !== null) return why;
  }
  return null;
}

const q = (s: string): string => JSON.stringify(s);
const STOPS = "`metajudge run`, `pairs` and `export` stop at this line until it is fixed or removed";

export async function validateRecords(iterDir: string, promptIds: ReadonlySet<string> | null, signal?: AbortSignal): Promise<RecordCheck> {
  const store = new IterationStore(iterDir);
  const problems: RecordProblem[] = [];
  const counts = Object.fromEntries(RECORD_PROBLEM_KINDS.map((k) => [k, 0])) as Record<RecordProblemKind, number>;
  const add = (p: RecordProblem): void => {
    counts[p.kind]++;
    problems.push(p);
  };
  const records = { responses: 0, judgements: 0, battles: 0, annotations: 0 };

  /** Streams one file: lines that are not a record are problems; `onRecord` sees records with their required fields. */
  const scan = async (kind: keyof typeof REQUIRED, onRecord: (r: Rec, line: number, file: string) => void): Promise<void> => {
    const file = store.file(kind);
    const summary = await readJsonl(
      file,
      (v, line) => {
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
          add({ kind: "malformed_line", file, line, message: `not a JSON object; ${STOPS}` });
          return;
        }
        const r = v as Rec;
        const why = firstMissing(r, REQUIRED[kind]);
        if (why !== null) {
          add({ kind: "missing_field", file, line, message: `${why}; ${STOPS}` });
          return;
        }
        onRecord(r, line, file);
      },
      { strict: false, signal },
    );
    for (const p of summary.problems) add(lineProblem(p, summary.tornTail && p === summary.problems.at(-1)));
  };

  // Responses: id -> [line, prompt_id]. Each later file is checked against the one before it.
  const responses = new Map<string, { line: number; prompt: string }>();
  await scan("responses", (r, line, file) => {
    const id = r.id as string;
    const prompt = r.prompt_id as string;
    const first = responses.get(id);
    if (first !== undefined) return add(duplicate(file, line, id, first.line));
    responses.set(id, { line, prompt });
    records.responses++;
    if (promptIds !== null && !promptIds.has(prompt))
      add({ kind: "unknown_id", file, line, message: `response ${q(id)} names prompt ${q(prompt)}, which is not in the prompt set` });
  });

  const judgements = new Map<string, number>();
  await scan("judgements", (r, line, file) => {
    const id = r.id as string;
    const first = judgements.get(id);
    if (first !== undefined) return add(duplicate(file, line, id, first));
    judgements.set(id, line);
    records.judgements++;
    checkResponse(file, line, "judgement", id, r.response_id as string, r.prompt_id as string);
  });

  const battles = new Map<string, number>();
  await scan("metaJudgements", (r, line, file) => {
    const id = r.id as string;
    const first = battles.get(id);
    if (first !== undefined) return add(duplicate(file, line, id, first));
    battles.set(id, line);
    records.battles++;
    checkResponse(file, line, "battle", id, r.response_id as string, r.prompt_id as string);
    const a = r.first_id as string;
    const b = r.second_id as string;
    if (a === b) add({ kind: "self_battle", file, line, message: `battle ${q(id)} puts judgement ${q(a)} against itself` });
    for (const j of a === b ? [a] : [a, b]) {
      if (!judgements.has(j))
        add({ kind: "unknown_id", file, line, message: `battle ${q(id)} names judgement ${q(j)}, which is not in judgements.jsonl` });
    }
  });

  function checkResponse(file: string, line: number, what: string, id: string, responseId: string, promptId: string): void {
    const resp = responses.get(responseId);
    if (resp === undefined) {
      add({ kind: "unknown_id", file, line, message: `${what} ${q(id)} names response ${q(responseId)}, which is not in responses.jsonl` });
    } else if (resp.prompt !== promptId) {
      add({
        kind: "prompt_mismatch",
        file,
        line,
        message: `${what} ${q(id)} names prompt ${q(promptId)}, but its response ${q(responseId)} answers prompt ${q(resp.prompt)}`,
      });
    }
  }

  const ann = await readAnnotations(store.file("annotations"));
  records.annotations = ann.events;
  for (const p of ann.problems) add({ kind: "unreadable_annotation", file: p.file, line: p.line, message: p.message });

  return { iterDir, records, problems, counts };
}

function duplicate(file: string, line: number, id: string, firstLine: number): RecordProblem {
  return {
    kind: "duplicate_id",
    file,
    line,
    first_line: firstLine,
    message: `id ${q(id)} repeats line ${firstLine}; the first record counts and this one is ignored`,
  };
}

function lineProblem(p: LineProblem, torn: boolean): RecordProblem {
  return torn
    ? {
        kind: "torn_line",
        file: p.file,
        line: p.line,
        message: `${p.message}; \`metajudge run\` moves it to ${p.file}.torn and redoes that work`,
      }
    : { kind: "malformed_line", file: p.file, line: p.line, message: `${p.message}; ${STOPS}` };
}
