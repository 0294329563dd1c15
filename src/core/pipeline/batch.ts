// Offline runs of a stage: the requests it still needs written as OpenAI Batch JSONL (for
// `vllm run-batch` or the OpenAI Batch API), and the results file read back into the same records a
// live run writes. Partial results are kept; writing the batch again asks only for what is missing.
import * as fs from "node:fs";
import * as path from "node:path";
import { CONFIG_FILE, resolveIn } from "../config.js";
import { MetajudgeError } from "../errors.js";
import type { Config } from "../schema.js";
import { readBatchResults, writeBatchFile } from "../llm/batch.js";
import { readJsonl } from "../store/jsonl.js";
import type { RunContext } from "./context.js";
import { withSampling, type LlmTask } from "./llm-stage.js";
import { planLlmStage, type LlmStageName } from "./stages/index.js";

// The file is trusted: launches write theirs under iterations/<t>/remote/. A path a person typed goes
// through refuseOwnFile first.
export async function writeStageBatch(ctx: RunContext, stage: LlmStageName, file: string): Promise<{ requests: number; records: number }> {
  const plan = await planLlmStage(ctx, stage);
  const requests = await writeBatchFile(
    file,
    plan.tasks.map((t) => ({ customId: t.id, body: t.body })),
  );
  return { requests, records: plan.tasks.reduce((n, t) => n + t.records, 0) };
}

export interface BatchImport {
  imported: number; // records appended
  requests: number; // results used
  failed: number; // results that carry an error
  unknown: number; // custom_ids this stage does not need (already on disk, or another stage's)
  missing: number; // requests the stage still needs after the import
  malformed: { line: number; message: string }[];
}

export async function importStageBatch(ctx: RunContext, stage: LlmStageName, file: string): Promise<BatchImport> {
  const plan = await planLlmStage(ctx, stage);
  const open = new Map<string, LlmTask>(plan.tasks.map((t) => [t.id, t]));
  const out = ctx.store.appender(plan.file);
  const res: BatchImport = { imported: 0, requests: 0, failed: 0, unknown: 0, missing: 0, malformed: [] };
  const errors: string[] = [];
  let summary;
  try {
    summary = await readBatchResults(file, (r) => {
      const task = open.get(r.customId);
      if (!task) {
        res.unknown++;
        return;
      }
      if (!r.ok) {
        res.failed++;
        if (errors.length < 3) errors.push(`${r.customId}: ${r.error}`);
        return;
      }
      const records = withSampling(task.accept(r.result), task.body);
      out.append(records);
      open.delete(r.customId);
      res.requests++;
      res.imported += records.length;
    });
  } finally {
    ctx.store.close();
  }
  res.malformed = summary.malformed;
  res.missing = open.size;
  for (const e of errors) ctx.emit({ type: "warning", message: `batch result failed: ${e}` });
  for (const m of res.malformed.slice(0, 3)) ctx.emit({ type: "warning", message: `${file}:${m.line}: ${m.message}` });
  return res;
}

/** Where a path really leads: symlinks followed, for a file not yet there its folder's. */
function realTarget(file: string): string {
  const abs = path.resolve(file);
  try {
    return fs.realpathSync(abs);
  } catch {
    try {
      return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
    } catch {
      return abs;
    }
  }
}

const within = (dir: string, file: string): boolean => {
  const rel = path.relative(dir, file);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
};

/**
 * A requests file is the user's to name, but never one of the experiment's own files: a mistyped
 * path would otherwise replace responses.jsonl or metajudge.json with requests. Hard links are caught
 * by device and inode, symlinks by their target. Called before the iteration is opened, so a refused
 * write changes nothing at all (not even the manifest's time).
 */
export function refuseOwnFile(exp: string, config: Config, file: string): void {
  const t = config.templates;
  const own = [CONFIG_FILE, config.prompts, t.actor, t.judge, t.meta_judge, "metajudge.schema.json"].map((f) => resolveIn(exp, f));
  const schema = config.$schema;
  if (schema && !/^[a-z][a-z0-9+.-]*:/i.test(schema)) own.push(resolveIn(exp, schema));
  const folders = [path.join(exp, "iterations"), path.join(exp, "jobs")];
  const target = realTarget(file);
  const refuse = (what: string): never => {
    throw new MetajudgeError(
      "badInput",
      `refusing to write the batch over ${file}: it is the experiment's own ${what}, which a requests file must never replace; ` +
        `name a file of its own, e.g. ${path.join(exp, "requests.jsonl")}`,
      { file },
    );
  };
  for (const dir of folders) if (within(realTarget(dir), target)) refuse(`${path.basename(dir)}/ folder (${dir})`);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(target);
  } catch {
    st = undefined;
  }
  for (const f of own) {
    if (realTarget(f) === target) refuse(`file ${f}`);
    if (!st) continue;
    try {
      const o = fs.statSync(f);
      if (o.ino === st.ino && o.dev === st.dev) refuse(`file ${f}`);
    } catch {
      // Not there: nothing to protect.
    }
  }
}

/**
 * Counts as a live run leaves them: every record on disk counted once (the first line of an id, as
 * every reader keeps it), records = expected when complete.
 */
export async function stageCounts(ctx: RunContext, stage: LlmStageName): Promise<Record<string, number>> {
  const plan = await planLlmStage(ctx, stage);
  const seen = new Set<string>();
  await readJsonl(
    ctx.store.file(plan.file),
    (r) => {
      const id = (r as { id?: unknown }).id;
      if (typeof id === "string") {
        if (seen.has(id)) return;
        seen.add(id);
      }
      plan.count(r as object);
    },
    { strict: false },
  );
  return { ...plan.counts, records: plan.done, expected: plan.total };
}

/** Token usage of the results the stage still needed (`needed` holds their custom_ids), added to the manifest as a live run adds it. */
export async function addBatchUsage(ctx: RunContext, stage: LlmStageName, results: string, needed: ReadonlySet<string>): Promise<void> {
  const add = { prompt_tokens: 0, completion_tokens: 0, requests: 0 };
  await readBatchResults(results, (r) => {
    if (!r.ok || !needed.has(r.customId)) return;
    add.prompt_tokens += r.result.usage.prompt_tokens;
    add.completion_tokens += r.result.usage.completion_tokens;
    add.requests++;
  });
  const info = ctx.stageInfo(stage);
  const su = info.usage ?? { prompt_tokens: 0, completion_tokens: 0, requests: 0 };
  info.usage = {
    prompt_tokens: su.prompt_tokens + add.prompt_tokens,
    completion_tokens: su.completion_tokens + add.completion_tokens,
    requests: su.requests + add.requests,
  };
  const u = ctx.manifest.usage;
  u.prompt_tokens += add.prompt_tokens;
  u.completion_tokens += add.completion_tokens;
  u.requests += add.requests;
}
