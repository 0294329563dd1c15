// The Jobs view inside a real VS Code: records under the experiment's jobs/ folder appear with their
// state; the poller moves a job that ended to its final state; Cancel Job ends a running one; Attach
// to Job follows one in a worker; Launch
// DPO Training on a local host runs the stand-in trainer in a worker and hands its checkpoint on.
// Jobs run on a host of kind "local" (real detached processes), defined in the metajudge.hosts setting.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { suite, suiteSetup, suiteTeardown, test } from "mocha";
import * as vscode from "vscode";
import type { MetajudgeApi } from "../../../src/extension/extension.js";
import type { JobsNode } from "../../../src/extension/jobs/tree.js";
import { DetachedExecutor } from "../../../src/core/remote/jobs/detached.js";
import { newJobId } from "../../../src/core/remote/jobs/ids.js";
import { JobStore, type JobRecord } from "../../../src/core/remote/jobs/record.js";
import { jobDir } from "../../../src/core/remote/jobs/script.js";
import { LocalShell } from "../../../src/core/remote/local-shell.js";
import { endJobGroup, type StartedJob } from "../../support/job-groups.js";
import { until } from "./until.js";

const ID = "metajudge.metajudge";
const HOST = "ext-local";
let api: MetajudgeApi;
let dir: string;
let workdir: string;
let configText: string;
const started: StartedJob[] = [];

/** The view's item for a job, found the way the view finds it: host node, then job node. */
async function jobItem(id: string): Promise<{ node: JobsNode; item: vscode.TreeItem } | undefined> {
  for (const host of await api.jobs.tree.getChildren()) {
    for (const node of await api.jobs.tree.getChildren(host)) {
      if (node.kind === "job" && node.job.id === id) return { node, item: await api.jobs.tree.getTreeItem(node) };
    }
  }
  return undefined;
}

async function startJob(script: string, title: string): Promise<JobRecord> {
  const ex = new DetachedExecutor(new LocalShell(), { kind: "local" });
  const store = new JobStore(dir);
  const id = newJobId("command", 1);
  const remoteDir = await jobDir(ex.shell, workdir, id);
  store.create({
    id,
    kind: "command",
    title,
    host: HOST,
    executor: "local",
    iteration: 1,
    state: "submitting",
    remote: { dir: remoteDir },
  });
  const ref = await ex.submit({ id, dir: remoteDir, script });
  started.push(ref);
  const now = new Date().toISOString();
  return store.update(id, { remote: { ...ref }, state: "running", submitted_at: now, started_at: now });
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

suite("jobs", () => {
  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<MetajudgeApi>(ID);
    assert.ok(ext);
    api = await ext.activate();
    const found = await vscode.workspace.findFiles("**/metajudge.json", "**/node_modules/**");
    assert.ok(found[0]);
    dir = path.dirname(found[0].fsPath);
    configText = fs.readFileSync(path.join(dir, "metajudge.json"), "utf8");
    workdir = fs.mkdtempSync(path.join(os.tmpdir(), "mj-ext-jobs-"));
    // The stand-ins for trl/vllm live in the repo; the worker finds them through the profile's setup.
    const bin = path.join(vscode.extensions.getExtension(ID)!.extensionPath, "test", "support", "remote-bin");
    await vscode.workspace
      .getConfiguration("metajudge")
      .update(
        "hosts",
        { [HOST]: { kind: "local", workdir, setup: `export PATH='${bin}':"$PATH"\nexport MJ_TRL_STEP_MS=5` } },
        vscode.ConfigurationTarget.Global,
      );
  });

  suiteTeardown(async () => {
    for (const job of started) endJobGroup(job);
    fs.writeFileSync(path.join(dir, "metajudge.json"), configText);
  });

  test("a job record written to jobs/ shows in the view under its host, with its state", async () => {
    const store = new JobStore(dir);
    const id = newJobId("train", 1);
    store.create({
      id,
      kind: "train",
      title: "it 1 DPO training (written by hand)",
      host: "gpu-hand",
      executor: "ssh",
      iteration: 1,
      state: "failed",
      exit_code: 3,
      detail: "exit 3",
      remote: { dir: "/nowhere/" + id },
    });
    const found = await until("the job in the view", () => jobItem(id));
    assert.equal(found.item.label, "it 1 DPO training (written by hand)");
    assert.match(String(found.item.description), /^failed · \d+s$/);
    assert.equal(found.item.contextValue, "metajudge.job.failed");
    assert.equal((found.item.iconPath as vscode.ThemeIcon).id, "error");
    assert.equal(found.node.kind === "job" && found.node.parent.host, "gpu-hand");
    const resolved = api.jobs.tree.resolveTreeItem(found.item, found.node);
    assert.match((resolved.tooltip as vscode.MarkdownString).value, /exit code: 3/);
  });

  test("polling moves a running local job that ended to succeeded", async () => {
    const job = await startJob("echo polled; sleep 0.5", "it 1 short local job");
    await until("the view lists it as running", async () => (await jobItem(job.id))?.item.contextValue === "metajudge.job.running");
    await until("the process ends", () => !alive(job.remote.pid!));
    await vscode.commands.executeCommand("metajudge.refreshJobs");
    const after = await until(
      "succeeded in the record",
      () => new JobStore(dir).get(job.id)?.state === "succeeded" && new JobStore(dir).get(job.id),
    );
    assert.equal(after.exit_code, 0);
    await until("succeeded in the view", async () => (await jobItem(job.id))?.item.contextValue === "metajudge.job.succeeded");
  });

  test("Cancel Job cancels a running local job", async () => {
    const job = await startJob("sleep 300", "it 1 long local job");
    assert.ok(alive(job.remote.pid!));
    await vscode.commands.executeCommand("metajudge.cancelJob", { experimentDir: dir, jobId: job.id });
    await until("cancelled in the record", () => new JobStore(dir).get(job.id)?.state === "cancelled");
    await until("the process is gone", () => !alive(job.remote.pid!));
    await until("cancelled in the view", async () => (await jobItem(job.id))?.item.contextValue === "metajudge.job.cancelled");
  });

  test("Attach to Job follows a running local job to its end and copies its log", async () => {
    const job = await startJob("for i in 1 2 3; do echo attached $i; sleep 0.3; done", "it 1 job to attach to");
    await vscode.commands.executeCommand("metajudge.attachJob", { experimentDir: dir, jobId: job.id });
    const done = new JobStore(dir).get(job.id);
    assert.equal(done?.state, "succeeded");
    assert.equal(fs.readFileSync(new JobStore(dir).logPath(job.id), "utf8"), "attached 1\nattached 2\nattached 3\n");
    assert.equal(api.jobs.workers.running.length, 0, "the worker is gone");
  });

  test("Launch DPO Training on a local host: a train job that succeeds, and the checkpoint as the next iteration's actor", async function () {
    this.timeout(180_000);
    const config = JSON.parse(configText) as Record<string, unknown>;
    config.remote = { training: { host: HOST, model: "stand-in/base-model" } };
    fs.writeFileSync(path.join(dir, "metajudge.json"), JSON.stringify(config, null, 2));
    const before = new Set(new JobStore(dir).list().map((j) => j.id));
    await vscode.commands.executeCommand("metajudge.launchTraining", { experimentDir: dir, iteration: 1, host: HOST });
    const train = await until("a train job", () => new JobStore(dir).list().find((j) => j.kind === "train" && !before.has(j.id)), 60_000);
    const done = await until(
      "the train job ended",
      () => {
        const j = new JobStore(dir).get(train.id);
        return j && !["submitting", "queued", "running"].includes(j.state) ? j : undefined;
      },
      150_000,
    );
    assert.equal(done.state, "succeeded", `${done.detail ?? ""} ${done.error ?? ""}`);
    assert.ok(done.outputs && Object.keys(done.outputs).length > 0, "the job names its outputs (the checkpoint)");
    const next = JSON.parse(fs.readFileSync(path.join(dir, "metajudge.json"), "utf8")) as { iterations: { models?: { actor?: string } }[] };
    assert.ok(next.iterations[1]?.models?.actor, "iteration 2's actor model is set from the checkpoint");
    await until("succeeded in the view", async () => (await jobItem(train.id))?.item.contextValue === "metajudge.job.succeeded");
    // The Iterations view shows the training under the iteration whose pairs it used, with its numbers.
    const training = await until(
      "a DPO training row under iteration 1",
      async () => {
        const exp = (await api.tree.getChildren()).find((n) => n.kind === "experiment" && n.dir === dir);
        const it = exp && (await api.tree.getChildren(exp)).find((n) => n.kind === "iteration" && n.iteration === 1);
        return it && (await api.tree.getChildren(it)).find((n) => n.kind === "training");
      },
      30_000,
    );
    const item = api.tree.getTreeItem(training);
    assert.equal(item.label, "DPO training");
    assert.match(String(item.description), /^loss [\d.]+ · margin -?[\d.]+ · acc \d+%$/);
    assert.deepEqual(item.command?.arguments, [{ experimentDir: dir, jobId: train.id }]);
  });
});
