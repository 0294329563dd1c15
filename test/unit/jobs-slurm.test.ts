import { test } from "node:test";
import assert from "node:assert/strict";
import { sbatchHeader, slurmExitCode, slurmState } from "../../src/core/remote/jobs/slurm.js";
import { MetajudgeError } from "../../src/core/errors.js";

test("every Slurm state maps to one of ours", () => {
  const table: [string, string | undefined][] = [
    ["PENDING", "queued"],
    ["CONFIGURING", "queued"],
    ["REQUEUED", "queued"],
    ["REQUEUE_HOLD", "queued"],
    ["RESV_DEL_HOLD", "queued"],
    ["SUSPENDED", "queued"],
    ["PREEMPTED", "queued"],
    ["RUNNING", "running"],
    ["COMPLETING", "running"],
    ["STAGE_OUT", "running"],
    ["SIGNALING", "running"],
    ["RESIZING", "running"],
    ["COMPLETED", "succeeded"],
    ["FAILED", "failed"],
    ["NODE_FAIL", "failed"],
    ["BOOT_FAIL", "failed"],
    ["OUT_OF_MEMORY", "failed"],
    ["DEADLINE", "failed"],
    ["SPECIAL_EXIT", "failed"],
    ["REVOKED", "failed"],
    ["CANCELLED", "cancelled"],
    ["CANCELLED by 1000", "cancelled"],
    ["TIMEOUT", "timeout"],
    ["SOMETHING_NEW", undefined],
  ];
  for (const [slurm, ours] of table) assert.equal(slurmState(slurm), ours, slurm);
});

test("exit codes: status:signal, a signal has no exit code", () => {
  assert.equal(slurmExitCode("3:0"), 3);
  assert.equal(slurmExitCode("0:0"), 0);
  assert.equal(slurmExitCode("0:15"), null);
  assert.equal(slurmExitCode(""), undefined);
});

test("the batch header quotes paths and asks for GPUs only when there are some", () => {
  const spec = { id: "it1-train-x", dir: "/home/a b/jobs/it1-train-x", script: "true" };
  assert.deepEqual(sbatchHeader(spec, { gpus: 2, partition: "gpu", account: "lab", time: "2:00:00", sbatch: ["--mem=64G"] }), [
    "#SBATCH --job-name=it1-train-x",
    "#SBATCH --output='/home/a b/jobs/it1-train-x/log'",
    "#SBATCH --chdir='/home/a b/jobs/it1-train-x'",
    "#SBATCH --partition=gpu",
    "#SBATCH --account=lab",
    "#SBATCH --gres=gpu:2",
    "#SBATCH --time=2:00:00",
    "#SBATCH --mem=64G",
  ]);
  assert.ok(!sbatchHeader({ ...spec, gpus: 0 }, { gpus: 4 }).some((l) => l.includes("gres")), "the job's own count wins");
  assert.throws(() => sbatchHeader(spec, { sbatch: ["--mem=1G\nrm -rf ~"] }), MetajudgeError);
});
