// Human annotation events. The latest event per target wins; events are only ever appended.
// A line that cannot be read is never passed over in silence: it may be a person's flag, and a
// flag lost means a suspicious item back in the training data. Every reader returns those lines.
import * as fs from "node:fs";
import { MetajudgeError } from "../errors.js";
import { AnnotationSchema, type Annotation } from "../schema.js";
import { JsonlAppender, readJsonl, repairTail, type LineProblem, type TailRepair } from "./jsonl.js";

export interface AnnotationRead {
  latest: Map<string, Annotation>;
  /** Lines that are not a readable annotation, each with file:line and why; their events are not applied. */
  problems: LineProblem[];
  /** Readable events. */
  events: number;
}

const NOT_APPLIED = "this annotation is not applied until the line is fixed";

export async function readAnnotations(file: string): Promise<AnnotationRead> {
  const latest = new Map<string, Annotation>();
  const problems: LineProblem[] = [];
  let events = 0;
  const summary = await readJsonl(
    file,
    (value, line) => {
      const parsed = AnnotationSchema.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const target =
          typeof value === "object" && value !== null && typeof (value as Record<string, unknown>).target_id === "string"
            ? ` (target ${JSON.stringify((value as Record<string, unknown>).target_id)})`
            : "";
        problems.push({ file, line, message: `${issue.path.join(".") || "record"}: ${issue.message}${target}; ${NOT_APPLIED}` });
        return;
      }
      events++;
      latest.set(parsed.data.target_id, parsed.data);
    },
    { strict: false },
  );
  for (const p of summary.problems) problems.push({ ...p, message: `${p.message}; ${NOT_APPLIED}` });
  problems.sort((a, b) => a.line - b.line);
  return { latest, problems, events };
}

/** Ids whose latest annotation says "suspicious" (excluded from pair selection), and the lines that could not be read. */
export async function readFlags(file: string): Promise<{ flagged: Set<string>; problems: LineProblem[] }> {
  const { latest, problems } = await readAnnotations(file);
  const flagged = new Set<string>();
  for (const [id, a] of latest) if (a.label === "suspicious") flagged.add(id);
  return { flagged, problems };
}

/** Ids whose latest annotation says "suspicious". Prefer readFlags, which also returns the unreadable lines. */
export async function suspiciousIds(file: string): Promise<Set<string>> {
  return (await readFlags(file)).flagged;
}

/**
 * Why pairs are not computed while annotation lines are unreadable: any of them may be a flag, and
 * pairs computed without it would put a flagged item into training data. One line, located at the
 * first such line; the caller lists them all.
 */
export function unreadableAnnotationsError(problems: readonly LineProblem[], iterDir: string): MetajudgeError {
  const first = problems[0]!;
  const n = problems.length;
  return new MetajudgeError(
    "badInput",
    `${n === 1 ? "an annotation line" : `${n} annotation lines`} cannot be read (${n === 1 ? "" : "this one: "}${first.message.replace(`; ${NOT_APPLIED}`, "")}), so a person's flag may be lost; pairs were not computed. ` +
      (n === 1 ? "" : "`metajudge validate` and the editor's Problems view list them all. ") +
      `Fix or remove ${n === 1 ? "that line" : "those lines"}, or run \`metajudge pairs ${iterDir} --allow-unreadable-annotations\` to compute pairs without them`,
    { file: first.file, line: first.line },
  );
}

/**
 * Appends one event. Repairs a torn tail first so a crash elsewhere never costs an annotation; the
 * repair is returned (torn bytes moved to `<file>.torn`) so the caller can say so.
 */
export function appendAnnotation(file: string, event: Annotation): TailRepair | null {
  const repaired = fs.existsSync(file) ? repairTail(file) : null;
  const a = new JsonlAppender(file);
  try {
    a.append([AnnotationSchema.parse(event)]);
    a.sync();
  } finally {
    a.close();
  }
  return repaired;
}
