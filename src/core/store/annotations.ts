// Human annotation events. The latest event per target wins; events are only ever appended.
import * as fs from "node:fs";
import { AnnotationSchema, type Annotation } from "../schema.js";
import { JsonlAppender, readJsonl, repairTail, type LineProblem } from "./jsonl.js";

export async function readAnnotations(file: string): Promise<{ latest: Map<string, Annotation>; problems: LineProblem[] }> {
  const latest = new Map<string, Annotation>();
  const problems: LineProblem[] = [];
  const summary = await readJsonl(
    file,
    (value, line) => {
      const parsed = AnnotationSchema.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        problems.push({ file, line, message: `${issue.path.join(".") || "record"}: ${issue.message}` });
        return;
      }
      latest.set(parsed.data.target_id, parsed.data);
    },
    { strict: false },
  );
  problems.push(...summary.problems);
  return { latest, problems };
}

/** Ids whose latest annotation says "suspicious": excluded from pair selection. */
export async function suspiciousIds(file: string): Promise<Set<string>> {
  const { latest } = await readAnnotations(file);
  const out = new Set<string>();
  for (const [id, a] of latest) if (a.label === "suspicious") out.add(id);
  return out;
}

/** Appends one event. Repairs a torn tail first so a crash elsewhere never costs an annotation. */
export function appendAnnotation(file: string, event: Annotation): void {
  if (fs.existsSync(file)) repairTail(file);
  const a = new JsonlAppender(file);
  try {
    a.append([AnnotationSchema.parse(event)]);
    a.sync();
  } finally {
    a.close();
  }
}
