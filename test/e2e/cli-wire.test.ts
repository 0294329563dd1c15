// Every line the CLI writes with --json is one the editor's guard (src/shared/cli-wire.ts) reads:
// each command once, against a chat-completions server and a host of kind "local" on this machine.
// runCli itself rejects a --json command whose stdout holds an undeclared line; this test also checks
// that the lines are the kinds the editor waits for.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { ensureBuilt, makeExperiment, runCli, tmpDir, wireProblems, type CliResult } from "../support/cli.js";
import { freePortGuess } from "../support/launch-experiment.js";
import { installStandIns, standInSetup } from "../support/stand-ins.js";
import { LocalShell } from "../../src/core/remote/local-shell.js";
import { parseWireLine, type WireType } from "../../src/shared/cli-wire.js";

let server: FakeServer;
let root = "";

before(async () => {
  ensureBuilt();
  server = await startFakeOpenAI();
  root = tmpDir("wire");
});
after(() => {
  server.close();
  fs.rmSync(root, { recursive: true, force: true });
});

function types(r: CliResult): WireType[] {
  assert.deepEqual(wireProblems(r.stdout), []);
  return r.stdout
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => parseWireLine(l)!.type);
}

async function ok(args: string[], env: NodeJS.ProcessEnv = {}): Promise<WireType[]> {
  const r = await runCli([...args, "--json"], env);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  return types(r);
}

test("run, status, pairs, export, validate, try, batch write and read, init: every line declared", { timeout: 120_000 }, async () => {
  const dir = makeExperiment(server.url);
  const iter = path.join(dir, "iterations", "1");
  const run = await ok(["run", dir, "--iteration", "1"]);
  for (const t of ["run-start", "stage-start", "progress", "stage-end", "run-end"] as const)
    assert.ok(run.includes(t), `run writes ${t}: ${run.join(" ")}`);
  assert.deepEqual(await ok(["status", dir]), ["status"]);
  assert.equal((await ok(["pairs", iter])).at(-1), "pairs");
  assert.equal((await ok(["export", iter])).at(-1), "export");
  assert.deepEqual(await ok(["validate", dir]), ["validate"]);
  assert.deepEqual(await ok(["try", dir, "--role", "judge", "--sample", "1"]), ["try"]);
  const requests = path.join(root, "requests.jsonl");
  assert.equal((await ok(["batch", "write", dir, "--iteration", "2", "--stage", "generate", requests])).at(-1), "batch-write");
  const results = path.join(root, "results.jsonl");
  fs.writeFileSync(results, "");
  assert.equal((await ok(["batch", "read", dir, "--iteration", "2", "--stage", "generate", results])).at(-1), "batch-read");
  assert.deepEqual(await ok(["init", path.join(root, "fresh")]), ["init"]);
  // A failure ends with the declared error line.
  const bad = await runCli(["status", path.join(root, "nowhere"), "--json"]);
  assert.equal(bad.code, 1);
  assert.deepEqual(types(bad), ["error"]);
});

test("hosts, launch generate and train on a local host, jobs, attach, resubmit: every line declared", { timeout: 180_000 }, async () => {
  const bin = await installStandIns(new LocalShell(), path.join(root, "bin"));
  const dir = makeExperiment(server.url, (c) => {
    Object.assign(c, {
      hosts: { here: { kind: "local", workdir: path.join(root, "work"), setup: `${standInSetup(bin)}\nexport MJ_TRL_STEP_MS=5` } },
      remote: {
        generation: { host: "here", mode: "serve", port: freePortGuess(), ready_timeout_s: 60 },
        training: { host: "here", model: "stand-in/base-model" },
      },
    });
  });
  assert.deepEqual(await ok(["hosts", dir]), ["hosts"]);
  assert.deepEqual(await ok(["hosts", "check", dir, "here"]), ["host-check"]);
  const gen = await ok(["launch", "generate", dir, "--iteration", "1", "--mode", "serve"]);
  assert.ok(gen.includes("job") && gen.at(-1) === "launched", gen.join(" "));
  assert.equal((await ok(["run", dir, "--iteration", "1"])).at(-1), "run-end");
  const train = await ok(["launch", "train", dir, "--iteration", "1"]);
  assert.ok(train.includes("metrics") && train.at(-1) === "launched", train.join(" "));
  const listed = await runCli(["jobs", dir, "--json"]);
  assert.deepEqual(types(listed), ["jobs"]);
  const line = parseWireLine(listed.stdout.trim());
  assert.ok(line?.type === "jobs");
  const id = line.jobs.find((j) => j.kind === "train")!.id;
  assert.equal((await ok(["jobs", "attach", dir, id])).at(-1), "attached");
  const again = await runCli(["jobs", "resubmit", dir, id, "--json"]);
  const resubmitted = parseWireLine(again.stdout.trim().split("\n").at(-1)!);
  assert.ok(resubmitted?.type === "resubmitted", again.stdout);
  assert.equal((await ok(["jobs", "cancel", dir, resubmitted.job.id])).at(-1), "cancelled");
});
