// Slurm jobs through a login node: a real one-node cluster (scripts/remote/slurm.sh) reached over a
// real OpenSSH server (scripts/remote/sshd.sh), so sbatch, squeue, scontrol and scancel run as the
// test user in an SSH session, as they would on a cluster.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { openExecutor } from "../../src/core/remote/hosts.js";
import { closeAllSsh } from "../../src/core/remote/ssh/index.js";
import { followJob, waitForState } from "../../src/core/remote/jobs/follow.js";
import { JobStore, type JobRecord } from "../../src/core/remote/jobs/record.js";
import { jobDir } from "../../src/core/remote/jobs/script.js";
import { newJobId } from "../../src/core/remote/jobs/ids.js";
import type { HostProfile } from "../../src/core/schema.js";
import type { Executor, HostDeps } from "../../src/core/remote/types.js";
import { sshdUnavailable, startSshd, type Sshd } from "../support/sshd.js";
import { slurmUnavailable, startSlurm, type Slurm } from "../support/slurm.js";

const unavailable = sshdUnavailable ?? slurmUnavailable;
const skip = unavailable ? `no test cluster: ${unavailable}` : false;
const workdir = `mj-jobs-slurm-${process.pid}`;
const base: Extract<HostProfile, { kind: "slurm" }> = {
  kind: "slurm",
  ssh: { host: "mj-loop" },
  workdir: `~/${workdir}`,
  gpus: 0,
  sbatch: [],
};
let sshd: Sshd;
let slurm: Slurm;
let experiment: string;
let timeLimited: Promise<JobRecord> | undefined;

before(async () => {
  if (skip) return;
  [sshd, slurm] = await Promise.all([startSshd(), startSlurm()]);
  experiment = fs.mkdtempSync(path.join(os.tmpdir(), "mj-jobs-slurm-"));
  // Slurm looks at time limits about every 30 s: start the one slow case first, check it last.
  const ex = await open({ ...base, time: "1" });
  const job = await start(ex, new JobStore(experiment), "echo started; sleep 300");
  timeLimited = followJob({ store: new JobStore(experiment), executor: ex, id: job.id, intervalMs: 1000 }).finally(() => ex.close());
});

after(async () => {
  if (skip) return;
  closeAllSsh();
  try {
    await slurm.stop();
  } finally {
    execFileSync("rm", ["-rf", `/home/${sshd.user}/${workdir}`]);
    await sshd.stop();
  }
});

function deps(): HostDeps {
  return {
    sshConfigFile: sshd.configFile,
    knownHostsFile: sshd.knownHostsFile,
    confirmHostKey: async () => false,
    passphrase: async () => undefined,
    secret: async () => undefined,
  };
}

function open(profile: HostProfile): Promise<Executor> {
  return openExecutor(profile, deps());
}

async function start(ex: Executor, store: JobStore, script: string, id = newJobId("train", 1)): Promise<JobRecord> {
  const dir = await jobDir(ex.shell!, base.workdir, id);
  store.create({ id, kind: "train", title: "slurm job", host: "cluster", executor: "slurm", state: "submitting", remote: { dir } });
  const ref = await ex.submit({ id, dir, script, env: { MJ_JOB_ENV: "e" }, secretEnv: { MJ_SECRET: "s3" } });
  // The state stays "submitting": the follower sees every state Slurm reports from the first.
  return store.update(id, { remote: { ...ref } });
}

test("a job goes queued → running → succeeded, runs as the login user, and its log is copied", { skip, timeout: 120_000 }, async () => {
  // --begin holds the job in the queue for a moment, so "queued" is seen for certain.
  const ex = await open({ ...base, sbatch: ["--begin=now+3"] });
  const store = new JobStore(experiment);
  const job = await start(ex, store, 'echo "$(id -un) $MJ_JOB_ENV $MJ_SECRET $SLURM_JOB_NAME"; sleep 2; echo done');
  const seen: { state: string; detail?: string | undefined }[] = [];
  const final = await followJob({
    store,
    executor: ex,
    id: job.id,
    intervalMs: 250,
    onState: (r) => seen.push({ state: r.state, detail: r.detail }),
  });
  const again = await ex.submit({ id: job.id, dir: job.remote.dir, script: "echo never" });
  ex.close();
  assert.deepEqual([final.state, final.exit_code, final.node], ["succeeded", 0, "localhost"]);
  assert.deepEqual(
    seen.map((s) => s.state),
    ["queued", "running", "succeeded"],
    JSON.stringify(seen),
  );
  assert.equal(seen[0]?.detail, "BeginTime");
  assert.equal(fs.readFileSync(store.logPath(job.id), "utf8"), `${sshd.user} e s3 ${job.id}\ndone\n`);
  assert.equal(again.slurmId, job.remote.slurmId, "a second submit finds the first");
  const batch = execFileSync("cat", [`${job.remote.dir}/run.sh`, `${job.remote.dir}/job.sh`], { encoding: "utf8" });
  assert.match(batch, new RegExp(`#SBATCH --job-name=${job.id}\\n#SBATCH --output=${job.remote.dir}/log`));
  assert.ok(!batch.includes("s3\n") && !batch.includes("MJ_SECRET="), "the secret is not written into the scripts");
});

test("a pending job shows its reason as detail", { skip, timeout: 60_000 }, async () => {
  const ex = await open({ ...base, sbatch: ["--hold"] });
  const store = new JobStore(experiment);
  const job = await start(ex, store, "true");
  const status = await waitForState(ex, job.remote, ["queued"], { intervalMs: 200, timeoutMs: 30_000 });
  assert.deepEqual([status.state, status.detail], ["queued", "JobHeldUser"]);
  await ex.cancel(job.remote);
  assert.equal((await waitForState(ex, job.remote, ["cancelled"], { intervalMs: 200, timeoutMs: 30_000 })).state, "cancelled");
  ex.close();
});

test("a failing job is failed with its exit code; a running one is cancelled", { skip, timeout: 120_000 }, async () => {
  const ex = await open(base);
  const store = new JobStore(experiment);
  const failing = await start(ex, store, "echo failing >&2; exit 3");
  const long = await start(ex, store, "echo waiting; sleep 300");
  const f = await followJob({ store, executor: ex, id: failing.id, intervalMs: 250 });
  assert.deepEqual([f.state, f.exit_code, f.detail], ["failed", 3, "exit 3"]);
  assert.equal(fs.readFileSync(store.logPath(failing.id), "utf8"), "failing\n");
  await waitForState(ex, long.remote, ["running"], { intervalMs: 250, timeoutMs: 60_000 });
  await ex.cancel(long.remote);
  const c = await followJob({ store, executor: ex, id: long.id, intervalMs: 250 });
  ex.close();
  assert.equal(c.state, "cancelled");
  assert.match(fs.readFileSync(store.logPath(long.id), "utf8"), /^waiting\n.*CANCELLED/s);
});

test("after a restart, a new executor and store re-attach to a running job", { skip, timeout: 120_000 }, async () => {
  const first = await open(base);
  const job = await start(first, new JobStore(experiment), "for i in 1 2 3 4 5 6; do echo step $i; sleep 0.5; done");
  await waitForState(first, job.remote, ["running"], { intervalMs: 250, timeoutMs: 60_000 });
  first.close();
  closeAllSsh();
  const store = new JobStore(experiment);
  // As if the launcher died between sbatch and saving the id: the job folder still names it.
  store.update(job.id, { remote: { dir: job.remote.dir } });
  const ex = await open(base);
  const final = await followJob({ store, executor: ex, id: job.id, intervalMs: 250 });
  ex.close();
  assert.equal(final.state, "succeeded");
  assert.equal(fs.readFileSync(store.logPath(job.id), "utf8"), [1, 2, 3, 4, 5, 6].map((i) => `step ${i}\n`).join(""));
});

test("a job over its time limit ends as timeout", { skip, timeout: 240_000 }, async () => {
  const final = await timeLimited!;
  assert.deepEqual([final.state, final.exit_code], ["timeout", null]);
  assert.match(fs.readFileSync(new JobStore(experiment).logPath(final.id), "utf8"), /^started\n.*DUE TO TIME LIMIT/s);
});
