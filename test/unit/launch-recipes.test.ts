// Attach and resubmit find a job's recipe by the name its record carries: each recipe is one entry
// in RECIPES. Jobs run for real on a host of kind "local" (detached processes on this machine).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../../src/core/config.js";
import { openLaunchHost } from "../../src/core/remote/launch/host.js";
import { resubmitJob, type LaunchContext } from "../../src/core/remote/launch/index.js";
import { followToEnd, startJob } from "../../src/core/remote/launch/job.js";
import { RECIPES } from "../../src/core/remote/launch/recipes.js";
import { JobStore, type JobRecord } from "../../src/core/remote/jobs/record.js";
import type { HostDeps } from "../../src/core/remote/types.js";
import { tmpDir } from "../support/cli.js";
import { launchExperiment } from "../support/launch-experiment.js";

const deps: HostDeps = {
  sshConfigFile: "/dev/null",
  knownHostsFile: "/dev/null",
  confirmHostKey: async () => false,
  passphrase: async () => undefined,
  secret: async () => undefined,
};
const root = tmpDir("recipes");
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** A job started and followed to its end by the same steps a recipe uses, on a local host. */
async function endedJob(
  ctx: LaunchContext,
  plan: { kind: "generate-batch" | "command"; stage?: string; launch: Record<string, unknown> },
): Promise<JobRecord> {
  const requests = path.join(root, "requests.jsonl");
  fs.writeFileSync(requests, '{"custom_id":"generate:p1"}\n');
  const host = await openLaunchHost(ctx, loadConfig(ctx.experimentDir), "box");
  try {
    const job = await startJob(ctx, host, {
      kind: plan.kind,
      title: "t",
      iteration: 1,
      ...(plan.stage ? { stage: plan.stage } : {}),
      script: "wc -l < requests.jsonl",
      inputs: [{ local: requests, name: "requests.jsonl" }],
      launch: plan.launch,
    });
    return await followToEnd(ctx, host, job.id);
  } finally {
    host.executor.close();
  }
}

test("every recipe is listed under the name its jobs carry", () => {
  assert.deepEqual(Object.keys(RECIPES).sort(), ["batch", "serve", "train"]);
  for (const [name, recipe] of Object.entries(RECIPES)) assert.equal(recipe.kind, name);
});

test("a serve job is refused for resubmission from its record alone, before its host is looked up", async () => {
  const dir = launchExperiment("serve", { box: { kind: "local", workdir: path.join(root, "work-serve") } });
  const store = new JobStore(dir);
  store.create({
    id: "it1-gen-serve-20260101-0000-aaaa",
    kind: "generate-serve",
    title: "serve",
    host: "gone",
    executor: "local",
    iteration: 1,
    state: "failed",
    remote: { dir: "/nowhere" },
    launch: { recipe: "serve", model: "m", port: 1 },
  });
  await assert.rejects(
    resubmitJob({ experimentDir: dir, deps }, "it1-gen-serve-20260101-0000-aaaa"),
    /was a server for one run; launch generation again instead/,
  );
});

test("a batch job resubmitted runs the same script on the same copied inputs, and its results get a file of their own", async () => {
  const dir = launchExperiment("batch", { box: { kind: "local", workdir: path.join(root, "work-batch") } });
  const ctx: LaunchContext = { experimentDir: dir, deps, pollMs: 100 };
  const old = await endedJob(ctx, {
    kind: "generate-batch",
    stage: "generate",
    launch: { recipe: "batch", stage: "generate", attempt: 1, requests: 1, results: "iterations/1/remote/generate.old.results.jsonl" },
  });
  assert.equal(old.state, "succeeded");

  const next = await resubmitJob(ctx, old.id);
  assert.notEqual(next.id, old.id);
  const launch = next.launch as Record<string, unknown>;
  assert.equal(launch.recipe, "batch");
  assert.equal(launch.resubmitted_from, old.id);
  assert.equal(launch.results, path.join("iterations", "1", "remote", `generate.${next.id}.results.jsonl`));
  assert.equal((next.spec as { script: string }).script, (old.spec as { script: string }).script);
  assert.deepEqual(
    next.inputs?.map((i) => i.sha256),
    old.inputs?.map((i) => i.sha256),
    "the inputs are the old job's, copied on the host",
  );
  assert.equal(fs.readFileSync(path.join(next.remote.dir, "requests.jsonl"), "utf8"), '{"custom_id":"generate:p1"}\n');
  assert.ok(new JobStore(dir).get(old.id), "the old record is kept");
  assert.deepEqual(new JobStore(dir).get(next.id)?.launch, launch, "the record on disk names the new results file");
});

test("a job without a recipe is resubmitted as its plain script, with no results file", async () => {
  const dir = launchExperiment("plain", { box: { kind: "local", workdir: path.join(root, "work-plain") } });
  const ctx: LaunchContext = { experimentDir: dir, deps, pollMs: 100 };
  const old = await endedJob(ctx, { kind: "command", launch: {} });
  const next = await resubmitJob(ctx, old.id);
  assert.deepEqual(next.launch, { resubmitted_from: old.id });
  assert.equal((next.spec as { script: string }).script, "wc -l < requests.jsonl");
});
