// How the CLI shows problems in record and annotation files: file:line for each, a count per kind,
// and a listing capped per kind on a terminal (--json carries every one).
import * as path from "node:path";
import { listIterations } from "../core/experiment.js";
import type { LineProblem } from "../core/store/jsonl.js";
import { RECORD_PROBLEM_KINDS, validateRecords, type RecordCheck } from "../core/store/validate-records.js";

/** Problems listed per kind in text output; the rest are counted. */
export const LISTED_PER_KIND = 20;

export interface IterationRecordCheck extends RecordCheck {
  iteration: number;
}

export async function checkIterationRecords(experimentDir: string, promptIds: ReadonlySet<string> | null): Promise<IterationRecordCheck[]> {
  const out: IterationRecordCheck[] = [];
  for (const t of listIterations(experimentDir)) {
    out.push({ iteration: t, ...(await validateRecords(path.join(experimentDir, "iterations", String(t)), promptIds)) });
  }
  return out;
}

export function formatRecordCheck(c: IterationRecordCheck): string {
  const r = c.records;
  const head = `iteration ${c.iteration}: ${r.responses} responses, ${r.judgements} judgements, ${r.battles} battles, ${r.annotations} annotations`;
  if (c.problems.length === 0) return `${head}: no problems\n`;
  let s = `${head}: ${c.problems.length} problem${c.problems.length === 1 ? "" : "s"}\n`;
  for (const kind of RECORD_PROBLEM_KINDS) {
    const n = c.counts[kind];
    if (n === 0) continue;
    s += `  ${kind}: ${n}\n`;
    let listed = 0;
    for (const p of c.problems) {
      if (p.kind !== kind) continue;
      if (listed++ === LISTED_PER_KIND) break;
      s += `    ${p.file}:${p.line}: ${p.message}\n`;
    }
    if (n > LISTED_PER_KIND) s += `    … and ${n - LISTED_PER_KIND} more ${kind} (--json lists every one)\n`;
  }
  return s;
}

/** Annotation lines that could not be read, as warnings on stderr: each may be a person's flag. */
export function annotationWarning(problems: readonly LineProblem[], consequence: string): string {
  if (problems.length === 0) return "";
  let s = `warning: ${problems.length} annotation line${problems.length === 1 ? "" : "s"} cannot be read; ${consequence}:\n`;
  for (const p of problems) s += `  ${p.file}:${p.line}: ${p.message}\n`;
  return s;
}
