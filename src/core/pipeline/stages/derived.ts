// The stages that compute from the files alone, no model calls: pairs from the records and the
// annotations, export from the pairs.
import { readAnnotations, unreadableAnnotationsError } from "../../store/annotations.js";
import type { RunContext } from "../context.js";
import { buildDpo, exportStamp, surrogateWarning, writeDpo } from "./export.js";
import { computePairs, writePairs } from "./pairs.js";

export async function runPairs(ctx: RunContext): Promise<Record<string, number>> {
  const res = await computePairs(ctx.store.dir, ctx.settings, ctx.signal);
  // A line that cannot be read may be a person's flag: no pairs without it (see `metajudge pairs`).
  if (res.annotationProblems.length > 0) {
    for (const p of res.annotationProblems) ctx.emit({ type: "warning", message: `${p.file}:${p.line}: ${p.message}` });
    throw unreadableAnnotationsError(res.annotationProblems, ctx.store.dir);
  }
  writePairs(ctx.store.dir, res);
  return res.counts;
}

export async function runExport(ctx: RunContext): Promise<Record<string, number>> {
  const build = await buildDpo({
    iterDir: ctx.store.dir,
    prompts: ctx.prompts.prompts,
    actorTemplate: ctx.templates.actor.template,
    judgeTemplate: ctx.templates.judge.template,
    settings: ctx.settings,
    signal: ctx.signal,
  });
  const output = writeDpo(ctx.store.dir, build.records);
  Object.assign(ctx.stageInfo("export"), exportStamp(build, output));
  if (build.repaired.records > 0) ctx.emit({ type: "warning", message: surrogateWarning(build.repaired) });
  // The pairs this data comes from may lack a flag such a line carries (pairs computed with --allow-unreadable-annotations).
  for (const p of (await readAnnotations(ctx.store.file("annotations"))).problems) {
    ctx.emit({ type: "warning", message: `${p.file}:${p.line}: ${p.message}; the exported pairs may include what it flags` });
  }
  return build.counts;
}
