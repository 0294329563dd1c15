// Offline runs of a stage: the requests it still needs written as OpenAI Batch JSONL (for
// `vllm run-batch` or the OpenAI Batch API), and the results file read back into the same records a
// live run writes. Partial results are kept; writing the batch again asks only for what is missing.
import { readBatchResults, writeBatchFile } from "../llm/batch.js";
import type { RunContext } from "./context.js";
import { withSampling, type LlmTask } from "./llm-stage.js";
import { planLlmStage, type LlmStageName } from "./run.js";

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
