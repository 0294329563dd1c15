// Detached jobs on a real OpenSSH server on 127.0.0.1 (scripts/remote/sshd.sh), run as the test user:
// a job outlives its connection, a follower survives a dropped link, and a log of gigabytes is
// followed with bounded memory.
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
import { MetajudgeError } from "../../src/core/errors.js";
import { killConnections, sshdUnavailable, startSshd, type Sshd } from "../support/sshd.js";
import { startRayServer } from "../support/ray-server.js";

const skip = sshdUnavailable ? `no test sshd: ${sshdUnavailable}` : false;
const workdir = `mj-jobs-ssh-${process.pid}`;
const profile: HostProfile = { kind: "ssh", ssh: { host: "mj-loop" }, workdir: `~/${workdir}`, env: { MJ_FROM_PROFILE: "p" } };
let sshd: Sshd;
let experiment: string;

before(async () => {
  if (skip) return;
  sshd = await startSshd();
  experiment = fs.mkdtempSync(path.join(os.tmpdir(), "mj-jobs-ssh-"));
});

after(async () => {
  if (skip) return;
  closeAllSsh();
  try {
    // Jobs run as the throwaway test user, so the kill runs as that user too: whatever a recycled pid
    // now names, it can only reach that user's processes, all of them started by these tests.
    execFileSync("runuser", [
      "-u",
      sshd.user,
      "--",
      "bash",
      "-c",
      `for p in ~/${workdir}/jobs/*/pid; do [ -f "$p" ] && kill -KILL -- -$(cat "$p") 2>/dev/null; done; true`,
    ]);
    execFileSync("rm", ["-rf", `/home/${sshd.user}/${workdir}`]);
  } finally {
    await sshd.stop();
  }
});

function deps(secrets: Record<string, string> = {}): HostDeps {
  return {
    sshConfigFile: sshd.configFile,
    knownHostsFile: sshd.knownHostsFile,
    confirmHostKey: async () => false,
    passphrase: async () => undefined,
    secret: async (name) => secrets[name],
  };
}

async function start(ex: Executor, store: JobStore, script: string): Promise<JobRecord> {
  const id = newJobId("command", 1);
  const dir = await jobDir(ex.shell!, profile.workdir, id);
  store.create({ id, kind: "command", title: "ssh job", host: "loop", executor: "ssh", state: "submitting", remote: { dir } });
  const ref = await ex.submit({ id, dir, script, secretEnv: { MJ_SECRET: "over-stdin" } });
  return store.update(id, { remote: { ...ref }, state: "queued" });
}

test("a job outlives its SSH connection and is followed to its end through dropped links", { skip, timeout: 120_000 }, async () => {
  const first = await openExecutor(profile, deps());
  const job = await start(
    first,
    new JobStore(experiment),
    'echo "as $(id -un) $MJ_FROM_PROFILE $MJ_SECRET"; for i in $(seq 1 16); do echo tick $i; sleep 0.25; done',
  );
  assert.ok(killConnections(sshd) > 0, "there was a connection to drop");
  first.close();
  closeAllSsh();

  // A new process would start from the record alone: new store, new executor, new connection.
  const store = new JobStore(experiment);
  const again = await openExecutor(profile, deps());
  assert.equal((await again.status(store.get(job.id)!.remote)).state, "running", "the job kept running without its connection");
  let dropped = 0;
  const final = await followJob({
    store,
    executor: again,
    id: job.id,
    intervalMs: 100,
    onLog: (d) => {
      if (dropped === 0 && d.toString().includes("tick 4")) dropped = killConnections(sshd);
    },
  });
  again.close();
  assert.deepEqual([final.state, final.exit_code], ["succeeded", 0]);
  assert.ok(dropped > 0, "the follower's connection was dropped mid-way");
  const expected = `as ${sshd.user} p over-stdin\n` + Array.from({ length: 16 }, (_, i) => `tick ${i + 1}\n`).join("");
  assert.equal(fs.readFileSync(store.logPath(job.id), "utf8"), expected, "every byte once, in order");
  const runSh = execFileSync("cat", [`${job.remote.dir}/run.sh`], { encoding: "utf8" });
  assert.ok(!runSh.includes("over-stdin") && runSh.includes("export MJ_FROM_PROFILE=p"));
});

test("a log of gigabytes is followed with bounded memory: a skip marker and the tail", { skip, timeout: 300_000 }, async (t) => {
  const ex = await openExecutor(profile, deps());
  const store = new JobStore(experiment);
  const gib = 3;
  const job = await start(ex, store, `yes "$(head -c 99 /dev/zero | tr '\\0' x)" | head -c ${gib}G; echo; echo the-end`);
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  let final: JobRecord;
  try {
    final = await followJob({ store, executor: ex, id: job.id, intervalMs: 200 });
  } finally {
    clearInterval(sampler);
    ex.close();
  }
  const size = gib * 1024 ** 3 + "\nthe-end\n".length;
  assert.equal(final.state, "succeeded");
  assert.equal(final.log.offset, size);
  // The job writes GiB/s, the follower copies ~100 MiB/s over loopback: what it copied before jumping
  // ahead depends on the machine's load, but the bulk of the log must have been skipped, not copied.
  assert.ok(final.log.skipped > size / 2, `skipped ${final.log.skipped} of ${size}`);
  const mirror = fs.readFileSync(store.logPath(job.id));
  assert.equal(mirror.length + final.log.skipped - markers(mirror).bytes, size, "copied + skipped = the whole log");
  // Whatever was copied before the job ran far ahead stays; then a marker says what was skipped.
  const found = markers(mirror);
  assert.ok(found.count >= 1);
  assert.match(
    found.text[0]!,
    new RegExp(`^\\n\\[metajudge: skipped \\d+ bytes; the whole log is on the host at ${job.remote.dir}/log\\]\\n$`),
  );
  assert.ok(mirror.subarray(-20).toString().endsWith("xxx\nthe-end\n"), JSON.stringify(mirror.subarray(-20).toString()));
  const growth = peak - before;
  t.diagnostic(`rss grew by ${Math.round(growth / 1024 / 1024)} MiB following a ${gib} GiB log; ${mirror.length} bytes copied`);
  assert.ok(growth < 256 * 1024 * 1024, `rss grew by ${Math.round(growth / 1024 / 1024)} MiB following a ${gib} GiB log`);
});

test("a Ray dashboard is reached through an SSH forward, with its token from the secrets", { skip, timeout: 60_000 }, async () => {
  const ray = await startRayServer({ token: "tunnel-token" });
  try {
    const ex = await openExecutor(
      { kind: "ray", address: ray.url, tunnel: { host: "mj-loop" }, auth_token_env: "RAY_TOKEN", workdir: "/tmp", gpus: 0 },
      deps({ RAY_TOKEN: "tunnel-token" }),
    );
    assert.match(ex.shell?.label ?? "", /ssh/);
    const ref = await ex.submit({ id: newJobId("command", 1), dir: path.join(experiment, "ray-job"), script: "echo through the tunnel" });
    await waitForState(ex, ref, ["succeeded"], { intervalMs: 100, timeoutMs: 30_000 });
    assert.equal((await ex.readLog(ref, 0, 1000)).data.toString(), "through the tunnel\n");
    ex.close();
    // Closing the executor closed the forward it went through.
    await assert.rejects(ex.status(ref), (e) => e instanceof MetajudgeError && e.reason === "refused");
  } finally {
    await ray.close();
  }
});

function markers(mirror: Buffer): { count: number; bytes: number; text: string[] } {
  const found = mirror.toString("latin1").match(/\n\[metajudge: [^\]]*\]\n/g) ?? [];
  return { count: found.length, bytes: found.reduce((n, m) => n + m.length, 0), text: found };
}
