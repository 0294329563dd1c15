// Launch recipes on a real one-node Slurm cluster reached through its login node over SSH: batch
// generation as sbatch jobs, and serve mode tunnelled to the node Slurm reports the server running on.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpDir } from "../support/cli.js";
import { installStandIns, standInSetup } from "../support/stand-ins.js";
import { sshdUnavailable, startSshd, type Sshd } from "../support/sshd.js";
import { slurmUnavailable, startSlurm, type Slurm } from "../support/slurm.js";
import { KEY_ENV, SECRET, launchExperiment, readManifest, recordCounts } from "../support/launch-experiment.js";
import { closeAllSsh, openSshShell } from "../../src/core/remote/ssh/index.js";
import { quote } from "../../src/core/remote/shell.js";
import { launchGeneration, type LaunchContext } from "../../src/core/remote/launch/index.js";
import type { HostDeps, RemoteShell } from "../../src/core/remote/types.js";

const unavailable = sshdUnavailable ?? slurmUnavailable;
const skip = unavailable ? `no test cluster: ${unavailable}` : false;
const WORKDIR = `~/mj-launch-slurm-${process.pid}`;
let sshd: Sshd;
let slurm: Slurm;
let deps: HostDeps;
let shell: RemoteShell;
let bin = "";
let local = "";

before(async () => {
  if (skip) return;
  [sshd, slurm] = await Promise.all([startSshd(), startSlurm()]);
  deps = {
    sshConfigFile: sshd.configFile,
    knownHostsFile: sshd.knownHostsFile,
    confirmHostKey: async () => false,
    passphrase: async () => undefined,
    secret: async () => undefined,
  };
  shell = await openSshShell({ host: "mj-loop" }, deps);
  bin = await installStandIns(shell, `${WORKDIR}/bin`);
  local = tmpDir("launch-slurm");
  process.env[KEY_ENV] = SECRET;
});

after(async () => {
  if (skip) return;
  delete process.env[KEY_ENV];
  await shell.exec(`rm -rf ${quote(bin.replace(/\/bin$/, ""))}`).catch(() => undefined);
  shell.close();
  closeAllSsh();
  try {
    await slurm.stop();
  } finally {
    await sshd.stop();
    fs.rmSync(local, { recursive: true, force: true });
  }
});

function experiment(name: string): string {
  return launchExperiment(name, {
    cluster: { kind: "slurm", ssh: { host: "mj-loop" }, workdir: WORKDIR, setup: standInSetup(bin), gpus: 0, sbatch: [] },
  });
}

function context(dir: string): LaunchContext {
  return { experimentDir: dir, deps, pollMs: 500 };
}

describe("launch on Slurm", { skip, timeout: 300_000 }, () => {
  let batchDir = "";

  it("batch mode: one sbatch job a stage, stages complete", async () => {
    batchDir = experiment("slurm-batch");
    const { jobs } = await launchGeneration(context(batchDir), { iteration: 1 });
    assert.deepEqual(
      jobs.map((j) => j.stage),
      ["generate", "judge", "metajudge"],
    );
    assert.ok(jobs.every((j) => j.executor === "slurm" && j.remote.slurmId && j.state === "succeeded"));
    const m = readManifest(batchDir);
    for (const s of ["generate", "judge", "metajudge", "pairs", "export"]) assert.equal(m.stages[s]!.state, "done", s);
  });

  it("serve mode: tunnelled to the node the server runs on, the same records, the job ended", async () => {
    const dir = experiment("slurm-serve");
    const { jobs } = await launchGeneration(context(dir), { iteration: 1, mode: "serve" });
    const job = jobs[0]!;
    assert.equal(job.finalized, true);
    assert.ok(job.node, "Slurm reported a node");
    assert.ok(["cancelled", "succeeded", "failed"].includes(job.state), job.state);
    assert.deepEqual(recordCounts(dir), recordCounts(batchDir));
    const q = await shell.exec(`squeue -h -j ${quote(job.remote.slurmId!)} -o %T 2>/dev/null || true`);
    assert.ok(!/RUNNING|PENDING/.test(q.stdout), `still queued: ${q.stdout}`);
  });
});
