// Launch recipes end to end on a host of kind "local": jobs run detached on this machine through the
// same executor as on an SSH host, with the vllm / trl stand-ins first on PATH. Batch and serve
// generation must produce the same records (the stand-in answers the same request the same way
// whether it arrives in a file or over HTTP); training must land in the manifest and the config.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { readLines, tmpDir } from "../support/cli.js";
import {
  HOSTILE,
  KEY_ENV,
  PWNED,
  SECRET,
  jobAlive,
  editConfig,
  filesHolding,
  launchExperiment,
  readManifest as manifest,
  recordCounts as counts,
} from "../support/launch-experiment.js";
import { installStandIns, standInSetup } from "../support/stand-ins.js";
import { LocalShell } from "../../src/core/remote/local-shell.js";
import {
  attachJob,
  cancelJob,
  launchGeneration,
  launchTraining,
  resubmitJob,
  type LaunchContext,
  type RemoteEvent,
} from "../../src/core/remote/launch/index.js";
import { JobStore, type JobRecord } from "../../src/core/remote/jobs/record.js";
import { MetajudgeError } from "../../src/core/errors.js";
import { loadConfig } from "../../src/core/config.js";
import type { HostDeps } from "../../src/core/remote/types.js";

const deps: HostDeps = {
  sshConfigFile: "/dev/null",
  knownHostsFile: "/dev/null",
  confirmHostKey: async () => false,
  passphrase: async () => undefined,
  secret: async () => undefined,
};

let root = "";
let bin = "";

before(async () => {
  fs.rmSync(PWNED, { force: true });
  root = tmpDir("launch-local");
  bin = await installStandIns(new LocalShell(), path.join(root, "bin"));
  process.env[KEY_ENV] = SECRET;
});
after(() => {
  fs.rmSync(root, { recursive: true, force: true });
  delete process.env[KEY_ENV];
});

/** A small experiment in a hostile folder, its jobs in a hostile workdir on this machine. */
function experiment(name: string, extra: Record<string, Record<string, unknown>> = {}): string {
  const box = { kind: "local", workdir: path.join(root, `work ${name} ${HOSTILE}`), setup: standInSetup(bin) };
  return launchExperiment(name, { box, ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, { ...box, ...v }])) });
}

function context(experimentDir: string, events: RemoteEvent[] = []): LaunchContext {
  return { experimentDir, deps, pollMs: 150, onEvent: (e) => events.push(e) };
}

describe("launch on a local host", { timeout: 180_000 }, () => {
  let batchDir = "";
  let batchJobs: JobRecord[] = [];
  let serveDir = "";
  let failDir = "";

  it("batch mode: errored lines are kept out, only the missing requests go out again, stages complete", async () => {
    // A third of the lines fail, once: the first job of the first stage; its resubmission is clean.
    batchDir = experiment("batch");
    editConfig(batchDir, (c) => (c.hosts.box!.env = { MJ_VLLM_ERROR_RATE: "0.5", MJ_FAULT_ONCE: "../fault-once" }));
    const events: RemoteEvent[] = [];
    const { jobs } = await launchGeneration(context(batchDir, events), { iteration: 1 });
    batchJobs = jobs;
    const byStage = (s: string): JobRecord[] => jobs.filter((j) => j.stage === s);
    assert.equal(byStage("generate").length, 2, "the generate stage needed a second job");
    assert.equal(byStage("judge").length, 1);
    assert.equal(byStage("metajudge").length, 1);
    const [first, second] = byStage("generate") as [JobRecord, JobRecord];
    const firstImport = first.imported as { requests: number; failed: number; missing: number };
    assert.ok(firstImport.failed > 0, "some lines failed in the first job");
    assert.equal(firstImport.missing, firstImport.failed);
    assert.equal(
      (second.launch as { requests: number }).requests,
      firstImport.missing,
      "the second job asked only for the missing requests",
    );
    for (const j of jobs) assert.equal(j.finalized, true);
    assert.ok(jobs.every((j) => j.state === "succeeded"));
    const m = manifest(batchDir);
    for (const s of ["generate", "judge", "metajudge", "pairs", "export"]) assert.equal(m.stages[s]!.state, "done", s);
    for (const s of ["generate", "judge", "metajudge"]) assert.equal(m.stages[s]!.counts.records, m.stages[s]!.counts.expected, s);
    const c = counts(batchDir);
    assert.equal(c["responses.jsonl"], 4 * 3);
    assert.equal(c["judgements.jsonl"], 4 * 3 * 4);
    assert.ok(c["meta_judgements.jsonl"]! > 0 && c["dpo.jsonl"]! > 0);
    assert.ok(events.some((e) => e.type === "transfer" && e.direction === "up"));
    assert.ok(events.some((e) => e.type === "log"));
  });

  it("serve mode: the same records as batch mode, and the server is gone afterwards", async () => {
    const dir = experiment("serve");
    serveDir = dir;
    const events: RemoteEvent[] = [];
    const { jobs } = await launchGeneration(context(dir, events), { iteration: 1, mode: "serve" });
    assert.equal(jobs.length, 1);
    const job = jobs[0]!;
    assert.equal(job.kind, "generate-serve");
    assert.ok(["cancelled", "succeeded"].includes(job.state), job.state);
    assert.equal(job.finalized, true);
    assert.deepEqual(counts(dir), counts(batchDir));
    const texts = (d: string): string[] =>
      readLines<{ id: string; text: string }>(path.join(d, "iterations", "1", "judgements.jsonl"))
        .map((r) => `${r.id} ${r.text}`)
        .sort();
    assert.deepEqual(texts(dir), texts(batchDir));
    const m = manifest(dir);
    for (const s of ["generate", "judge", "metajudge", "pairs", "export"]) assert.equal(m.stages[s]!.state, "done", s);
    // The same requests answered the same way: the same tokens, whether sent live or in files.
    const b = manifest(batchDir);
    for (const s of ["generate", "judge", "metajudge"]) assert.deepEqual(b.stages[s]!.usage, m.stages[s]!.usage, s);
    assert.ok(m.stages.judge!.usage!.completion_tokens > 0);
    const pid = Number(fs.readFileSync(path.join(job.remote.dir, "pid"), "utf8"));
    assert.equal(jobAlive(pid, job.remote.dir), false, "the server process group is gone");
    assert.match(fs.readFileSync(new JobStore(dir).logPath(job.id), "utf8"), /Uvicorn running on http:\/\/127\.0\.0\.1/);
  });

  it("training: metrics in the manifest, the checkpoint as iteration 2's model, formatting and comments kept", async () => {
    const cfgFile = path.join(batchDir, "metajudge.json");
    // A hand-formatted file: one-line iteration entries, a key order of the user's own, comments.
    const cfg = JSON.parse(fs.readFileSync(cfgFile, "utf8")) as { iterations: unknown[] };
    cfg.iterations = cfg.iterations.slice(0, 1);
    const text =
      "// judge rubric v2, tried on 3 June\n" +
      JSON.stringify(cfg, null, 4)
        .replace(
          /\{\s+"rho": 0,\s+"judgement_length_cap": null,\s+"train_judge_pairs": true\s+\}/,
          '{ "rho": 0, "judgement_length_cap": null, "train_judge_pairs": true } // M_0',
        )
        .replace('"iterations": [', '/* selection per iteration */ "iterations": [');
    assert.match(text, /\{ "rho": 0, "judgement_length_cap": null, "train_judge_pairs": true \} \/\/ M_0/);
    fs.writeFileSync(cfgFile, text);
    const events: RemoteEvent[] = [];
    const { job, checkpoint } = await launchTraining(context(batchDir, events), { iteration: 1 });
    assert.equal(job.state, "succeeded");
    assert.equal(job.finalized, true);
    assert.equal(checkpoint, `box:${job.remote.dir}/checkpoint`);
    assert.ok(fs.existsSync(path.join(job.remote.dir, "checkpoint", "model.safetensors")));
    const metricEvents = events.filter((e) => e.type === "metrics");
    assert.ok(metricEvents.length >= 2, "metrics streamed while training");
    const training = manifest(batchDir).training!;
    assert.equal(training.job_id, job.id);
    assert.equal(training.checkpoint, checkpoint);
    assert.equal(training.base_model, "base-model");
    assert.ok(training.final.loss! > 0 && training.final["rewards/margins"]! > 0 && training.final["rewards/accuracies"]! > 0);
    assert.ok(training.history.length >= 2);
    const after = fs.readFileSync(cfgFile, "utf8");
    assert.ok(after.startsWith(text.slice(0, text.indexOf('"iterations"'))), "everything before iterations is untouched");
    assert.match(after, /\{ "rho": 0, "judgement_length_cap": null, "train_judge_pairs": true \}, \/\/ M_0\n/);
    const next = loadConfig(batchDir).iterations[1]!;
    const model = `${job.remote.dir}/checkpoint`;
    assert.deepEqual(next.models, { actor: model, judge: model, meta_judge: model });
    assert.equal(next.rho, 0);
  });

  it("a failing trainer: the job fails with its exit code and log tail, no model is recorded", async () => {
    // It fails once: the resubmission below goes through.
    const dir = experiment("fail", { failing: { env: { MJ_TRL_FAIL: "1", MJ_FAULT_ONCE: "../trl-once" } } });
    failDir = dir;
    await launchGeneration(context(dir), { iteration: 1 });
    const before = fs.readFileSync(path.join(dir, "metajudge.json"), "utf8");
    await assert.rejects(launchTraining(context(dir), { iteration: 1, host: "failing" }), (e: unknown) => {
      assert.ok(e instanceof MetajudgeError);
      assert.equal(e.reason, "jobFailed");
      assert.match(e.message, /exit code 3/);
      assert.match(e.message, /CUDA out of memory/);
      return true;
    });
    const jobs = new JobStore(dir).list().filter((j) => j.kind === "train");
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]!.state, "failed");
    assert.equal(jobs[0]!.exit_code, 3);
    assert.equal(fs.readFileSync(path.join(dir, "metajudge.json"), "utf8"), before);
    assert.equal(manifest(dir).training, undefined);
  });

  it("resubmitting the failed training: a new job, the old record kept, attach finalizes it", async () => {
    const store = new JobStore(failDir);
    const old = store.list().find((j) => j.kind === "train")!;
    const fresh = await resubmitJob(context(failDir), old.id);
    assert.notEqual(fresh.id, old.id);
    assert.equal(store.get(old.id)!.state, "failed");
    const done = await attachJob(context(failDir), fresh.id);
    assert.equal(done.state, "succeeded");
    assert.equal(done.finalized, true);
    assert.equal(manifest(failDir).training!.job_id, fresh.id);
    const cfg = JSON.parse(fs.readFileSync(path.join(failDir, "metajudge.json"), "utf8")) as {
      iterations: { models?: { actor?: string } }[];
    };
    assert.equal(cfg.iterations[1]!.models?.actor, `${fresh.remote.dir}/checkpoint`);
  });

  it("a launch nobody watched to its end is completed by attach; cancel stops a running job", async () => {
    const stop = new AbortController();
    const ctx: LaunchContext = {
      ...context(serveDir),
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === "job" && e.job.state === "queued") stop.abort();
      },
    };
    await assert.rejects(launchTraining(ctx, { iteration: 1 }), (e: unknown) => e instanceof MetajudgeError && e.reason === "cancelled");
    const job = new JobStore(serveDir).list().find((j) => j.kind === "train")!;
    assert.notEqual(job.finalized, true);
    const done = await attachJob(context(serveDir), job.id);
    assert.equal(done.state, "succeeded");
    assert.equal(manifest(serveDir).training!.job_id, job.id);
    const again = await attachJob(context(serveDir), job.id);
    assert.equal(again.updated_at, done.updated_at, "attaching to a finalized job changes nothing");

    editConfig(serveDir, (c) => (c.hosts.box!.env = { MJ_TRL_STEP_MS: "60000" }));
    const slow = new AbortController();
    const ctx2: LaunchContext = {
      ...context(serveDir),
      signal: slow.signal,
      onEvent: (e) => e.type === "job" && e.job.state === "queued" && slow.abort(),
    };
    await assert.rejects(launchTraining(ctx2, { iteration: 1 }), (e: unknown) => e instanceof MetajudgeError && e.reason === "cancelled");
    const running = new JobStore(serveDir).list().filter((j) => j.kind === "train" && j.id !== job.id)[0]!;
    const cancelled = await cancelJob(context(serveDir), running.id);
    assert.equal(cancelled.state, "cancelled");
    const pid = Number(fs.readFileSync(path.join(running.remote.dir, "pid"), "utf8"));
    assert.equal(jobAlive(pid, running.remote.dir), false);
  });

  it("batch mode gives up after three jobs, keeping what came back and saying how many are missing", async () => {
    const dir = experiment("stubborn", { errors: { env: { MJ_VLLM_ERROR_RATE: "0.5" } } });
    await assert.rejects(launchGeneration(context(dir), { iteration: 1, host: "errors" }), (e: unknown) => {
      assert.ok(e instanceof MetajudgeError && e.reason === "jobFailed", String(e));
      assert.match(e.message, /^generate: \d+ request\(s\) still missing after 3 batch jobs on errors/);
      assert.match(e.message, /launching again asks only for the missing ones/);
      return true;
    });
    assert.equal(new JobStore(dir).list().length, 3);
    const m = manifest(dir);
    assert.equal(m.stages.generate!.state, "failed");
    assert.ok(counts(dir)["responses.jsonl"]! > 0, "the answers that came back are kept");

    // A batch job submitted again sends the same requests file and is imported when attached.
    const last = new JobStore(dir)
      .list()
      .sort((a, b) => a.created_at.localeCompare(b.created_at))
      .at(-1)!;
    const again = await resubmitJob(context(dir), last.id);
    assert.equal(again.kind, "generate-batch");
    assert.equal(again.inputs?.[0]?.sha256, last.inputs?.[0]?.sha256);
    const done = await attachJob(context(dir), again.id);
    assert.equal(done.finalized, true);
    assert.ok(fs.existsSync(path.join(dir, (done.launch as { results: string }).results)));
  });

  it("serve mode: a server that cannot start fails with its log; a cancelled run stops the server", async () => {
    const dir = experiment("serve-fail");
    editConfig(
      dir,
      (c) =>
        ((c.remote as { generation: Record<string, unknown> }).generation.serve_command =
          "vllm serve {model} --host 0.0.0.0 --port {port}"),
    );
    await assert.rejects(launchGeneration(context(dir), { iteration: 1, mode: "serve" }), (e: unknown) => {
      assert.ok(e instanceof MetajudgeError && e.reason === "jobFailed", String(e));
      assert.match(e.message, /vllm serve ended before it answered \/v1\/models/);
      assert.match(e.message, /listens on 127\.0\.0\.1 only/);
      return true;
    });

    const dir2 = experiment("serve-cancel");
    const stop = new AbortController();
    const ctx: LaunchContext = {
      ...context(dir2),
      signal: stop.signal,
      onEvent: (e) => e.type === "note" && /is ready/.test(e.message) && stop.abort(),
    };
    await assert.rejects(
      launchGeneration(ctx, { iteration: 1, mode: "serve" }),
      (e: unknown) => e instanceof MetajudgeError && e.reason === "cancelled",
    );
    const job = new JobStore(dir2).list()[0]!;
    assert.ok(["cancelled", "succeeded"].includes(job.state), job.state);
    const pid = Number(fs.readFileSync(path.join(job.remote.dir, "pid"), "utf8"));
    assert.equal(jobAlive(pid, job.remote.dir), false, "the server was stopped");
  });

  it("refuses to train before the export stage", async () => {
    const dir = experiment("noexport");
    await assert.rejects(
      launchTraining(context(dir), { iteration: 1 }),
      (e: unknown) => e instanceof MetajudgeError && e.reason === "badInput" && /run the export stage first/.test(e.message),
    );
  });

  it("secret_env: the job gets the secret in its environment, and no file on either side holds it; without it nothing starts", async () => {
    const token = `tok-${process.pid}-never-on-disk`;
    const dir = experiment("secret");
    editConfig(dir, (c) => {
      const box = c.hosts.box!;
      box.secret_env = ["MJ_JOB_TOKEN"];
      box.setup = `${String(box.setup)}\necho "job token sha256: $(printf %s "$MJ_JOB_TOKEN" | sha256sum | cut -c1-16)"`;
    });
    const without = context(dir);
    await assert.rejects(
      launchGeneration(without, { iteration: 1 }),
      (e: unknown) => e instanceof MetajudgeError && e.reason === "auth" && /MJ_JOB_TOKEN/.test(e.message),
    );
    assert.deepEqual(new JobStore(dir).list(), [], "no job was created without the secret");
    const withSecret: LaunchContext = {
      ...context(dir),
      deps: { ...deps, secret: async (name) => (name === "MJ_JOB_TOKEN" ? token : undefined) },
    };
    const { jobs } = await launchGeneration(withSecret, { iteration: 1 });
    assert.ok(jobs.length >= 3 && jobs.every((j) => j.state === "succeeded"));
    const sha = createHash("sha256").update(token).digest("hex").slice(0, 16);
    assert.match(fs.readFileSync(new JobStore(dir).logPath(jobs[0]!.id), "utf8"), new RegExp(`job token sha256: ${sha}`));
    assert.deepEqual(filesHolding(root, token), []);
    assert.deepEqual(filesHolding(path.dirname(dir), token), []);
  });

  it("hostile names ran nothing and no secret was written anywhere", () => {
    assert.equal(fs.existsSync(PWNED), false, `${PWNED} was created: a name reached a shell unquoted`);
    assert.ok(batchJobs.length > 0);
    assert.deepEqual(filesHolding(root, SECRET), []);
    assert.deepEqual(filesHolding(path.dirname(batchDir), SECRET), []);
  });
});
