// The remote commands as a user runs them: the bundled CLI in its own process, against a host of kind
// "local" (real detached processes, the vllm/trl stand-ins on PATH through the profile's setup) and
// against a real OpenSSH server on 127.0.0.1 (host keys, passphrases).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { newJobId } from "../../src/core/remote/jobs/ids.js";
import { DetachedExecutor } from "../../src/core/remote/jobs/detached.js";
import { JobStore, type JobRecord } from "../../src/core/remote/jobs/record.js";
import { jobDir } from "../../src/core/remote/jobs/script.js";
import { LocalShell } from "../../src/core/remote/local-shell.js";
import { standInSetup } from "../support/stand-ins.js";
import { startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { ensureBuilt, makeExperiment, runCli, tmpDir } from "../support/cli.js";
import { sshdUnavailable, startSshd, type Sshd } from "../support/sshd.js";
import { endJobGroup, type StartedJob } from "../support/job-groups.js";

const BIN = path.join(__dirname, "..", "support", "remote-bin");
const started: StartedJob[] = [];
let fake: FakeServer;

before(async () => {
  ensureBuilt();
  fake = await startFakeOpenAI({ latencyMs: 1 });
});
after(async () => {
  // Whatever a failed test left running was started here: end it by its process group.
  for (const job of started) endJobGroup(job);
  await fake.close();
});

function withHosts(dir: string, hosts: Record<string, unknown>, remote?: Record<string, unknown>): void {
  const file = path.join(dir, "metajudge.json");
  const c = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  c.hosts = hosts;
  if (remote) c.remote = remote;
  fs.writeFileSync(file, JSON.stringify(c, null, 2));
}

function localExperiment(): { dir: string; workdir: string } {
  const dir = makeExperiment(fake.url);
  const workdir = path.join(path.dirname(dir), "host");
  withHosts(dir, { here: { kind: "local", workdir, setup: standInSetup(BIN) } });
  return { dir, workdir };
}

/** A job started the way a launch starts one (record, then submit), so the CLI finds it as after a restart. */
async function startJob(dir: string, workdir: string, script: string): Promise<JobRecord> {
  const ex = new DetachedExecutor(new LocalShell(), { kind: "local" });
  const store = new JobStore(dir);
  const id = newJobId("command", 1);
  const remoteDir = await jobDir(ex.shell, workdir, id);
  store.create({
    id,
    kind: "command",
    title: `it 1 ${script}`,
    host: "here",
    executor: "local",
    iteration: 1,
    state: "submitting",
    remote: { dir: remoteDir },
  });
  const ref = await ex.submit({ id, dir: remoteDir, script });
  started.push(ref);
  return store.update(id, {
    remote: { ...ref },
    state: "running",
    submitted_at: new Date().toISOString(),
    started_at: new Date().toISOString(),
  });
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

test("hosts lists the experiment's profiles and the editor's, with kind and target; a bad one says why", async () => {
  const dir = makeExperiment(fake.url);
  withHosts(dir, { gpu: { kind: "ssh", ssh: { host: "gpu-box", user: "al", port: 2222 } }, here: { kind: "local" } });
  const settings = JSON.stringify({
    ray1: { kind: "ray", address: "http://127.0.0.1:8265" },
    gpu: { kind: "local" },
    broken: { kind: "mainframe" },
  });
  const human = await runCli(["hosts", dir], { METAJUDGE_HOSTS: settings });
  assert.equal(human.code, 0, human.stderr);
  const rows = human.stdout.trim().split("\n");
  assert.match(rows[0]!, /^NAME\s+KIND\s+TARGET\s+FROM$/);
  assert.match(human.stdout, /^gpu\s+ssh\s+al@gpu-box:2222\s+experiment$/m, "the experiment's profile wins by name");
  assert.match(human.stdout, /^ray1\s+ray\s+http:\/\/127\.0\.0\.1:8265\s+settings$/m);
  assert.match(human.stdout, /^broken\s+\?\s+invalid: kind: .*settings$/m);
  const json = await runCli(["hosts", dir, "--json"], { METAJUDGE_HOSTS: settings });
  assert.equal(json.code, 0, json.stderr);
  const hosts = (json.events[0] as { hosts: { name: string; kind: string | null; source: string }[] }).hosts;
  assert.deepEqual(
    hosts.map((h) => [h.name, h.kind, h.source]),
    [
      ["broken", null, "settings"],
      ["gpu", "ssh", "experiment"],
      ["here", "local", "experiment"],
      ["ray1", "ray", "settings"],
    ],
  );
});

test("usage errors exit 2 with one line; an unknown host or job exits 1 naming what exists", async () => {
  const { dir } = localExperiment();
  for (const args of [
    ["launch", "train", dir],
    ["launch", "generate", dir, "--iteration", "1", "--mode", "offline"],
    ["jobs", "attach", dir],
    ["launch", "deploy", dir, "-i", "1"],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^metajudge: /);
  }
  const host = await runCli(["hosts", "check", dir, "nowhere"]);
  assert.equal(host.code, 1);
  assert.match(host.stderr, /no host profile named "nowhere"; known hosts: here/);
  const job = await runCli(["jobs", "log", dir, "it1-nothing-here"]);
  assert.equal(job.code, 1);
  assert.match(job.stderr, /no job it1-nothing-here in .*jobs; `metajudge jobs .*` lists them/);
});

test("hosts check on a local host runs uname there", async () => {
  const { dir } = localExperiment();
  const r = await runCli(["hosts", "check", dir, "here", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const check = r.events.find((e) => e.type === "host-check") as { uname: string; kind: string } | undefined;
  assert.equal(check?.kind, "local");
  assert.equal(check?.uname, execFileSync("uname", ["-a"], { encoding: "utf8" }).trim());
});

test("jobs lists a running job after a restart; jobs cancel ends its process group; jobs log prints our copy", async () => {
  const { dir, workdir } = localExperiment();
  const job = await startJob(dir, workdir, "echo started; sleep 300");
  const pid = job.remote.pid!;
  assert.ok(alive(pid), "the job runs");

  const table = await runCli(["jobs", dir]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^ID\s+KIND\s+HOST\s+STATE\s+ELAPSED\s+DETAIL$/m);
  assert.match(table.stdout, new RegExp(`^${job.id}\\s+command\\s+here\\s+running\\s+\\d+s`, "m"));
  const listed = await runCli(["jobs", dir, "--json"]);
  assert.deepEqual(
    (listed.events[0] as { jobs: JobRecord[] }).jobs.map((j) => [j.id, j.state]),
    [[job.id, "running"]],
  );

  const cancel = await runCli(["jobs", "cancel", dir, job.id, "--json"]);
  assert.equal(cancel.code, 0, cancel.stderr);
  assert.equal(new JobStore(dir).get(job.id)?.state, "cancelled");
  const end = Date.now() + 30_000;
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  assert.ok(!alive(pid), "the job's process is gone");

  fs.writeFileSync(new JobStore(dir).logPath(job.id), "started\nline two\n");
  const log = await runCli(["jobs", "log", dir, job.id]);
  assert.equal(log.code, 0, log.stderr);
  assert.equal(log.stdout, "started\nline two\n");
});

test("jobs attach follows a job to its end, copies its log, and exits 1 when it failed", async () => {
  const { dir, workdir } = localExperiment();
  const ok = await startJob(dir, workdir, "for i in 1 2 3; do echo step $i; sleep 0.2; done");
  const r = await runCli(["jobs", "attach", dir, ok.id, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(new JobStore(dir).get(ok.id)?.state, "succeeded");
  assert.equal(fs.readFileSync(new JobStore(dir).logPath(ok.id), "utf8"), "step 1\nstep 2\nstep 3\n");
  assert.ok(
    r.events.some((e) => e.type === "log"),
    "log events on stdout",
  );

  const bad = await startJob(dir, workdir, "echo oops; exit 3");
  const f = await runCli(["jobs", "attach", dir, bad.id]);
  assert.equal(f.code, 1, f.stderr);
  assert.equal(new JobStore(dir).get(bad.id)?.state, "failed");
  assert.equal(new JobStore(dir).get(bad.id)?.exit_code, 3);
});

test("launch train on a local host: a job with the stand-in trainer, metrics, and the checkpoint as the next actor", async () => {
  const { dir, workdir } = localExperiment();
  withHosts(
    dir,
    { here: { kind: "local", workdir, setup: `${standInSetup(BIN)}\nexport MJ_TRL_STEP_MS=5` } },
    { training: { host: "here", model: "stand-in/base-model" } },
  );
  const run = await runCli(["run", dir, "--iteration", "1"]);
  assert.equal(run.code, 0, run.stderr);
  const r = await runCli(["launch", "train", dir, "--iteration", "1", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const result = r.events.find((e) => e.type === "launched") as { job: JobRecord; checkpoint: string | null } | undefined;
  assert.ok(result, "a launched line");
  assert.equal(result.job.state, "succeeded");
  assert.equal(result.job.kind, "train");
  assert.ok(result.checkpoint, "a checkpoint");
  assert.ok(
    r.events.some((e) => e.type === "metrics"),
    "trainer metrics as events",
  );
  assert.equal(new JobStore(dir).get(result.job.id)?.state, "succeeded");
  const config = JSON.parse(fs.readFileSync(path.join(dir, "metajudge.json"), "utf8")) as { iterations: { models?: { actor?: string } }[] };
  const actor = config.iterations[1]?.models?.actor;
  assert.ok(actor && result.checkpoint.endsWith(actor), `iteration 2's actor is the checkpoint (${actor} vs ${result.checkpoint})`);
  assert.ok(
    fs.existsSync(path.join(actor, "config.json")) || fs.readdirSync(actor).length > 0,
    "the stand-in trainer wrote the checkpoint there",
  );
  const jobs = await runCli(["jobs", dir]);
  assert.match(jobs.stdout, new RegExp(`^${result.job.id}\\s+train\\s+here\\s+succeeded`, "m"));
});

// ---- a real OpenSSH server on loopback ----------------------------------------------------------

let sshd: Sshd | undefined;
const sshSkip = sshdUnavailable ? `no test sshd: ${sshdUnavailable}` : undefined;

async function server(): Promise<Sshd> {
  sshd ??= await startSshd();
  return sshd;
}
after(async () => {
  await sshd?.stop();
});

function hostFingerprint(pub: string): string {
  const out = execFileSync("ssh-keygen", ["-lf", pub], { encoding: "utf8" });
  const fp = /SHA256:[A-Za-z0-9+/]+/.exec(out)?.[0];
  assert.ok(fp, out);
  return fp;
}

test(
  "hosts check: an unknown host key is refused with its fingerprint and the flag to trust it; with the flag it is trusted",
  { skip: sshSkip },
  async () => {
    const s = await server();
    const dir = makeExperiment(fake.url);
    withHosts(dir, { box: { kind: "ssh", ssh: { host: "mj-loop" }, workdir: "~/mj-cli-test" } });
    const knownHosts = path.join(tmpDir("kh"), "known_hosts");
    const env = { METAJUDGE_SSH_CONFIG: s.configFile, METAJUDGE_KNOWN_HOSTS: knownHosts };
    const fp = hostFingerprint(s.hostKeyPub);

    const refused = await runCli(["hosts", "check", dir, "box"], env);
    assert.equal(refused.code, 1, refused.stdout);
    const line = refused.stderr.trim().split("\n").at(-1)!;
    assert.match(line, /^metajudge: unknown host key /);
    assert.ok(line.includes(fp), `the fingerprint ${fp} in: ${line}`);
    assert.ok(line.includes("--trust-new-host-key"), line);
    assert.ok(!fs.existsSync(knownHosts) || !fs.readFileSync(knownHosts, "utf8").includes(`:${s.port}`), "nothing was trusted");

    const trusted = await runCli(["hosts", "check", dir, "box", "--trust-new-host-key"], env);
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.ok(trusted.stderr.includes(fp) || trusted.stdout.includes(fp), "the trusted key's fingerprint is printed");
    assert.match(trusted.stdout, /^box \(ssh, .*\): ok$/m);
    assert.match(trusted.stdout, /^ {2}Linux /m, "uname -a ran on the host");
    assert.match(fs.readFileSync(knownHosts, "utf8"), new RegExp(`^\\[127\\.0\\.0\\.1\\]:${s.port} ssh-ed25519 `, "m"));

    const again = await runCli(["hosts", "check", dir, "box"], env);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(again.stdout.includes(fp), "the known key's fingerprint is shown");
  },
);

test("hosts check: a changed host key is refused, even with --trust-new-host-key, naming known_hosts:line", { skip: sshSkip }, async () => {
  const s = await server();
  const dir = makeExperiment(fake.url);
  withHosts(dir, { box: { kind: "ssh", ssh: { host: "mj-loop" }, workdir: "~/mj-cli-test" } });
  const knownHosts = path.join(tmpDir("kh"), "known_hosts");
  const other = path.join(path.dirname(knownHosts), "other");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
  const impostor = fs.readFileSync(`${other}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
  fs.writeFileSync(knownHosts, `# pinned\n[127.0.0.1]:${s.port} ${impostor}\n`);
  const r = await runCli(["hosts", "check", dir, "box", "--trust-new-host-key", "--json"], {
    METAJUDGE_SSH_CONFIG: s.configFile,
    METAJUDGE_KNOWN_HOSTS: knownHosts,
  });
  assert.equal(r.code, 1, r.stdout);
  assert.equal((r.events.find((e) => e.type === "error") as { reason?: string } | undefined)?.reason, "hostKey");
  assert.ok(r.stderr.includes(`${knownHosts}:2`), r.stderr);
  assert.ok(!r.events.some((e) => e.type === "host-check"), "no command ran on the host");
  assert.equal(fs.readFileSync(knownHosts, "utf8"), `# pinned\n[127.0.0.1]:${s.port} ${impostor}\n`, "known_hosts is left as it was");
});

test(
  "an encrypted key: the passphrase comes from METAJUDGE_SSH_PASSPHRASE and is never printed; without it, auth fails",
  { skip: sshSkip },
  async () => {
    const s = await server();
    const dir = makeExperiment(fake.url);
    withHosts(dir, { enc: { kind: "ssh", ssh: { host: "mj-enc" }, workdir: "~/mj-cli-test" } });
    const env = { METAJUDGE_SSH_CONFIG: s.configFile, METAJUDGE_KNOWN_HOSTS: s.knownHostsFile };
    const ok = await runCli(["hosts", "check", dir, "enc", "--json"], { ...env, METAJUDGE_SSH_PASSPHRASE: s.passphrase });
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(!ok.stdout.includes(s.passphrase) && !ok.stderr.includes(s.passphrase), "the passphrase is not in the output");
    const denied = await runCli(["hosts", "check", dir, "enc"], env);
    assert.equal(denied.code, 1, denied.stdout);
    assert.match(denied.stderr.trim().split("\n").at(-1)!, /^metajudge: /);
    const lines = await runCli(["hosts", "check", dir, "enc", "--json"], env);
    assert.equal((lines.events.find((e) => e.type === "error") as { reason?: string } | undefined)?.reason, "auth");
  },
);
