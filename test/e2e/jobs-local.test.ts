// Detached jobs on this machine, through the same executor SSH hosts use: real processes, real
// process groups, real signals.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalShell } from "../../src/core/remote/local-shell.js";
import { DetachedExecutor, LOST_DETAIL } from "../../src/core/remote/jobs/detached.js";
import { followJob, waitForState } from "../../src/core/remote/jobs/follow.js";
import { JobStore, type JobRecord } from "../../src/core/remote/jobs/record.js";
import { jobDir } from "../../src/core/remote/jobs/script.js";
import { newJobId } from "../../src/core/remote/jobs/ids.js";
import type { Executor, JobSpec } from "../../src/core/remote/types.js";
import { MetajudgeError } from "../../src/core/errors.js";
import { endJobGroup, type StartedJob } from "../support/job-groups.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "mj-jobs-local-"));
const experiment = path.join(root, "experiment");
const workdir = path.join(root, "host");
const started: StartedJob[] = [];

function executor(): DetachedExecutor {
  return new DetachedExecutor(
    new LocalShell(),
    { kind: "local", setup: "export FROM_SETUP=yes", env: { GREETING: "hello 'world'" } },
    { graceSeconds: 2 },
  );
}

async function start(ex: DetachedExecutor, store: JobStore, script: string, extra: Partial<JobSpec> = {}): Promise<JobRecord> {
  const id = newJobId("command", 1);
  const dir = await jobDir(ex.shell, workdir, id);
  store.create({ id, kind: "command", title: script, host: "here", executor: "local", state: "submitting", remote: { dir } });
  const ref = await ex.submit({ id, dir, script, ...extra });
  started.push(ref);
  return store.update(id, { remote: { ...ref }, state: "queued", submitted_at: new Date().toISOString() });
}

/** Processes of a group that are not zombies (this machine's init reaps orphans lazily). */
function liveMembers(pgid: number): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") out.push(pid);
    } catch {
      // ended while we looked
    }
  }
  return out;
}

test.after(() => {
  // Anything a failed test left running was started by this file: end it by its group id.
  for (const job of started) endJobGroup(job);
});

test("a job's log is streamed into the mirror and its exit code ends it", async () => {
  const ex = executor();
  const store = new JobStore(experiment);
  const job = await start(ex, store, 'echo "$GREETING $FROM_SETUP $TOKEN"; for i in 1 2 3; do echo line $i; sleep 0.3; done', {
    secretEnv: { TOKEN: "s3cr3t-value" },
  });
  const pieces: string[] = [];
  const states: string[] = [];
  const final = await followJob({
    store,
    executor: ex,
    id: job.id,
    intervalMs: 100,
    onLog: (d) => pieces.push(d.toString()),
    onState: (r) => states.push(r.state),
  });
  assert.equal(final.state, "succeeded");
  assert.equal(final.exit_code, 0);
  const expected = "hello 'world' yes s3cr3t-value\nline 1\nline 2\nline 3\n";
  assert.equal(fs.readFileSync(store.logPath(job.id), "utf8"), expected);
  assert.equal(pieces.join(""), expected);
  assert.ok(pieces.length >= 2, `the log arrived in pieces while the job ran (got ${pieces.length})`);
  assert.ok(states.includes("running") && states.at(-1) === "succeeded", states.join(","));
  assert.equal(final.log.offset, Buffer.byteLength(expected));
  assert.ok(final.started_at && final.finished_at);
  // The secret reached the job through its environment only.
  for (const f of fs.readdirSync(job.remote.dir)) {
    if (f !== "log" && fs.statSync(path.join(job.remote.dir, f)).isFile())
      assert.ok(!fs.readFileSync(path.join(job.remote.dir, f), "utf8").includes("s3cr3t"), f);
  }
  assert.ok(!fs.readFileSync(store.recordPath(job.id), "utf8").includes("s3cr3t"));
});

test("a non-zero exit is failed with its code", async () => {
  const ex = executor();
  const store = new JobStore(experiment);
  const job = await start(ex, store, "echo about to fail >&2; exit 7");
  const final = await followJob({ store, executor: ex, id: job.id, intervalMs: 100 });
  assert.deepEqual([final.state, final.exit_code, final.detail], ["failed", 7, "exit 7"]);
  assert.equal(fs.readFileSync(store.logPath(job.id), "utf8"), "about to fail\n");
});

test("the secrets never appear on a command line while the job runs", async () => {
  const ex = executor();
  const store = new JobStore(experiment);
  const job = await start(ex, store, "sleep 5", { secretEnv: { API_KEY: "do-not-show-me" } });
  await waitForState(ex, job.remote, ["running"], { intervalMs: 100, timeoutMs: 30_000 });
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let cmdline = "";
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    assert.ok(!cmdline.includes("do-not-show-me"), `pid ${pid}: ${cmdline}`);
  }
  await ex.cancel(job.remote);
  assert.equal((await ex.status(job.remote)).state, "cancelled");
});

test("cancel ends the whole process group, even a script that ignores SIGTERM", async () => {
  const ex = executor();
  const store = new JobStore(experiment);
  const polite = await start(ex, store, "sleep 60 & wait");
  const stubborn = await start(ex, store, "trap '' TERM; sleep 60");
  await waitForState(ex, polite.remote, ["running"], { intervalMs: 100, timeoutMs: 30_000 });
  await waitForState(ex, stubborn.remote, ["running"], { intervalMs: 100, timeoutMs: 30_000 });
  await ex.cancel(polite.remote);
  await ex.cancel(stubborn.remote);
  const a = await followJob({ store, executor: ex, id: polite.id, intervalMs: 100 });
  const b = await followJob({ store, executor: ex, id: stubborn.id, intervalMs: 100 });
  assert.equal(a.state, "cancelled");
  assert.equal(a.exit_code, 143);
  assert.deepEqual([b.state, b.exit_code], ["cancelled", null]);
  for (const pid of [polite.remote.pid!, stubborn.remote.pid!]) {
    assert.deepEqual(liveMembers(pid), [], `group ${pid} is gone`);
  }
});

test("a job killed without a chance to record its end is lost", async () => {
  const ex = executor();
  const store = new JobStore(experiment);
  const job = await start(ex, store, "sleep 60");
  await waitForState(ex, job.remote, ["running"], { intervalMs: 100, timeoutMs: 30_000 });
  process.kill(-job.remote.pid!, "SIGKILL");
  const final = await followJob({ store, executor: ex, id: job.id, intervalMs: 100 });
  assert.deepEqual([final.state, final.detail], ["lost", LOST_DETAIL]);
});

test("a pid that now belongs to another process (after a reboot) is not taken for the job", async () => {
  const ex = executor();
  const dir = path.join(workdir, "jobs", "it1-command-rebooted");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "pid"), `${process.pid}\n`);
  fs.mkdirSync(path.join(dir, "launched"));
  assert.deepEqual(await ex.status({ dir, pid: process.pid }), { state: "lost", exitCode: null, detail: LOST_DETAIL });
  await ex.cancel({ dir, pid: process.pid }); // would end this very test run if it signalled the group
  assert.equal((await ex.status({ dir, pid: process.pid })).state, "cancelled");
});

test("a launch that never wrote a pid is starting for a minute, then lost", async () => {
  const ex = executor();
  const dir = path.join(workdir, "jobs", "it1-command-halfway");
  fs.mkdirSync(path.join(dir, "launched"), { recursive: true });
  assert.equal((await ex.status({ dir })).state, "submitting");
  const past = new Date(Date.now() - 5 * 60_000);
  fs.utimesSync(path.join(dir, "launched"), past, past);
  assert.deepEqual(await ex.status({ dir }), {
    state: "lost",
    exitCode: null,
    detail: `the launch in ${dir} ended before the job started`,
  });
});

test("submitting one id twice starts one job", async () => {
  const ex = executor();
  const store = new JobStore(experiment);
  const job = await start(ex, store, "echo ran >> runs.txt; sleep 1");
  const again = await ex.submit({ id: job.id, dir: job.remote.dir, script: "echo ran >> runs.txt; sleep 1" });
  const racing = await Promise.all(
    [1, 2, 3].map(() => executor().submit({ id: job.id, dir: job.remote.dir, script: "echo ran >> runs.txt" })),
  );
  assert.equal(again.pid, job.remote.pid);
  for (const r of racing) assert.equal(r.pid, job.remote.pid);
  await followJob({ store, executor: ex, id: job.id, intervalMs: 100 });
  assert.equal(fs.readFileSync(path.join(job.remote.dir, "runs.txt"), "utf8"), "ran\n");
});

test("a new store and executor re-attach to a job started earlier and copy each byte once", async () => {
  const first = executor();
  const job = await start(first, new JobStore(experiment), "for i in $(seq 1 12); do echo tick $i; sleep 0.25; done; exit 2");
  const stop = new AbortController();
  const partial = followJob({
    store: new JobStore(experiment),
    executor: first,
    id: job.id,
    intervalMs: 100,
    signal: stop.signal,
    onLog: (d) => (d.toString().includes("tick 3") ? stop.abort() : undefined),
  });
  const left = await partial;
  assert.equal(left.state, "running", "following stopped; the job did not");
  first.close();
  assert.ok(left.log.offset > 0);

  const store = new JobStore(experiment);
  const record = store.get(job.id)!;
  assert.equal(record.state, "running");
  const final = await followJob({ store, executor: executor(), id: job.id, intervalMs: 100 });
  assert.deepEqual([final.state, final.exit_code], ["failed", 2]);
  const expected = Array.from({ length: 12 }, (_, i) => `tick ${i + 1}\n`).join("");
  assert.equal(fs.readFileSync(store.logPath(job.id), "utf8"), expected);
});

test("a log far ahead of the copy is followed by its tail, with a marker saying what was skipped", async () => {
  const ex = executor();
  const store = new JobStore(experiment);
  const job = await start(ex, store, "head -c 3000000 /dev/zero | tr '\\0' x | fold -w 100; echo the-end");
  await waitForState(ex, job.remote, ["succeeded"], { intervalMs: 100, timeoutMs: 60_000 });
  const final = await followJob({ store, executor: ex, id: job.id, intervalMs: 100, maxChunk: 64 * 1024, tailSkipAbove: 256 * 1024 });
  const mirror = fs.readFileSync(store.logPath(job.id), "utf8");
  const size = fs.statSync(path.join(job.remote.dir, "log")).size;
  assert.equal(final.log.offset, size);
  assert.equal(final.log.skipped, size - 64 * 1024);
  assert.match(
    mirror,
    new RegExp(`^\\n\\[metajudge: skipped ${final.log.skipped} bytes; the whole log is on the host at ${job.remote.dir}/log\\]\\n`),
  );
  assert.ok(mirror.endsWith("xxthe-end\n"), mirror.slice(-200));
  assert.ok(mirror.length < 70 * 1024, `mirror is ${mirror.length} bytes`);
});

/** A real executor whose next status calls fail as a dropped link (or a refused key) would. */
function flaky(real: Executor, failures: MetajudgeError[]): Executor {
  return Object.assign(Object.create(real) as Executor, {
    status: (ref: Parameters<Executor["status"]>[0]) => {
      const next = failures.shift();
      return next ? Promise.reject(next) : real.status(ref);
    },
  });
}

test("a poll that fails on the link is retried with a fresh executor; a refused key is not", async () => {
  const store = new JobStore(experiment);
  const ex = executor();
  const job = await start(ex, store, "echo one; sleep 0.5; echo two");
  const retries: number[] = [];
  let reconnects = 0;
  const broken = flaky(ex, [new MetajudgeError("refused", "link dropped"), new MetajudgeError("timeout", "no answer")]);
  const final = await followJob({
    store,
    executor: broken,
    id: job.id,
    intervalMs: 20,
    onRetry: (_e, attempt) => retries.push(attempt),
    reconnect: async () => {
      reconnects++;
      return broken;
    },
  });
  assert.equal(final.state, "succeeded");
  assert.deepEqual(retries, [1, 2]);
  assert.equal(reconnects, 2);
  assert.equal(fs.readFileSync(store.logPath(job.id), "utf8"), "one\ntwo\n");

  const other = await start(ex, store, "sleep 2");
  await assert.rejects(
    followJob({ store, executor: flaky(ex, [new MetajudgeError("auth", "key refused")]), id: other.id, intervalMs: 20 }),
    (e) => e instanceof MetajudgeError && e.reason === "auth",
  );
  await ex.cancel(other.remote);
});
