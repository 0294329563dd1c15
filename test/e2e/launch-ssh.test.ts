// Launch recipes through a real OpenSSH server on 127.0.0.1 (user mjremote, an encrypted key whose
// passphrase the deps hand over): files staged over SFTP, jobs detached on the "host", serve mode
// through an SSH tunnel, training recorded home. Names hostile to shells everywhere, and neither the
// API key nor the passphrase may land in any file on either side.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { tmpDir } from "../support/cli.js";
import { installStandIns, standInSetup } from "../support/stand-ins.js";
import { sshdUnavailable, startSshd, type Sshd } from "../support/sshd.js";
import {
  HOSTILE,
  KEY_ENV,
  PWNED,
  SECRET,
  jobAlive,
  filesHolding,
  launchExperiment,
  readManifest,
  recordCounts,
} from "../support/launch-experiment.js";
import { closeAllSsh, openSshShell } from "../../src/core/remote/ssh/index.js";
import { quote } from "../../src/core/remote/shell.js";
import { attachJob, launchGeneration, launchTraining, type LaunchContext, type RemoteEvent } from "../../src/core/remote/launch/index.js";
import { JobStore, type JobRecord } from "../../src/core/remote/jobs/record.js";
import { MetajudgeError } from "../../src/core/errors.js";
import type { HostDeps, RemoteShell } from "../../src/core/remote/types.js";

const skip = sshdUnavailable ? `no test sshd: ${sshdUnavailable}` : false;
let sshd: Sshd;
let deps: HostDeps;
let shell: RemoteShell;
let bin = "";
let home = "";
let local = "";
// Per process: several runs of this file may share the host's one test user.
const WORKDIR = `~/mj launch ${process.pid} ${HOSTILE}`;

before(async () => {
  if (skip) return;
  fs.rmSync(PWNED, { force: true });
  sshd = await startSshd();
  deps = {
    sshConfigFile: sshd.configFile,
    knownHostsFile: sshd.knownHostsFile,
    confirmHostKey: async () => false,
    passphrase: async () => sshd.passphrase,
    secret: async () => undefined,
  };
  shell = await openSshShell({ host: "mj-enc" }, deps);
  home = await shell.home();
  bin = await installStandIns(shell, `~/mj-bin-${process.pid}`);
  local = tmpDir("launch-ssh");
  process.env[KEY_ENV] = SECRET;
});

after(async () => {
  if (skip) return;
  delete process.env[KEY_ENV];
  await shell.exec(`rm -rf ${quote(`${home}/mj launch ${process.pid} `)}* ${quote(bin)}`).catch(() => undefined);
  shell.close();
  closeAllSsh();
  await sshd.stop();
  fs.rmSync(local, { recursive: true, force: true });
});

function experiment(name: string, env: Record<string, string> = {}): string {
  return launchExperiment(name, { gpu: { kind: "ssh", ssh: { host: "mj-enc" }, workdir: WORKDIR, setup: standInSetup(bin), env } });
}

function context(experimentDir: string, events: RemoteEvent[] = []): LaunchContext {
  return { experimentDir, deps, pollMs: 200, onEvent: (e) => events.push(e) };
}

describe("launch over SSH", { skip, timeout: 240_000 }, () => {
  let batchDir = "";

  it("batch mode: staged over SFTP, a half-written output kept, only the missing requests resubmitted", async () => {
    batchDir = experiment("batch", { MJ_VLLM_EXIT_HALF: "1", MJ_FAULT_ONCE: "../fault-once" });
    const { jobs } = await launchGeneration(context(batchDir), { iteration: 1 });
    const gen = jobs.filter((j) => j.stage === "generate");
    assert.equal(gen.length, 2);
    assert.equal(gen[0]!.state, "failed", "the first job died half way");
    const first = gen[0]!.imported as { requests: number; missing: number };
    assert.ok(first.requests > 0, "its partial output was imported");
    assert.equal((gen[1]!.launch as { requests: number }).requests, first.missing);
    assert.equal(gen[1]!.state, "succeeded");
    assert.ok(gen[0]!.remote.dir.startsWith(`${home}/mj launch ${process.pid} '`), gen[0]!.remote.dir);
    const m = readManifest(batchDir);
    for (const s of ["generate", "judge", "metajudge", "pairs", "export"]) assert.equal(m.stages[s]!.state, "done", s);
    const c = recordCounts(batchDir);
    assert.equal(c["responses.jsonl"], 12);
    assert.equal(c["judgements.jsonl"], 48);
  });

  it("serve mode: through an SSH tunnel, the same records as batch, the server stopped afterwards", async () => {
    const dir = experiment("serve", { MJ_VLLM_LOAD_MS: "1500" });
    const events: RemoteEvent[] = [];
    const { jobs } = await launchGeneration(context(dir, events), { iteration: 1, mode: "serve" });
    const job = jobs[0]!;
    assert.equal(job.finalized, true);
    assert.ok(["cancelled", "succeeded"].includes(job.state), job.state);
    assert.deepEqual(recordCounts(dir), recordCounts(batchDir));
    const pid = Number((await shell.exec(`cat ${quote(`${job.remote.dir}/pid`)}`)).stdout.trim());
    assert.ok(pid > 0);
    assert.equal(jobAlive(pid, job.remote.dir), false, "the server's process group is gone");
    const port = (job.launch as { port: number }).port;
    const ps = await shell.exec(`ps -u mjremote -o args= | grep -c -- ${quote(`[v]llm.mjs serve .* --port ${port}$`)} || true`);
    assert.equal(ps.stdout.trim(), "0", `a stand-in server on port ${port} is still running`);
  });

  it("training: metrics streamed, the manifest and the next iteration's models recorded", async () => {
    const events: RemoteEvent[] = [];
    const { job, checkpoint } = await launchTraining(context(batchDir, events), { iteration: 1 });
    assert.equal(job.state, "succeeded");
    assert.equal(checkpoint, `gpu:${job.remote.dir}/checkpoint`);
    assert.ok(events.filter((e) => e.type === "metrics").length >= 2);
    const training = readManifest(batchDir).training!;
    assert.equal(training.checkpoint, checkpoint);
    assert.ok(training.final["rewards/accuracies"]! > 0);
    const cfg = JSON.parse(fs.readFileSync(path.join(batchDir, "metajudge.json"), "utf8")) as {
      iterations: { models?: Record<string, string> }[];
    };
    assert.equal(cfg.iterations[1]!.models?.actor, `${job.remote.dir}/checkpoint`);
    // Attaching to a finished, finalized job changes nothing.
    const configBefore = fs.readFileSync(path.join(batchDir, "metajudge.json"), "utf8");
    const again = await attachJob(context(batchDir), job.id);
    assert.equal(again.finalized, true);
    assert.equal(fs.readFileSync(path.join(batchDir, "metajudge.json"), "utf8"), configBefore);
  });

  it("a failing trainer over SSH: jobFailed with exit 3, nothing recorded as the next model", async () => {
    const dir = experiment("fail", { MJ_TRL_FAIL: "1" });
    await launchGeneration(context(dir), { iteration: 1 });
    const before = fs.readFileSync(path.join(dir, "metajudge.json"), "utf8");
    await assert.rejects(
      launchTraining(context(dir), { iteration: 1 }),
      (e: unknown) => e instanceof MetajudgeError && e.reason === "jobFailed" && /exit code 3/.test(e.message),
    );
    const train = new JobStore(dir).list().filter((j: JobRecord) => j.kind === "train");
    assert.equal(train[0]!.state, "failed");
    assert.equal(fs.readFileSync(path.join(dir, "metajudge.json"), "utf8"), before);
  });

  it("no marker file, and neither the API key nor the passphrase in any file here or on the host", async () => {
    assert.equal(fs.existsSync(PWNED), false, `${PWNED} exists: a name reached a shell unquoted`);
    for (const secret of [SECRET, sshd.passphrase]) {
      assert.deepEqual(filesHolding(path.dirname(batchDir), secret), []);
      const r = await shell.exec(`grep -rlF -e ${quote(secret)} ${quote(home)} 2>/dev/null || true`);
      assert.equal(r.stdout.trim(), "", `on the host: ${r.stdout}`);
    }
    const scripts = await shell.exec(`find ${quote(home)} -name run.sh -path '*/jobs/*' -exec cat {} +`);
    assert.match(scripts.stdout, /vllm run-batch -i input\.jsonl -o output\.jsonl --model base-model/);
  });
});
