// One writer per iteration: real CLI processes racing on one iteration, stale and foreign locks,
// a SIGKILLed run's lock, temp files left by a crash, and a full disk (a real small tmpfs).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { appendAnnotation } from "../../src/core/store/annotations.js";
import { startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { collect, ensureBuilt, makeExperiment, readLines, runCli, spawnCli, tmpDir } from "../support/cli.js";

let server: FakeServer;

before(async () => {
  ensureBuilt();
  server = await startFakeOpenAI({ latencyMs: (req) => 4 + (JSON.stringify(req.messages).length % 11) });
});
after(() => server.close());

const RECORD_FILES = ["responses.jsonl", "judgements.jsonl", "meta_judgements.jsonl"];

function idsOnce(iter: string): void {
  for (const f of RECORD_FILES) {
    const ids = readLines<{ id: string }>(path.join(iter, f)).map((r) => r.id);
    assert.ok(ids.length > 0, `${f} has records`);
    assert.equal(new Set(ids).size, ids.length, `every id of ${f} appears exactly once`);
  }
  for (const b of readLines<{ first_id: string; second_id: string }>(path.join(iter, "meta_judgements.jsonl"))) {
    assert.notEqual(b.first_id, b.second_id, "no judgement battled against itself");
  }
}

/** A pid that is certainly not running: a child that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r.stdout);
}

function writeLock(iter: string, holder: { pid: number; hostname: string; started_at?: string; command?: string }): void {
  fs.mkdirSync(iter, { recursive: true });
  fs.writeFileSync(
    path.join(iter, ".lock"),
    JSON.stringify({ started_at: new Date().toISOString(), command: "metajudge run exp --iteration 1", ...holder }) + "\n",
  );
}

test("two runs at once on one iteration: one refuses naming the holder, the other completes, nothing written twice", async () => {
  const exp = makeExperiment(server.url);
  const iter = path.join(exp, "iterations", "1");
  const a = spawnCli(["run", exp, "--iteration", "1", "--json"]);
  // Start the second once the first is surely writing, as a second window would.
  let b: ReturnType<typeof spawnCli> | undefined;
  let bDone: ReturnType<typeof collect> | undefined;
  const aDone = collect(a, (e) => {
    if (!b && e.type === "progress") {
      b = spawnCli(["run", exp, "--iteration", "1", "--json"]);
      bDone = collect(b);
    }
  });
  const ra = await aDone;
  assert.ok(bDone, "the second run was started while the first ran");
  const rb = await bDone!;
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(rb.code, 1, `the second run must refuse: ${rb.stderr}`);
  assert.match(rb.stderr, new RegExp(`locked by pid ${a.pid} on ${os.hostname().replace(/[.]/g, "\\.")} since `));
  assert.match(rb.stderr, /metajudge run/, "the holder's command is named");
  const err = rb.events.find((e) => e.type === "error");
  assert.equal(err?.reason, "locked");
  idsOnce(iter);
  assert.ok(!fs.existsSync(path.join(iter, ".lock")), "the lock is released when the run ends");
});

test("a stale lock of a dead process on this host is taken over, and said so", async () => {
  const exp = makeExperiment(server.url);
  const iter = path.join(exp, "iterations", "1");
  const pid = deadPid();
  writeLock(iter, { pid, hostname: os.hostname() });
  const res = await runCli(["run", exp, "--iteration", "1", "--json"]);
  assert.equal(res.code, 0, res.stderr);
  const warning = res.events.find((e) => e.type === "warning" && String(e.message).includes("stale lock"));
  assert.ok(warning, `a warning names the old holder: ${JSON.stringify(res.events.filter((e) => e.type === "warning"))}`);
  assert.match(String(warning.message), new RegExp(`pid ${pid}`));
  idsOnce(iter);
  assert.ok(!fs.existsSync(path.join(iter, ".lock")));
});

test("a lock from another host is never taken over; the message says how to remove it", async () => {
  const exp = makeExperiment(server.url);
  const iter = path.join(exp, "iterations", "1");
  writeLock(iter, { pid: 4242, hostname: "gpu-node-7.example" });
  const res = await runCli(["run", exp, "--iteration", "1"]);
  assert.equal(res.code, 1, res.stderr);
  assert.match(res.stderr, /locked by pid 4242 on gpu-node-7\.example/);
  assert.match(res.stderr, /another host/);
  assert.ok(res.stderr.includes(path.join(iter, ".lock")), `the lock file is named: ${res.stderr}`);
  assert.ok(fs.existsSync(path.join(iter, ".lock")), "the foreign lock is left alone");
  assert.equal(readLines(path.join(iter, "responses.jsonl")).length, 0, "nothing was written");
  // pairs and export are writers too.
  const pairs = await runCli(["pairs", iter]);
  assert.equal(pairs.code, 1);
  assert.match(pairs.stderr, /locked by pid 4242/);
});

test("a live lock on this host is refused for pairs, export and batch read too", async () => {
  const exp = makeExperiment(server.url);
  const iter = path.join(exp, "iterations", "1");
  const first = await runCli(["run", exp, "--iteration", "1"]);
  assert.equal(first.code, 0, first.stderr);
  // A live process on this host that is not us: the test runner itself.
  writeLock(iter, { pid: process.pid, hostname: os.hostname(), command: "metajudge run exp --iteration 1 (editor)" });
  const before = fs.readFileSync(path.join(iter, "pairs.actor.jsonl"));
  for (const args of [
    ["pairs", iter],
    ["export", iter],
    ["batch", "read", exp, "--iteration", "1", "--stage", "judge", path.join(iter, "judgements.jsonl")],
  ]) {
    const res = await runCli(args);
    assert.equal(res.code, 1, `${args[0]}: ${res.stderr}`);
    assert.match(res.stderr, new RegExp(`locked by pid ${process.pid} on .* \\(metajudge run exp --iteration 1 \\(editor\\)\\)`), args[0]);
    assert.match(res.stderr, /wait for it to finish|stop it/);
  }
  assert.deepEqual(fs.readFileSync(path.join(iter, "pairs.actor.jsonl")), before);
  // A person may flag while a run holds the lock: annotations are not a run's writes.
  const judgement = readLines<{ id: string }>(path.join(iter, "judgements.jsonl"))[0]!;
  appendAnnotation(path.join(iter, "annotations.jsonl"), {
    target_id: judgement.id,
    label: "suspicious",
    note: "while locked",
    created_at: new Date().toISOString(),
  });
  assert.equal(readLines<{ note: string }>(path.join(iter, "annotations.jsonl")).at(-1)?.note, "while locked");
  // status says the iteration is being written, not just that its stages are done.
  const status = await runCli(["status", exp]);
  assert.match(status.stdout, new RegExp(`locked +by pid ${process.pid} on `));
  const sj = await runCli(["status", exp, "--json"]);
  const lock = (JSON.parse(sj.stdout.trim().split("\n").at(-1)!) as { iterations: { lock: { state: string; pid: number } | null }[] })
    .iterations[0]!.lock;
  assert.deepEqual([lock?.state, lock?.pid], ["held", process.pid]);
  fs.rmSync(path.join(iter, ".lock"));
  const free = await runCli(["status", exp, "--json"]);
  assert.equal((JSON.parse(free.stdout.trim().split("\n").at(-1)!) as { iterations: { lock: unknown }[] }).iterations[0]!.lock, null);
});

test("a writer that opens the iteration on its own (openRun, as batch submit does) holds the lock until it exits", async () => {
  const exp = makeExperiment(server.url);
  const iter = path.join(exp, "iterations", "1");
  const go = path.join(path.dirname(exp), "go");
  const code = `
    const fs = require("node:fs");
    const { openRun } = require(${JSON.stringify(path.join(__dirname, "../../src/core/pipeline/context.ts"))});
    openRun({ experimentDir: ${JSON.stringify(exp)}, iteration: 1, emit: () => {}, signal: new AbortController().signal }).then(() => {
      process.stdout.write("open\\n");
      const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(go)})) { clearInterval(t); } }, 20);
    });`;
  const child = spawn(process.execPath, ["--import", "tsx", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  const closed = new Promise((r) => child.on("close", r));
  try {
    await new Promise<void>((resolve) => child.stdout!.on("data", (d: Buffer) => d.toString().includes("open") && resolve()));
    const res = await runCli(["run", exp, "--iteration", "1"]);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, new RegExp(`locked by pid ${child.pid} `));
  } finally {
    fs.writeFileSync(go, "");
    await closed;
  }
  assert.ok(!fs.existsSync(path.join(iter, ".lock")), "released when that process exits");
  const again = await runCli(["run", exp, "--iteration", "1"]);
  assert.equal(again.code, 0, again.stderr);
});

test("SIGKILL of a run leaves its lock, which the next run takes over and finishes", async () => {
  const exp = makeExperiment(server.url);
  const iter = path.join(exp, "iterations", "1");
  const child = spawnCli(["run", exp, "--iteration", "1", "--json"]);
  let killed = false;
  const res = await collect(child, (e) => {
    if (!killed && e.type === "progress" && e.stage === "judge") {
      killed = true;
      child.kill("SIGKILL");
    }
  });
  assert.equal(res.signal, "SIGKILL");
  const left = JSON.parse(fs.readFileSync(path.join(iter, ".lock"), "utf8")) as {
    pid: number;
    hostname: string;
    command: string;
    started_at: string;
  };
  assert.equal(left.pid, child.pid);
  assert.equal(left.hostname, os.hostname());
  assert.match(left.command, /run/);
  assert.ok(!Number.isNaN(Date.parse(left.started_at)));
  const again = await runCli(["run", exp, "--iteration", "1", "--json"]);
  assert.equal(again.code, 0, again.stderr);
  assert.ok(
    again.events.some((e) => e.type === "warning" && String(e.message).includes(`pid ${child.pid}`)),
    "the takeover is reported",
  );
  idsOnce(iter);
});

test("SIGTERM while holding the lock: cancelled, and the lock released", async () => {
  const exp = makeExperiment(server.url);
  const iter = path.join(exp, "iterations", "1");
  const child = spawnCli(["run", exp, "--iteration", "1", "--json"]);
  let sent = false;
  const res = await collect(child, (e) => {
    if (!sent && e.type === "progress" && e.stage === "judge") {
      sent = true;
      child.kill("SIGTERM");
    }
  });
  assert.equal(res.code, 130, res.stderr);
  assert.ok(!fs.existsSync(path.join(iter, ".lock")), "released on cancel");
});

test("temp files a crash left (<file>.tmp-<pid> of dead pids) are cleaned by the next run; a live pid's are kept", async () => {
  const exp = makeExperiment(server.url);
  const iter = path.join(exp, "iterations", "1");
  const first = await runCli(["run", exp, "--iteration", "1", "--until", "metajudge"]);
  assert.equal(first.code, 0, first.stderr);
  const dead = deadPid();
  const stale = [`pairs.actor.jsonl.tmp-${dead}`, `manifest.json.tmp-${dead}`, `dpo.jsonl.tmp-${dead}`].map((f) => path.join(iter, f));
  for (const f of stale) fs.writeFileSync(f, "half of something");
  const live = path.join(iter, `dpo.jsonl.tmp-${process.pid}`);
  fs.writeFileSync(live, "another process is writing this");
  const res = await runCli(["run", exp, "--iteration", "1", "--json"]);
  assert.equal(res.code, 0, res.stderr);
  for (const f of stale) assert.ok(!fs.existsSync(f), `${path.basename(f)} removed`);
  assert.ok(fs.existsSync(live), "a temp file of a live process is left alone");
  assert.ok(
    res.events.some((e) => e.type === "warning" && String(e.message).includes("temporary")),
    "the cleaning is reported",
  );
  fs.rmSync(live);
});

test("a kill between the renames of the two pair files: the next run completes the write, never mixes runs", async () => {
  const exp = makeExperiment(server.url);
  const iter = path.join(exp, "iterations", "1");
  const first = await runCli(["run", exp, "--iteration", "1"]);
  assert.equal(first.code, 0, first.stderr);
  const actor = path.join(iter, "pairs.actor.jsonl");
  const judge = path.join(iter, "pairs.judge.jsonl");
  const goodActor = fs.readFileSync(actor, "utf8");
  const goodJudge = fs.readFileSync(judge, "utf8");
  // The state a kill leaves after both temps and the intent were written and the first rename was
  // done: pairs.actor.jsonl new, pairs.judge.jsonl old, the judge temp still waiting.
  const pid = deadPid();
  fs.writeFileSync(judge, '{"stale":true}\n');
  fs.writeFileSync(`${judge}.tmp-${pid}`, goodJudge);
  fs.writeFileSync(
    path.join(iter, ".pairs.commit"),
    JSON.stringify({
      files: [
        { temp: `pairs.actor.jsonl.tmp-${pid}`, target: "pairs.actor.jsonl" },
        { temp: `pairs.judge.jsonl.tmp-${pid}`, target: "pairs.judge.jsonl" },
      ],
    }) + "\n",
  );
  const res = await runCli(["export", iter, "--json"]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(fs.readFileSync(actor, "utf8"), goodActor);
  assert.equal(fs.readFileSync(judge, "utf8"), goodJudge, "the interrupted write is rolled forward");
  assert.ok(!fs.existsSync(path.join(iter, ".pairs.commit")));
  assert.ok(!fs.existsSync(`${judge}.tmp-${pid}`));
  assert.match(res.stderr + res.stdout, /interrupted/);

  // A kill before the intent was written: the old pair files stand, the temps are garbage.
  fs.writeFileSync(`${actor}.tmp-${pid}`, '{"half":');
  fs.writeFileSync(`${judge}.tmp-${pid}`, '{"half":');
  const again = await runCli(["export", iter]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(fs.readFileSync(actor, "utf8"), goodActor);
  assert.equal(fs.readFileSync(judge, "utf8"), goodJudge);
  assert.ok(!fs.existsSync(`${actor}.tmp-${pid}`) && !fs.existsSync(`${judge}.tmp-${pid}`));
});

// ---- a full disk: a real 64 KiB tmpfs ----------------------------------------------------------

function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

test("no space left on device: the error names the file and what to do, and nothing on disk is lost", async (t) => {
  const mnt = tmpDir("enospc");
  if (!mountTmpfs(mnt, "1m")) {
    t.skip("mount -t tmpfs is not permitted here (needs root); the full-disk test cannot run");
    return;
  }
  try {
    const src = makeExperiment(server.url, (c) => {
      c.roles.actor.sampling.n = 2;
      c.roles.judge.sampling.n = 3;
    });
    const exp = path.join(mnt, "exp");
    fs.cpSync(src, exp, { recursive: true });
    // Generate first, then fill the disk so the judge stage runs out of room mid-way.
    const gen = await runCli(["run", exp, "--iteration", "1", "--stage", "generate"]);
    assert.equal(gen.code, 0, gen.stderr);
    const iter = path.join(exp, "iterations", "1");
    const responsesBefore = fs.readFileSync(path.join(iter, "responses.jsonl"));
    const free = fs.statfsSync(mnt);
    const room = Number(free.bavail) * Number(free.bsize);
    // Leave a few KiB: room for a few judgement groups, not the whole stage.
    fs.writeFileSync(path.join(mnt, "filler"), Buffer.alloc(Math.max(0, room - 12 * 1024)));
    const res = await runCli(["run", exp, "--iteration", "1", "--json"]);
    assert.equal(res.code, 1, res.stderr);
    const line = res.stderr.trim().split("\n").at(-1)!;
    assert.match(line, /judgements\.jsonl: no space left on device \(ENOSPC\) while appending/);
    assert.match(line, /free space/);
    assert.ok(line.includes(iter), `the file is named with its path: ${line}`);
    assert.deepEqual(fs.readFileSync(path.join(iter, "responses.jsonl")), responsesBefore, "responses untouched");
    // Whatever was written is whole lines, each a valid record with a unique id.
    const text = fs.readFileSync(path.join(iter, "judgements.jsonl"), "utf8");
    assert.ok(text === "" || text.endsWith("\n"), "no torn line at the end");
    const ids = readLines<{ id: string }>(path.join(iter, "judgements.jsonl")).map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(!fs.existsSync(path.join(iter, ".lock")), "the lock is released on failure");
    JSON.parse(fs.readFileSync(path.join(iter, "manifest.json"), "utf8")); // still whole

    // Free the space: the run resumes and completes.
    fs.rmSync(path.join(mnt, "filler"));
    const again = await runCli(["run", exp, "--iteration", "1"]);
    assert.equal(again.code, 0, again.stderr);
    idsOnce(iter);
    const kept = new Set(readLines<{ id: string }>(path.join(iter, "judgements.jsonl")).map((r) => r.id));
    for (const id of ids) assert.ok(kept.has(id), `${id} kept`);

    // A derived file on a full disk: the old pair files stay as they were, no temporary file is left.
    const pairsBefore = ["pairs.actor.jsonl", "pairs.judge.jsonl"].map((f) => fs.readFileSync(path.join(iter, f)));
    const left = fs.statfsSync(mnt);
    fs.writeFileSync(path.join(mnt, "filler"), Buffer.alloc(Number(left.bavail) * Number(left.bsize)));
    // Not even room for the lock: said so, nothing written.
    const none = await runCli(["pairs", iter]);
    assert.equal(none.code, 1, none.stderr);
    assert.match(
      none.stderr,
      /\.lock: no space left on device \(ENOSPC\) while taking the iteration's lock; free space and run again \(nothing was written\)/,
    );
    // Room for the lock (one block), not for the pair files.
    fs.truncateSync(path.join(mnt, "filler"), fs.statSync(path.join(mnt, "filler")).size - Number(left.bsize));
    const pairs = await runCli(["pairs", iter]);
    assert.equal(pairs.code, 1, pairs.stderr);
    assert.match(
      pairs.stderr,
      /pairs\.(actor|judge)\.jsonl: no space left on device \(ENOSPC\) while writing; free space and run again \(the previous version of the file is kept\)/,
    );
    assert.deepEqual(
      ["pairs.actor.jsonl", "pairs.judge.jsonl"].map((f) => fs.readFileSync(path.join(iter, f))),
      pairsBefore,
    );
    assert.deepEqual(
      fs.readdirSync(iter).filter((f) => f.includes(".tmp-") || f.endsWith(".commit") || f === ".lock"),
      [],
    );
  } finally {
    spawnSync("umount", [mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
  }
});
