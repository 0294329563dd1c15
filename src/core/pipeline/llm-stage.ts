// Runs one model-calling stage: its tasks through the role's client with bounded concurrency, each
// answer turned into records and appended with the others of its turn of the event loop. Live runs
// and batch files share the same tasks.
import type { ChatRequest, ChatResult } from "../llm/client.js";
import { jsonVerdictFormat } from "../parse.js";
import type { Config, Role, SamplingStamp, StageName, VerdictMode } from "../schema.js";
import type { FileKey } from "../store/iteration.js";
import type { RunContext } from "./context.js";
import { runPool } from "./pool.js";

export interface LlmTask {
  /** The custom_id of the request in a batch file; unique within the stage. */
  id: string;
  body: ChatRequest;
  /** Records this task will write (the choices missing on disk). */
  records: number;
  accept(result: ChatResult): object[];
}

export interface LlmPlan {
  stage: StageName;
  role: Role;
  file: FileKey;
  tasks: LlmTask[];
  /** Records the stage holds when complete, and how many are already on disk. */
  total: number;
  done: number;
  counts: Record<string, number>;
  /** Updates `counts` for each record written. */
  count(record: object): void;
}

const PROGRESS_EVERY_MS = 250;
const MANIFEST_EVERY_MS = 2000;

export async function runLlmStage(ctx: RunContext, plan: LlmPlan): Promise<void> {
  const client = ctx.client(plan.role);
  const out = ctx.store.appender(plan.file);
  const info = ctx.stageInfo(plan.stage);
  const started = Date.now();
  let done = plan.done;
  let promptTokens = 0;
  let completionTokens = 0;
  let requests = 0;
  let lastProgress = 0;
  let lastManifest = started;

  const progress = (force: boolean): void => {
    const now = Date.now();
    if (!force && now - lastProgress < PROGRESS_EVERY_MS) return;
    lastProgress = now;
    ctx.emit({
      type: "progress",
      stage: plan.stage,
      done,
      total: plan.total,
      inFlight: client.inFlight,
      promptTokens,
      completionTokens,
      elapsedMs: now - started,
    });
    if (now - lastManifest >= MANIFEST_EVERY_MS) {
      lastManifest = now;
      info.counts = { ...plan.counts, records: done, expected: plan.total };
      ctx.saveManifest();
    }
  };

  // The answers that arrive in one turn of the event loop are written together, in one write, once
  // the turn's other callbacks have run. A kill loses at most that turn's answers, which a resume asks
  // for again with the same seeds; each task waits for its group to be on disk, so a failed write
  // fails the tasks whose records it held, as a write of their own would.
  let group: object[] = [];
  let groupWritten: Promise<void> | undefined;
  let settleGroup: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  const writeGroup = (): void => {
    const records = group;
    const settle = settleGroup!;
    group = [];
    groupWritten = undefined;
    settleGroup = undefined;
    try {
      out.append(records);
      for (const r of records) plan.count(r);
      done += records.length;
      progress(false);
      settle.resolve();
    } catch (err) {
      settle.reject(err);
    }
  };
  const write = (records: object[]): Promise<void> => {
    for (const r of records) group.push(r);
    if (!groupWritten) {
      groupWritten = new Promise<void>((resolve, reject) => {
        settleGroup = { resolve, reject };
      });
      setImmediate(writeGroup);
    }
    return groupWritten;
  };

  // Readers of the manifest (the Iterations view) show a running stage as done/expected.
  info.counts = { ...plan.counts, records: done, expected: plan.total };
  ctx.saveManifest();
  ctx.emit({ type: "stage-start", stage: plan.stage, total: plan.total, done });
  try {
    await runPool(
      plan.tasks,
      ctx.config.concurrency,
      async (task, signal) => {
        const result = await client.complete(task.body, signal);
        const records = withSampling(task.accept(result), task.body);
        requests += 1;
        promptTokens += result.usage.prompt_tokens;
        completionTokens += result.usage.completion_tokens;
        await write(records);
      },
      ctx.signal,
    );
  } finally {
    const u = ctx.manifest.usage;
    u.prompt_tokens += promptTokens;
    u.completion_tokens += completionTokens;
    u.requests += requests;
    const su = info.usage ?? { prompt_tokens: 0, completion_tokens: 0, requests: 0 };
    info.usage = {
      prompt_tokens: su.prompt_tokens + promptTokens,
      completion_tokens: su.completion_tokens + completionTokens,
      requests: su.requests + requests,
    };
    info.counts = { ...plan.counts, records: done, expected: plan.total };
    progress(true);
  }
}

/**
 * Records keep the sampling they were asked with, stamped here and where batch results are joined
 * rather than in each stage, so a run resumed with other sampling leaves records that say which is which.
 */
export function withSampling(records: object[], body: ChatRequest): object[] {
  const sampling: SamplingStamp = {};
  if (body.n !== undefined) sampling.n = body.n;
  if (body.temperature !== undefined) sampling.temperature = body.temperature;
  if (body.top_p !== undefined) sampling.top_p = body.top_p;
  if (body.max_tokens !== undefined) sampling.max_tokens = body.max_tokens;
  // The records are the task's own, made for this answer: stamped in place rather than copied.
  for (const r of records) (r as { sampling?: SamplingStamp }).sampling = sampling;
  return records;
}

export function samplingBody(ctx: RunContext, role: Role, content: string, n: number, seed: number | undefined): ChatRequest {
  return requestBody(ctx.config, role, ctx.models[role], content, n, seed);
}

/** What a request of this role looks like; "Try on Sample" builds its requests here too, so a trial asks as a run would. */
export function requestBody(config: Config, role: Role, model: string, content: string, n: number, seed: number | undefined): ChatRequest {
  const s = config.roles[role].sampling;
  const body: ChatRequest = {
    model,
    messages: [{ role: "user", content }],
    n,
    temperature: s.temperature,
    top_p: s.top_p,
    max_tokens: s.max_tokens,
  };
  if (seed !== undefined) body.seed = seed;
  // The rubric goes out unchanged: the schema alone constrains the answer, and the prompt stays the
  // one the manifest's sha256 names and the judge pairs train on.
  if (role !== "actor" && config.roles[role].mode === "json_schema") {
    body.response_format = jsonVerdictFormat(role === "judge" ? "score" : "winner", config.roles[role].reason_max_length);
  }
  return body;
}

/**
 * A json_schema answer cut at max_tokens is broken JSON whatever the model meant, so the parse error
 * names the cure (more max_tokens or a smaller reason_max_length). Text mode keeps its errors as they were.
 */
export function cutNote(error: string, mode: VerdictMode, finishReason: string | null | undefined): string {
  return mode === "json_schema" && finishReason === "length" ? `${error} (cut off at max_tokens)` : error;
}
