// The CLI's commands: argument handling is in main.ts, the work is in src/core.
import * as fs from "node:fs";
import * as path from "node:path";
import { checkConfigText, CONFIG_FILE, iterationSettings, loadConfig, resolveIn } from "../core/config.js";
import { MetajudgeError } from "../core/errors.js";
import { initExperiment, listIterations } from "../core/experiment.js";
import type { ProgressEvent } from "../core/pipeline/events.js";
import { runIteration, stagesUntil, type LlmStageName } from "../core/pipeline/run.js";
import { importStageBatch, refuseOwnFile, writeStageBatch } from "../core/pipeline/batch.js";
import { openRun } from "../core/pipeline/context.js";
import { computePairs, writePairs } from "../core/pipeline/stages/pairs.js";
import { buildDpo, exportStaleness, exportStamp, surrogateWarning, writeDpo } from "../core/pipeline/stages/export.js";
import { checkPrompts, loadPrompts } from "../core/prompts.js";
import { ROLES, STAGES, type StageInfo, type StageName } from "../core/schema.js";
import { IterationStore, iterationDir } from "../core/store/iteration.js";
import { writingIteration } from "../core/pipeline/writer.js";
import { describeHolder, lockStatus } from "../core/store/lock.js";
import { loadTemplate, parseTemplate } from "../core/templates.js";
import { humanPrinter, jsonPrinter } from "./progress.js";
import { readAnnotations, unreadableAnnotationsError } from "../core/store/annotations.js";
import type { WireResult } from "../shared/cli-wire.js";
import { annotationWarning, checkIterationRecords, formatRecordCheck, type IterationRecordCheck } from "./record-report.js";

/** A result line: with --json, one of the lines declared in src/shared/cli-wire.ts. */
const out = (json: boolean, value: WireResult, human: string): void => {
  process.stdout.write(json ? JSON.stringify(value) + "\n" : human);
};

export function cmdInit(dir: string, json: boolean): number {
  const written = initExperiment(dir);
  out(
    json,
    { type: "init", dir, written },
    `created ${dir}: ${written.join(", ")}\nnext: edit ${path.join(dir, CONFIG_FILE)} (endpoint), then \`metajudge run ${dir} --iteration 1\`\n`,
  );
  return 0;
}

export interface RunArgs {
  dir: string;
  iteration: number;
  stage?: StageName;
  until?: StageName;
  json: boolean;
  allowChangedInputs: boolean;
  /** Aborted when the output's reader has gone: the run stops as if cancelled. */
  stop?: AbortSignal;
}

export async function cmdRun(a: RunArgs): Promise<number> {
  const stages = a.stage ? [a.stage] : a.until ? stagesUntil(a.until) : [...STAGES];
  const print = a.json ? jsonPrinter(process.stdout) : humanPrinter(process.stderr);
  const ctl = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    // The first Ctrl-C finishes cleanly (manifest saved, records flushed); the second one does not wait.
    if (interrupts > 1) process.exit(130);
    process.stderr.write("\nstopping after the calls in flight are cancelled… (Ctrl-C again to quit at once)\n");
    ctl.abort(new MetajudgeError("cancelled", "cancelled"));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const onStop = (): void => ctl.abort(new MetajudgeError("cancelled", "cancelled"));
  if (a.stop?.aborted) onStop();
  a.stop?.addEventListener("abort", onStop);
  try {
    await runIteration({
      experimentDir: a.dir,
      iteration: a.iteration,
      stages,
      emit: (e: ProgressEvent) => print(e),
      signal: ctl.signal,
      allowChangedInputs: a.allowChangedInputs,
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    a.stop?.removeEventListener("abort", onStop);
  }
  return 0;
}

export async function cmdStatus(dir: string, json: boolean): Promise<number> {
  const config = loadConfig(dir);
  const iterations = listIterations(dir).map((t) => {
    const iterDir = path.join(dir, "iterations", String(t));
    const m = new IterationStore(iterDir).readManifest();
    return { iteration: t, manifest: m, stale: exportStaleness(iterDir, m) };
  });
  if (json) {
    // The export's stamps are for comparing, not reading: its entry says stale or not instead.
    const stagesOf = (i: (typeof iterations)[number]): Record<string, unknown> => {
      const stages: Record<string, unknown> = { ...(i.manifest?.stages ?? {}) };
      const ex = i.manifest?.stages.export;
      if (ex) {
        const { inputs: _inputs, output: _output, ...rest } = ex;
        stages.export = {
          ...rest,
          ...(ex.state === "done" ? { stale: i.stale !== null } : {}),
          ...(i.stale ? { stale_reason: i.stale } : {}),
        };
      }
      return stages;
    };
    out(
      true,
      {
        type: "status",
        experiment: dir,
        name: config.name ?? null,
        iterations: iterations.map((i) => ({
          iteration: i.iteration,
          models: i.manifest?.models,
          stages: stagesOf(i),
          usage: i.manifest?.usage,
          lock: lockJson(iterationDir(dir, i.iteration)),
        })),
      },
      "",
    );
    return 0;
  }
  let s = `${config.name ?? path.basename(path.resolve(dir))}: ${iterations.length} iteration${iterations.length === 1 ? "" : "s"}\n`;
  if (iterations.length === 0) s += `  none yet: \`metajudge run ${dir} --iteration 1\`\n`;
  for (const { iteration, manifest, stale } of iterations) {
    s += `iteration ${iteration}${manifest ? ` (actor ${manifest.models.actor}, ${manifest.usage.requests.toLocaleString("en-US")} requests, ${(manifest.usage.prompt_tokens + manifest.usage.completion_tokens).toLocaleString("en-US")} tokens)` : " (no manifest)"}\n`;
    s += lockLine(iterationDir(dir, iteration));
    for (const st of STAGES) {
      const info = manifest?.stages[st];
      if (!info) continue;
      const c = info.counts;
      const progress =
        c.expected !== undefined && c.records !== undefined
          ? ` ${c.records.toLocaleString("en-US")}/${c.expected.toLocaleString("en-US")}`
          : "";
      const extra = Object.entries(c)
        .filter(([k, v]) => k !== "records" && k !== "expected" && v !== 0)
        .map(([k, v]) => `${k} ${v.toLocaleString("en-US")}`)
        .join(", ");
      const state = st === "export" && stale ? "stale" : info.state;
      const note = info.error ?? (st === "export" ? stale : null);
      s += `  ${st.padEnd(9)} ${state.padEnd(9)}${progress}${extra ? `  (${extra})` : ""}${note ? `\n            ${note}` : ""}\n`;
    }
  }
  process.stdout.write(s);
  return 0;
}

/** Stage states alone cannot tell a running iteration from a finished one: the lock says who is writing it. */
function lockLine(iterDir: string): string {
  const l = lockStatus(iterDir);
  if (l.state === "held") return `  locked    by ${describeHolder(l.holder)}${l.here ? "" : ", on another host"}\n`;
  if (l.state === "stale") return `  stale lock of pid ${l.holder.pid} (gone); the next run takes it over\n`;
  if (l.state === "unreadable") return `  locked    ${l.file}: ${l.message}\n`;
  return "";
}

function lockJson(iterDir: string): object | null {
  const l = lockStatus(iterDir);
  if (l.state === "free") return null;
  return l.state === "unreadable" ? { state: "unreadable", file: l.file } : { state: l.state, ...l.holder };
}

/** An iteration folder is <experiment>/iterations/<t>. */
function locateIteration(iterDir: string): { experimentDir: string; t: number } {
  const abs = path.resolve(iterDir);
  const t = Number(path.basename(abs));
  const parent = path.dirname(abs);
  if (!Number.isInteger(t) || t < 1 || path.basename(parent) !== "iterations") {
    throw new MetajudgeError("badInput", `${iterDir}: not an iteration folder (expected <experiment>/iterations/<t>)`);
  }
  if (!fs.existsSync(abs)) throw new MetajudgeError("badInput", `${iterDir}: no such folder`);
  return { experimentDir: path.dirname(parent), t };
}

function recordStage(
  iterDir: string,
  stage: StageName,
  counts: Record<string, number>,
  seconds: number,
  extra: Partial<StageInfo> = {},
): void {
  const store = new IterationStore(iterDir);
  const m = store.readManifest();
  if (!m) return;
  const now = new Date().toISOString();
  m.stages[stage] = { ...extra, state: "done", started_at: now, finished_at: now, seconds, counts };
  m.updated_at = now;
  store.writeManifest(m);
}

/** Holding the iteration's lock: pairs, export and batch write files a run also writes. */
function locked(iterDir: string, json: boolean, fn: () => Promise<number>): Promise<number> {
  return writingIteration(iterDir, { emit: json ? jsonPrinter(process.stdout) : humanPrinter(process.stderr) }, fn);
}

export function cmdPairs(iterDir: string, json: boolean, allowUnreadableAnnotations = false): Promise<number> {
  locateIteration(iterDir);
  return locked(iterDir, json, () => pairsLocked(iterDir, json, allowUnreadableAnnotations));
}

async function pairsLocked(iterDir: string, json: boolean, allowUnreadableAnnotations: boolean): Promise<number> {
  const { experimentDir, t } = locateIteration(iterDir);
  const settings = iterationSettings(loadConfig(experimentDir), t);
  const t0 = Date.now();
  const res = await computePairs(iterDir, settings);
  // A line that cannot be read may be a person's flag: no pairs without it unless asked.
  if (res.annotationProblems.length > 0 && !allowUnreadableAnnotations) {
    process.stderr.write(annotationWarning(res.annotationProblems, "the flags they may carry would be lost"));
    throw unreadableAnnotationsError(res.annotationProblems, iterDir);
  }
  writePairs(iterDir, res);
  recordStage(iterDir, "pairs", res.counts, (Date.now() - t0) / 1000);
  const counts = Object.entries(res.counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  process.stderr.write(annotationWarning(res.annotationProblems, "the flags they may carry were not applied to these pairs"));
  out(
    json,
    { type: "pairs", iteration: t, counts: res.counts, annotation_problems: res.annotationProblems },
    `iteration ${t}: ${res.actor.length} actor pairs, ${res.judge.length} judge pairs (${counts})\n`,
  );
  return 0;
}

export function cmdExport(iterDir: string, json: boolean, allowEmpty = false): Promise<number> {
  locateIteration(iterDir);
  return locked(iterDir, json, () => exportLocked(iterDir, json, allowEmpty));
}

async function exportLocked(iterDir: string, json: boolean, allowEmpty: boolean): Promise<number> {
  const { experimentDir, t } = locateIteration(iterDir);
  const config = loadConfig(experimentDir);
  const settings = iterationSettings(config, t);
  const prompts = await loadPrompts(resolveIn(experimentDir, config.prompts));
  const t0 = Date.now();
  const build = await buildDpo({
    iterDir,
    prompts: prompts.prompts,
    actorTemplate: (await loadTemplate(resolveIn(experimentDir, config.templates.actor), "actor")).template,
    judgeTemplate: (await loadTemplate(resolveIn(experimentDir, config.templates.judge), "judge")).template,
    settings,
    allowEmpty,
  });
  const { counts } = build;
  const output = writeDpo(iterDir, build.records);
  recordStage(iterDir, "export", counts, (Date.now() - t0) / 1000, exportStamp(build, output));
  if (build.repaired.records > 0) humanPrinter(process.stderr)({ type: "warning", message: surrogateWarning(build.repaired) });
  const file = new IterationStore(iterDir).file("dpo");
  const repaired = build.repaired.records > 0 ? { surrogates_replaced_in: build.repaired.sourceIds } : {};
  const { problems: annotationProblems } = await readAnnotations(new IterationStore(iterDir).file("annotations"));
  process.stderr.write(
    annotationWarning(
      annotationProblems,
      "flags they may carry are missing from the pairs this data comes from; fix them and run `metajudge pairs`",
    ),
  );
  out(
    json,
    { type: "export", iteration: t, file, counts, ...repaired, annotation_problems: annotationProblems },
    `wrote ${file}: ${counts.actor} actor + ${counts.judge} judge examples\n`,
  );
  return 0;
}

interface Finding {
  file: string;
  line: number;
  column: number;
  severity: "error" | "warning";
  message: string;
}

export async function cmdValidate(dir: string, json: boolean): Promise<number> {
  const findings: Finding[] = [];
  let records: IterationRecordCheck[] = [];
  const configFile = path.join(dir, CONFIG_FILE);
  let text: string | undefined;
  try {
    text = fs.readFileSync(configFile, "utf8");
  } catch {
    findings.push({ file: configFile, line: 0, column: 0, severity: "error", message: "not found" });
  }
  const { config, problems } = text === undefined ? { config: undefined, problems: [] } : checkConfigText(text, configFile);
  for (const p of problems)
    findings.push({ file: p.file, line: p.line ?? 1, column: p.column ?? 1, severity: "error", message: p.message });
  if (config) {
    for (const role of ROLES) {
      const file = resolveIn(dir, config.templates[role]);
      let source: string;
      try {
        source = fs.readFileSync(file, "utf8");
      } catch {
        findings.push({ file, line: 0, column: 0, severity: "error", message: `${role} template not found` });
        continue;
      }
      for (const p of parseTemplate(source, role, file).problems)
        findings.push({ file, line: p.line, column: p.column, severity: p.severity, message: p.message });
    }
    const { set, problems: pp } = await checkPrompts(resolveIn(dir, config.prompts));
    for (const p of pp) findings.push({ file: p.file, line: p.line, column: 1, severity: "error", message: p.message });
    // Without a readable prompt set, responses are not checked against it.
    records = await checkIterationRecords(dir, set ? new Set(set.prompts.map((p) => p.id)) : null);
  }
  const recordProblems = records.reduce((n, c) => n + c.problems.length, 0);
  const errors = findings.filter((f) => f.severity === "error").length;
  if (json) {
    out(true, { type: "validate", ok: errors === 0 && recordProblems === 0, findings, records }, "");
  } else {
    for (const f of findings) process.stdout.write(`${f.file}${f.line ? `:${f.line}:${f.column}` : ""}: ${f.severity}: ${f.message}\n`);
    process.stdout.write(
      errors === 0
        ? `${dir}: config, templates and prompts are valid${findings.length ? ` (${findings.length} warning${findings.length > 1 ? "s" : ""})` : ""}\n`
        : `${errors} error${errors > 1 ? "s" : ""}\n`,
    );
    for (const c of records) process.stdout.write(formatRecordCheck(c));
  }
  return errors === 0 && recordProblems === 0 ? 0 : 1;
}

export interface BatchArgs {
  dir: string;
  iteration: number;
  stage: LlmStageName;
  file: string;
  json: boolean;
  /** As for run: a batch joined after a sampling or rubric change is allowed, and recorded. */
  allowChangedInputs?: boolean;
}

export function cmdBatch(verb: "write" | "read", a: BatchArgs): Promise<number> {
  return locked(iterationDir(a.dir, a.iteration), a.json, () => batchLocked(verb, a));
}

async function batchLocked(verb: "write" | "read", a: BatchArgs): Promise<number> {
  const print = a.json ? jsonPrinter(process.stdout) : humanPrinter(process.stderr);
  if (verb === "write") refuseOwnFile(a.dir, loadConfig(a.dir), a.file);
  const ctx = await openRun({
    experimentDir: a.dir,
    iteration: a.iteration,
    emit: print,
    signal: new AbortController().signal,
    allowChangedInputs: a.allowChangedInputs,
  });
  if (verb === "write") {
    const r = await writeStageBatch(ctx, a.stage, a.file);
    out(
      a.json,
      { type: "batch-write", stage: a.stage, file: a.file, ...r },
      `wrote ${a.file}: ${r.requests} requests for ${r.records} ${a.stage} records\n`,
    );
    return 0;
  }
  const r = await importStageBatch(ctx, a.stage, a.file);
  const info = ctx.stageInfo(a.stage);
  info.counts = { ...info.counts, batch_imported: (info.counts.batch_imported ?? 0) + r.imported };
  ctx.saveManifest();
  out(
    a.json,
    { type: "batch-read", stage: a.stage, file: a.file, ...r },
    `${a.file}: ${r.imported} records from ${r.requests} results` +
      (r.failed ? `, ${r.failed} failed` : "") +
      (r.unknown ? `, ${r.unknown} not needed` : "") +
      (r.malformed.length ? `, ${r.malformed.length} malformed lines` : "") +
      (r.missing
        ? `; ${r.missing} requests still missing: \`metajudge batch write\` again asks for just those`
        : "; the stage is complete") +
      "\n",
  );
  return 0;
}
