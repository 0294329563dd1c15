// One launched job, from record to end: its folder on the host, the files it reads uploaded there,
// submission, and following it while its log is copied home. Every recipe goes through here so every
// job is found, followed and finalized the same way.
import * as fs from "node:fs";
import * as path from "node:path";
import { MetajudgeError, isCancelled } from "../../errors.js";
import { followJob } from "../jobs/follow.js";
import { newJobId } from "../jobs/ids.js";
import { JobStore, type JobKind, type JobRecord } from "../jobs/record.js";
import { jobDir } from "../jobs/script.js";
import { quote } from "../shell.js";
import { TERMINAL_STATES } from "../types.js";
import type { LaunchHost } from "./host.js";
import { profileGpus } from "./host.js";
import type { LaunchContext } from "./types.js";

export interface JobInput {
  local: string;
  name: string;
}

/** What a recipe asks for: a script run in the job folder, and files uploaded into it first. */
export interface JobPlan {
  kind: JobKind;
  title: string;
  iteration: number;
  stage?: string;
  /** Relative to the job folder, or absolute on the host when the recipe needs the folder's path. */
  script: string | ((dir: string) => string);
  /** Uploaded into the job folder (name relative to it); a function when they depend on the folder. */
  inputs: JobInput[] | ((dir: string) => JobInput[]);
  /** Files already on the host (an earlier job's inputs), copied in there rather than uploaded again. */
  copies?: (NonNullable<JobRecord["inputs"]>[number] & { name: string })[];
  /** Fields of the recipe, kept in the record for finalize and resubmit. */
  launch: Record<string, unknown>;
}

export function emitJob(ctx: LaunchContext, job: JobRecord): JobRecord {
  ctx.onEvent?.({ type: "job", job });
  return job;
}

/** The values of the profile's secret_env, asked for before anything is created: a missing one stops the launch. */
async function jobSecrets(ctx: LaunchContext, host: LaunchHost): Promise<Record<string, string> | undefined> {
  const names = host.profile.secret_env ?? [];
  if (names.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = await ctx.deps.secret(name);
    if (!value) {
      throw new MetajudgeError(
        "auth",
        `host ${host.name} lists ${name} in secret_env, but it has no value: set it in the environment (CLI) or with "Metajudge: Set Host Secret" (editor)`,
      );
    }
    out[name] = value;
  }
  return out;
}

export async function startJob(ctx: LaunchContext, host: LaunchHost, plan: JobPlan): Promise<JobRecord> {
  const secretEnv = await jobSecrets(ctx, host);
  const store = new JobStore(ctx.experimentDir);
  const id = newJobId(plan.kind.replace(/^generate-/, "gen-"), plan.iteration, plan.stage);
  const workdir = host.profile.workdir;
  const dir = await jobDir(host.shell, workdir, id);
  const script = typeof plan.script === "string" ? plan.script : plan.script(dir);
  let record = store.create({
    id,
    kind: plan.kind,
    title: plan.title,
    host: host.name,
    executor: host.profile.kind,
    iteration: plan.iteration,
    ...(plan.stage ? { stage: plan.stage } : {}),
    state: "submitting",
    remote: { dir, workdir },
    launch: plan.launch,
    spec: { script },
  });
  emitJob(ctx, record);
  try {
    await staged(ctx, `creating ${dir}`, () => mkdirs(host, dir));
    const inputs: NonNullable<JobRecord["inputs"]> = [];
    for (const input of typeof plan.inputs === "function" ? plan.inputs(dir) : plan.inputs) {
      const remote = `${dir}/${input.name}`;
      const file = path.relative(ctx.experimentDir, input.local) || input.local;
      if (input.name.includes("/"))
        await staged(ctx, `creating ${path.posix.dirname(remote)}`, () => mkdirs(host, path.posix.dirname(remote)));
      const res = await staged(ctx, `uploading ${file}`, () =>
        host.shell.upload(input.local, remote, {
          ...(ctx.signal ? { signal: ctx.signal } : {}),
          onProgress: (done, total) => ctx.onEvent?.({ type: "transfer", direction: "up", file, done, total }),
        }),
      );
      inputs.push({ local: file, remote, sha256: res.sha256, bytes: res.bytes });
    }
    for (const { name, ...c } of plan.copies ?? []) {
      const to = `${dir}/${name}`;
      await staged(ctx, `copying ${c.remote}`, async () => {
        const r = await host.shell.exec(`mkdir -p "$(dirname ${quote(to)})" && cp -- ${quote(c.remote)} ${quote(to)}`);
        if (r.code !== 0)
          throw new MetajudgeError(
            "server",
            `${host.shell.label}: copying ${c.remote} failed (exit ${r.code}): ${r.stderr.trim() || "no message"}`,
          );
      });
      inputs.push({ ...c, remote: to });
    }
    const gpus = profileGpus(host.profile);
    // Submitting one id twice starts one job, so a submission lost with its link is safe to repeat.
    const ref = await staged(ctx, `submitting job ${id}`, () =>
      host.executor.submit({ id, dir, script, gpus, ...(secretEnv ? { secretEnv } : {}) }),
    );
    record = store.update(id, { inputs, remote: { ...ref, workdir }, state: "queued", submitted_at: new Date().toISOString() });
  } catch (err) {
    record = store.update(id, {
      state: "failed",
      error: err instanceof Error ? err.message : String(err),
      finished_at: new Date().toISOString(),
    });
    emitJob(ctx, record);
    throw err;
  }
  return emitJob(ctx, record);
}

async function mkdirs(host: LaunchHost, dir: string): Promise<void> {
  const mk = await host.shell.exec(`mkdir -p ${quote(dir)}`);
  if (mk.code !== 0)
    throw new MetajudgeError(
      "server",
      `${host.shell.label}: mkdir -p ${dir} failed (exit ${mk.code}): ${mk.stderr.trim() || "no message"}`,
    );
}

const STAGING_ATTEMPTS = 3;

/**
 * Runs a staging step that is safe to repeat (mkdir -p, a transfer that resumes from its .part and
 * checks sha256, a submission by id) again when the link fails it; a wrong key, a bad profile or a
 * cancel is not retried.
 */
export async function staged<T>(ctx: LaunchContext, what: string, step: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      const final = err instanceof MetajudgeError && ["badInput", "auth", "hostKey", "cancelled"].includes(err.reason);
      if (final || isCancelled(err) || ctx.signal?.aborted || attempt >= STAGING_ATTEMPTS) throw err;
      ctx.onEvent?.({
        type: "note",
        message: `${what} failed (${err instanceof Error ? err.message : String(err)}); trying again (${attempt + 1}/${STAGING_ATTEMPTS})`,
      });
      await new Promise((r) => setTimeout(r, 300 * attempt));
    }
  }
}

/** Follows to a terminal state (or until ctx.signal aborts), turning log bytes into text events. */
export async function followToEnd(
  ctx: LaunchContext,
  host: LaunchHost,
  id: string,
  onText?: (text: string) => void,
  signal = ctx.signal,
): Promise<JobRecord> {
  const store = new JobStore(ctx.experimentDir);
  const decoder = new TextDecoder("utf-8");
  const record = await followJob({
    store,
    executor: host.executor,
    id,
    intervalMs: ctx.pollMs ?? 2000,
    ...(signal ? { signal } : {}),
    onState: (r) => emitJob(ctx, r),
    onLog: (data) => {
      const text = decoder.decode(data, { stream: true });
      if (!text) return;
      ctx.onEvent?.({ type: "log", jobId: id, text });
      onText?.(text);
    },
    onRetry: (err, attempt, delayMs) =>
      ctx.onEvent?.({
        type: "note",
        message: `job ${id}: polling failed (${err instanceof Error ? err.message : String(err)}); retry ${attempt} in ${Math.round(delayMs / 1000)} s`,
      }),
  });
  if (!TERMINAL_STATES.has(record.state)) {
    throw new MetajudgeError(
      "cancelled",
      `stopped following job ${id} (still ${record.state} on ${host.name}); attach to it again to pick it up`,
    );
  }
  return record;
}

/** The last lines of our copy of the job's log, for error messages. */
export function logTail(experimentDir: string, id: string, lines = 12): string {
  const file = new JobStore(experimentDir).logPath(id);
  let text = "";
  try {
    const fd = fs.openSync(file, "r");
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, 8192);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      text = buf.toString("utf8");
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return "(no log)";
  }
  const tail = text.trimEnd().split("\n").slice(-lines).join("\n");
  return tail || "(empty log)";
}

export function jobFailure(ctx: LaunchContext, record: JobRecord, what: string): MetajudgeError {
  const how =
    record.state === "failed"
      ? `failed${record.exit_code !== undefined && record.exit_code !== null ? ` with exit code ${record.exit_code}` : ""}`
      : `ended ${record.state}`;
  const reason = record.state === "cancelled" ? "cancelled" : "jobFailed";
  return new MetajudgeError(
    reason,
    `${what}: job ${record.id} on ${record.host} ${how}${record.detail ? ` (${record.detail})` : ""}; its log is ${path.join(ctx.experimentDir, record.log.local)}. Last lines:\n${logTail(ctx.experimentDir, record.id)}`,
  );
}
