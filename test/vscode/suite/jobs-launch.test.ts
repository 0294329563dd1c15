// Launches from the editor that reach a host and come back with data: batch generation on a host of
// kind local (three vllm run-batch jobs, then pairs and export), and DPO training on a Ray cluster
// reached through an SSH tunnel, with its token set by Set Host Secret. Both use an experiment of
// their own, a folder inside the workspace that the suite removes, so the fixture experiment keeps
// only its iteration 1 for the suites and UI tests that follow.
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { suite, suiteSetup, suiteTeardown, test } from "mocha";
import * as vscode from "vscode";
import type { MetajudgeApi } from "../../../src/extension/extension.js";
import { defaultConfig, initExperiment } from "../../../src/core/experiment.js";
import { JobStore, type JobRecord } from "../../../src/core/remote/jobs/record.js";
import { startRayServer, type RayServer } from "../../support/ray-server.js";
import { until } from "./until.js";

const ID = "metajudge.metajudge";
const GEN_HOST = "ext-gen-local";
const RAY_HOST = "ext-ray";
const TOKEN_ENV = "MJ_EXT_RAY_TOKEN";
const run = promisify(execFile);
let api: MetajudgeApi;
let repo: string;
let exp: string;
let scratch: string;
const TERMINAL = ["succeeded", "failed", "cancelled", "timeout", "lost"];

/** The view's context value for a job, found the way the view finds it: host node, then job node. */
async function viewState(id: string): Promise<string | undefined> {
  for (const host of await api.jobs.tree.getChildren()) {
    for (const node of await api.jobs.tree.getChildren(host)) {
      if (node.kind === "job" && node.job.id === id) return String((await api.jobs.tree.getTreeItem(node)).contextValue);
    }
  }
  return undefined;
}

function lines(file: string): number {
  return fs.existsSync(file)
    ? fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "").length
    : 0;
}

function editConfig(edit: (c: Record<string, unknown>) => void): void {
  const file = path.join(exp, "metajudge.json");
  const c = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  edit(c);
  fs.writeFileSync(file, JSON.stringify(c, null, 2));
}

/** Every file under dir whose bytes hold needle. */
function filesHolding(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && fs.readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return hits;
}

/**
 * The Metajudge output channel's file. The harness gives the server HOME=<run>/home and
 * --user-data-dir <run>/user-data, so the extension host's logs are under <run>/user-data/logs.
 */
function outputChannelFiles(): string[] {
  const logs = path.join(path.dirname(os.homedir()), "user-data", "logs");
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/Metajudge\.log$/.test(e.name)) found.push(p);
    }
  };
  if (fs.existsSync(logs)) walk(logs);
  return found;
}

interface LoopbackSshd {
  port: number;
  user: string;
  key: string;
  knownHosts: string;
  stop(): Promise<void>;
}

/** The repo's loopback OpenSSH server (scripts/remote/sshd.sh), in a folder of this suite's own. */
async function startSshd(): Promise<LoopbackSshd> {
  const script = path.join(repo, "scripts", "remote", "sshd.sh");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mj-ext-sshd-"));
  const env = { ...process.env, MJ_SSHD_DIR: dir };
  await run("bash", [script, "start"], { env, timeout: 300_000 });
  const vars = new Map(
    fs
      .readFileSync(path.join(dir, "env"), "utf8")
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const),
  );
  const get = (k: string): string => {
    const v = vars.get(k);
    if (v === undefined) throw new Error(`${dir}/env has no ${k}`);
    return v;
  };
  return {
    port: Number(get("MJ_SSHD_PORT")),
    user: get("MJ_SSHD_USER"),
    key: get("MJ_SSHD_KEY"),
    knownHosts: get("MJ_SSHD_KNOWN_HOSTS"),
    async stop() {
      await run("bash", [script, "stop"], { env });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

suite("jobs: launches from the editor", () => {
  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<MetajudgeApi>(ID);
    assert.ok(ext);
    api = await ext.activate();
    repo = ext.extensionPath;
    const found = await vscode.workspace.findFiles("**/metajudge.json", "**/node_modules/**");
    const fixture = found.map((u) => path.dirname(u.fsPath)).sort()[0];
    assert.ok(fixture);
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "mj-ext-launch-"));
    // World-writable: the Ray entrypoint runs as this user, the files come over SFTP as the SSH user.
    fs.chmodSync(scratch, 0o777);
    exp = path.join(fixture, `launch-exp-${crypto.randomBytes(4).toString("hex")}`);
    initExperiment(exp, repo);
    const prompts = path.join(exp, "prompts.jsonl");
    fs.writeFileSync(prompts, fs.readFileSync(prompts, "utf8").split("\n").slice(0, 2).join("\n") + "\n");
    const bin = path.join(repo, "test", "support", "remote-bin");
    const c = defaultConfig();
    c.name = "launch-from-the-editor";
    c.endpoint = { base_url: "http://127.0.0.1:9/v1", model: "base-model" };
    c.roles.actor.sampling.n = 3;
    c.roles.judge.sampling.n = 3;
    Object.assign(c, {
      hosts: { [GEN_HOST]: { kind: "local", workdir: path.join(scratch, "gen"), setup: `export PATH='${bin}':"$PATH"` } },
      remote: { generation: { host: GEN_HOST, mode: "batch" } },
    });
    fs.writeFileSync(path.join(exp, "metajudge.json"), JSON.stringify(c, null, 2));
    await until("the new experiment among the workspace's", async () => (await api.experiments.experiments()).some((e) => e.dir === exp));
  });

  suiteTeardown(async () => {
    fs.rmSync(exp, { recursive: true, force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
    await vscode.workspace.getConfiguration("metajudge").update("knownHostsFile", undefined, vscode.ConfigurationTarget.Global);
    api.experiments.refreshAll();
    await until("the experiment gone from the workspace's", async () => !(await api.experiments.experiments()).some((e) => e.dir === exp));
  });

  test("Launch Generation on Host, batch mode on a local host: three stage jobs succeed, the iteration's records and stages are done", async function () {
    this.timeout(180_000);
    await vscode.commands.executeCommand("metajudge.launchGeneration", { experimentDir: exp, iteration: 1, host: GEN_HOST, mode: "batch" });
    const jobs = new JobStore(exp).list().filter((j) => j.kind === "generate-batch");
    assert.deepEqual(jobs.map((j) => j.stage).sort(), ["generate", "judge", "metajudge"], "one batch job per model-calling stage");
    for (const j of jobs) {
      assert.equal(j.state, "succeeded", `${j.id}: ${j.detail ?? ""} ${j.error ?? ""}`);
      assert.equal(j.host, GEN_HOST);
      assert.equal(j.finalized, true, `${j.id} had its results imported`);
      await until(`${j.id} succeeded in the Jobs view`, async () => (await viewState(j.id)) === "metajudge.job.succeeded");
    }
    const it = path.join(exp, "iterations", "1");
    assert.equal(lines(path.join(it, "responses.jsonl")), 2 * 3, "two prompts, three responses each");
    assert.ok(lines(path.join(it, "judgements.jsonl")) > 0, "judgements");
    assert.ok(lines(path.join(it, "meta_judgements.jsonl")) > 0, "meta-judgements");
    const manifest = JSON.parse(fs.readFileSync(path.join(it, "manifest.json"), "utf8")) as { stages: Record<string, { state: string }> };
    for (const s of ["generate", "judge", "metajudge", "pairs", "export"]) assert.equal(manifest.stages[s]?.state, "done", `stage ${s}`);
    assert.ok(fs.existsSync(path.join(it, "dpo.jsonl")), "the iteration's DPO data is exported");
  });

  test("Set Host Secret keeps a Ray token that the training job's submission sends, and it is in no record, log or output", async function () {
    this.timeout(180_000);
    assert.ok(fs.existsSync(path.join(exp, "iterations", "1", "dpo.jsonl")), "the generation test left DPO data to train on");
    const token = `ray-ext-${crypto.randomBytes(12).toString("hex")}`;
    let ray: RayServer | undefined;
    let sshd: LoopbackSshd | undefined;
    try {
      ray = await startRayServer({ token });
      sshd = await startSshd();
      // The tunnel's host key is known beforehand: this test is about the token, not the modal.
      await vscode.workspace.getConfiguration("metajudge").update("knownHostsFile", sshd.knownHosts, vscode.ConfigurationTarget.Global);
      const bin = path.join(repo, "test", "support", "remote-bin");
      editConfig((c) => {
        c.hosts = {
          ...(c.hosts as object),
          [RAY_HOST]: {
            kind: "ray",
            address: ray!.url,
            tunnel: { host: "127.0.0.1", port: sshd!.port, user: sshd!.user, identity_file: sshd!.key },
            auth_token_env: TOKEN_ENV,
            workdir: path.join(scratch, "ray"),
            setup: `export PATH='${bin}':"$PATH"\nexport MJ_TRL_STEP_MS=5`,
          },
        };
        c.remote = { ...(c.remote as object), training: { host: RAY_HOST, model: "stand-in/base-model" } };
      });
      await vscode.commands.executeCommand("metajudge.setHostSecret", { secretName: TOKEN_ENV, value: token });
      assert.equal(process.env[TOKEN_ENV], undefined, "the token comes from the secret store, not this process's environment");

      const before = new Set(new JobStore(exp).list().map((j) => j.id));
      await vscode.commands.executeCommand("metajudge.launchTraining", { experimentDir: exp, iteration: 1, host: RAY_HOST });
      const train: JobRecord = await until(
        "the Ray training job to end",
        () => {
          const j = new JobStore(exp).list().find((r) => r.kind === "train" && !before.has(r.id));
          return j && TERMINAL.includes(j.state) ? j : undefined;
        },
        120_000,
      );
      assert.equal(train.state, "succeeded", `${train.detail ?? ""} ${train.error ?? ""}`);
      assert.equal(train.executor, "ray");

      const posts = ray.requests.filter((r) => r.method === "POST" && r.path === "/api/jobs/");
      assert.equal(posts.length, 1, "one submission");
      assert.equal(posts[0]!.headers["x-ray-authorization"], `Bearer ${token}`, "the submission carries the stored token");
      assert.ok(
        ray.requests.every((r) => r.headers["x-ray-authorization"] === `Bearer ${token}`),
        "every request carries it",
      );
      assert.ok(!posts[0]!.body.includes(token), "the token is not in the submission's body");
      await until("succeeded in the Jobs view", async () => (await viewState(train.id)) === "metajudge.job.succeeded");

      const store = new JobStore(exp);
      assert.ok(
        fs.existsSync(store.logPath(train.id)) && fs.statSync(store.logPath(train.id)).size > 0,
        "the log mirror has the trainer's output",
      );
      assert.deepEqual(filesHolding(exp, token), [], "no file of the experiment (job records, log mirrors, config) holds the token");
      assert.deepEqual(filesHolding(path.join(scratch, "ray"), token), [], "no file written on the host holds the token");
      const channel = outputChannelFiles();
      assert.ok(channel.length > 0, "the Metajudge output channel's file is found");
      // The channel is written a little after the fact; wait for the launch's own lines before reading it.
      await until(
        "the launch's lines in the output channel",
        () => channel.some((f) => fs.readFileSync(f, "utf8").includes(RAY_HOST)),
        15_000,
      );
      for (const f of channel) assert.ok(!fs.readFileSync(f, "utf8").includes(token), `${f} holds the token`);
    } finally {
      await ray?.close();
      await sshd?.stop();
    }
  });
});
