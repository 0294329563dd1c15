// `metajudge batch submit|cancel`: a stage through the OpenAI Batch API, from the missing requests to
// the joined records, printing the batches' progress. Ctrl-C stops the polling, not the batches.
import { isCancelled, MetajudgeError } from "../core/errors.js";
import type { Batch } from "../core/llm/openai-batch.js";
import { openRun } from "../core/pipeline/context.js";
import { runStageBatch, type BatchOutcome, type SubmitResult } from "../core/pipeline/batch-submit.js";
import type { LlmStageName } from "../core/pipeline/run.js";
import { humanPrinter, jsonPrinter } from "./progress.js";
import type { WireBatchEvent, WireResult } from "../shared/cli-wire.js";

export interface BatchSubmitArgs {
  dir: string;
  iteration: number;
  stage: LlmStageName;
  json: boolean;
  allowChangedInputs: boolean;
  pollSeconds: number;
  maxRequests?: number;
}

export async function cmdBatchSubmit(verb: "submit" | "cancel", a: BatchSubmitArgs): Promise<number> {
  const print = a.json ? jsonPrinter(process.stdout) : humanPrinter(process.stderr);
  const line = (json: WireBatchEvent, human: string): void => {
    if (a.json) process.stdout.write(JSON.stringify(json) + "\n");
    else process.stderr.write(human + "\n");
  };
  const again = (v: string): string => `metajudge batch ${v} ${a.dir} --iteration ${a.iteration} --stage ${a.stage}`;
  const ctl = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    if (++interrupts > 1) process.exit(130);
    ctl.abort(new MetajudgeError("cancelled", "cancelled"));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const running = new Set<string>();
  let res: SubmitResult;
  try {
    const ctx = await openRun({
      experimentDir: a.dir,
      iteration: a.iteration,
      emit: print,
      signal: ctl.signal,
      allowChangedInputs: a.allowChangedInputs,
    });
    res = await runStageBatch(ctx, a.stage, {
      intervalMs: a.pollSeconds * 1000,
      ...(a.maxRequests !== undefined ? { maxRequests: a.maxRequests } : {}),
      cancel: verb === "cancel",
      onSubmitted: (e) => {
        running.add(e.id);
        line(
          { type: "batch-submitted", stage: a.stage, id: e.id, input_file_id: e.input_file_id, requests: e.requests },
          `submitted ${e.id}: ${e.requests} ${a.stage} requests (input file ${e.input_file_id})`,
        );
      },
      onAttached: (e) => {
        if (e.id) running.add(e.id);
        line(
          { type: "batch-attached", stage: a.stage, id: e.id, input_file_id: e.input_file_id, requests: e.requests, status: e.status },
          `re-attached to ${e.id ?? `the upload ${e.input_file_id}`}, submitted ${e.submitted_at} (${e.status})`,
        );
      },
      onStatus: (b: Batch) => {
        if (b.status === "cancelling" || (b.status !== "validating" && b.status !== "in_progress" && b.status !== "finalizing"))
          running.delete(b.id);
        const c = b.request_counts;
        line(
          { type: "batch-status", id: b.id, status: b.status, request_counts: c ?? null },
          `${b.id}: ${b.status}${c ? `, ${c.completed}/${c.total} done${c.failed ? `, ${c.failed} failed` : ""}` : ""}`,
        );
      },
      onRetry: (r) =>
        line(
          { type: "batch-retry", ...r },
          `${r.what} failed (${r.reason}); retrying in ${(r.delayMs / 1000).toFixed(1)} s (attempt ${r.attempt})`,
        ),
    });
  } catch (e) {
    if (!isCancelled(e)) throw e;
    const ids = [...running];
    line(
      { type: "batch-detached", stage: a.stage, running: ids },
      `stopped polling; ${ids.length ? ids.join(", ") : "the stage's batches"} keep${ids.length === 1 ? "s" : ""} running on the server.\n` +
        `  re-attach and join the results: ${again("submit")}\n  cancel: ${again("cancel")}`,
    );
    return 130;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return finish(verb, a, res, again);
}

function finish(verb: "submit" | "cancel", a: BatchSubmitArgs, res: SubmitResult, again: (v: string) => string): number {
  const failed = res.batches.filter((b) => b.status === "failed");
  if (!a.json) {
    if (res.batches.length === 0 && verb === "cancel")
      process.stderr.write(`no ${a.stage} batch is running for iteration ${a.iteration}\n`);
    for (const b of res.batches) process.stderr.write(describe(b));
  }
  if (a.json)
    process.stdout.write(
      JSON.stringify({ type: `batch-${verb}`, ...res, ok: failed.length === 0 && res.missing === 0 } satisfies WireResult) + "\n",
    );
  else {
    const head = `${a.stage}: ${plural(res.imported, "record")} joined${res.failed ? `, ${plural(res.failed, "request")} failed` : ""}`;
    const rerun =
      failed.length > 0
        ? `once the errors above are dealt with, \`${again("submit")}\` submits them again`
        : `\`${again("submit")}\` submits just those`;
    // A later stage has nothing to ask until the one before it has records: say so rather than "complete".
    const done =
      res.expected === 0
        ? `; nothing to ask yet: the ${a.stage} stage needs the records of the stage before it`
        : `; the stage is complete (${plural(res.records, "record")})`;
    const tail = res.missing === 0 ? done : `; ${plural(res.missing, "request")} still missing: ${rerun}`;
    process.stdout.write(head + tail + "\n");
  }
  if (verb === "cancel") return failed.length === 0 ? 0 : 1;
  return failed.length === 0 && res.missing === 0 ? 0 : 1;
}

function describe(b: BatchOutcome): string {
  const joined = `${plural(b.imported, "record")} joined${b.failed ? `, ${plural(b.failed, "request")} failed` : ""}${b.files.length ? ` (${b.files.join(", ")})` : ""}`;
  switch (b.status) {
    case "failed":
      return (
        `metajudge: batch ${b.id} failed${b.errors.length ? ":" : " without saying why"}\n` +
        b.errors
          .map((e) => `  ${e.line !== null ? `line ${e.line}: ` : ""}${e.code ?? "error"}: ${e.message}${e.param ? ` (${e.param})` : ""}\n`)
          .join("")
      );
    case "expired":
      return `${b.id} expired before it finished: ${joined}; what it did not run is left missing\n`;
    case "cancelled":
      return `${b.id} was cancelled: ${joined}\n`;
    default:
      return `${b.id} ${b.status}: ${joined}\n`;
  }
}

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? "" : "s"}`;
