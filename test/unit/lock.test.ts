// The iteration lock on real files: taken whole, refused while held, stale ones taken over once,
// foreign ones never, re-entrant only along one chain of calls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MetajudgeError } from "../../src/core/errors.js";
import { acquireIterationLock, holdsIterationLock, lockFile, lockStatus, withIterationLock } from "../../src/core/store/lock.js";
import { PAIRS_COMMIT, rollForward, writeFilesTogether } from "../../src/core/store/commit.js";
import { cleanTempFiles, JsonlAppender, writeError } from "../../src/core/store/jsonl.js";

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "mj-lock-"));
const deadPid = (): number =>
  Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);

function lockedError(fn: () => unknown): MetajudgeError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof MetajudgeError, String(err));
    assert.equal(err.reason, "locked");
    return err;
  }
  assert.fail("expected the lock to be refused");
}

test("the lock file holds pid, hostname, start time and command, and is gone after release", () => {
  const dir = tmp();
  const lock = acquireIterationLock(dir, { command: "metajudge run exp --iteration 1" });
  const held = JSON.parse(fs.readFileSync(lockFile(dir), "utf8"));
  assert.equal(held.pid, process.pid);
  assert.equal(held.hostname, os.hostname());
  assert.equal(held.command, "metajudge run exp --iteration 1");
  assert.ok(Math.abs(Date.parse(held.started_at) - Date.now()) < 10_000);
  assert.deepEqual(fs.readdirSync(dir), [".lock"], "no temporary file is left beside it");
  const s = lockStatus(dir);
  assert.equal(s.state, "held");
  lock.release();
  lock.release();
  assert.equal(lockStatus(dir).state, "free");
});

test("a second acquire in the same process, outside the holder's chain, is refused naming the holder", () => {
  const dir = tmp();
  const lock = acquireIterationLock(dir, { command: "first" });
  const err = lockedError(() => acquireIterationLock(dir, { command: "second" }));
  assert.match(err.message, new RegExp(`locked by pid ${process.pid} on ${os.hostname()} since .* \\(first\\)`));
  assert.match(err.message, /still running; wait for it to finish or stop it/);
  lock.release();
});

test("a lock of a dead process on this host is stale, taken over with a warning naming it", () => {
  const dir = tmp();
  const pid = deadPid();
  fs.writeFileSync(
    lockFile(dir),
    JSON.stringify({ pid, hostname: os.hostname(), started_at: "2026-01-01T00:00:00.000Z", command: "metajudge run old" }),
  );
  assert.equal(lockStatus(dir).state, "stale");
  const warnings: string[] = [];
  const lock = acquireIterationLock(dir, { warn: (m) => warnings.push(m) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, new RegExp(`stale lock of pid ${pid} on .* since 2026-01-01T00:00:00.000Z \\(metajudge run old\\)`));
  assert.equal(JSON.parse(fs.readFileSync(lockFile(dir), "utf8")).pid, process.pid);
  assert.ok(!fs.readdirSync(dir).some((f) => f.includes("takeover")), "the claim is removed");
  lock.release();
});

test("our own pid in a lock we do not hold is a previous process whose pid came back: stale", () => {
  const dir = tmp();
  fs.writeFileSync(
    lockFile(dir),
    JSON.stringify({ pid: process.pid, hostname: os.hostname(), started_at: "2020-01-01T00:00:00.000Z", command: "old" }),
  );
  assert.equal(lockStatus(dir).state, "stale");
});

test("a live pid that started after the lock was taken is not its holder (pid reuse): stale", () => {
  const dir = tmp();
  // pid 1 runs, but started long after this lock's time.
  fs.writeFileSync(
    lockFile(dir),
    JSON.stringify({ pid: 1, hostname: os.hostname(), started_at: "2001-01-01T00:00:00.000Z", command: "old" }),
  );
  if (!fs.existsSync("/proc/1/stat")) return;
  assert.equal(lockStatus(dir).state, "stale");
});

test("a lock from another host is never taken over; the message says how to remove it", () => {
  const dir = tmp();
  fs.writeFileSync(
    lockFile(dir),
    JSON.stringify({ pid: 7, hostname: "elsewhere.example", started_at: "2026-01-01T00:00:00.000Z", command: "metajudge run" }),
  );
  const err = lockedError(() => acquireIterationLock(dir));
  assert.match(err.message, /locked by pid 7 on elsewhere\.example/);
  assert.match(err.message, /another host/);
  assert.ok(err.message.includes(`delete ${lockFile(dir)}`));
  assert.equal(JSON.parse(fs.readFileSync(lockFile(dir), "utf8")).hostname, "elsewhere.example");
});

test("an unreadable lock is refused, not taken over", () => {
  const dir = tmp();
  fs.writeFileSync(lockFile(dir), "garbage");
  const err = lockedError(() => acquireIterationLock(dir));
  assert.match(err.message, /not a lock metajudge wrote/);
});

test("withIterationLock: re-entrant along one chain, refused for a parallel chain, released when it throws", async () => {
  const dir = tmp();
  let inner = false;
  await withIterationLock(dir, {}, async () => {
    assert.ok(holdsIterationLock(dir));
    await withIterationLock(dir, {}, async () => {
      inner = true;
    });
    assert.ok(fs.existsSync(lockFile(dir)), "the inner exit does not release the outer hold");
    // Work the holder schedules (a timer, a callback) is part of its chain.
    await new Promise<void>((resolve, reject) =>
      setImmediate(() => withIterationLock(dir, {}, async () => undefined).then(resolve, reject)),
    );
  });
  assert.ok(inner);
  assert.equal(lockStatus(dir).state, "free");
  await assert.rejects(
    withIterationLock(dir, {}, async () => Promise.reject(new Error("boom"))),
    /boom/,
  );
  assert.equal(lockStatus(dir).state, "free", "released on failure");
});

test("two chains at once in one process: the second is refused", async () => {
  const dir = tmp();
  let release!: () => void;
  const first = withIterationLock(dir, {}, () => new Promise<void>((r) => (release = r)));
  await assert.rejects(
    withIterationLock(dir, {}, async () => undefined),
    (e: unknown) => e instanceof MetajudgeError && e.reason === "locked",
  );
  release();
  await first;
  assert.equal(lockStatus(dir).state, "free");
});

test("exit releases a lock still held (a second Ctrl-C exits without unwinding)", () => {
  const dir = tmp();
  const code = `
    const { acquireIterationLock } = require(${JSON.stringify(path.join(__dirname, "../../src/core/store/lock.ts"))});
    acquireIterationLock(${JSON.stringify(dir)}, { command: "child" });
    process.exit(130);`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], { encoding: "utf8" });
  assert.equal(r.status, 130, r.stderr);
  assert.ok(!fs.existsSync(lockFile(dir)), "released by the exit hook");
});

test("an unhandled SIGTERM releases the lock and still ends the process by that signal", () => {
  const dir = tmp();
  const code = `
    const { acquireIterationLock } = require(${JSON.stringify(path.join(__dirname, "../../src/core/store/lock.ts"))});
    acquireIterationLock(${JSON.stringify(dir)}, { command: "child" });
    process.kill(process.pid, "SIGTERM");
    setTimeout(() => {}, 5000);`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], { encoding: "utf8" });
  assert.equal(r.signal, "SIGTERM", r.stderr);
  assert.ok(!fs.existsSync(lockFile(dir)));
});

test("many processes racing for one stale lock: exactly one takes it over", async () => {
  const dir = tmp();
  fs.writeFileSync(
    lockFile(dir),
    JSON.stringify({ pid: deadPid(), hostname: os.hostname(), started_at: new Date().toISOString(), command: "dead" }),
  );
  const go = path.join(dir, "go");
  const done = path.join(dir, "done");
  // Each waits for "go" so the attempts overlap; a winner holds the lock until every attempt is over.
  const code = `
    const fs = require("node:fs");
    const { acquireIterationLock } = require(${JSON.stringify(path.join(__dirname, "../../src/core/store/lock.ts"))});
    process.stdout.write("ready\\n");
    while (!fs.existsSync(${JSON.stringify(go)})) {}
    try { acquireIterationLock(${JSON.stringify(dir)}, {}); process.stdout.write("got\\n"); while (!fs.existsSync(${JSON.stringify(done)})) {} }
    catch (e) { process.stdout.write(e.reason + "\\n"); }`;
  const n = 6;
  const outs: string[] = Array.from({ length: n }, () => "");
  let ready = 0;
  let answered = 0;
  const children = Array.from({ length: n }, (_, i) => {
    const c = spawn(process.execPath, ["--import", "tsx", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
    c.stdout.on("data", (d: Buffer) => {
      for (const line of d.toString().split("\n").filter(Boolean)) {
        if (line === "ready") {
          if (++ready === n) fs.writeFileSync(go, "");
        } else {
          outs[i] = line;
          if (++answered === n) fs.writeFileSync(done, "");
        }
      }
    });
    return new Promise<void>((resolve) => c.on("close", () => resolve()));
  });
  await Promise.all(children);
  assert.equal(outs.filter((o) => o === "got").length, 1, outs.join(","));
  assert.equal(outs.filter((o) => o === "locked").length, n - 1, outs.join(","));
});

test("cleanTempFiles removes <file>.tmp-<pid> of dead pids and our own, keeps a live pid's and other files", () => {
  const dir = tmp();
  const dead = deadPid();
  const files = [
    `dpo.jsonl.tmp-${dead}`,
    `manifest.json.tmp-${process.pid}`,
    `.lock.new-${dead}-0a1b2c3d`,
    `pairs.actor.jsonl.tmp-1`,
    "responses.jsonl",
    "notes.tmp-x",
  ];
  for (const f of files) fs.writeFileSync(path.join(dir, f), "x");
  const removed = cleanTempFiles(dir, (pid) => pid === 1 || pid === process.pid);
  assert.deepEqual(removed.sort(), [`dpo.jsonl.tmp-${dead}`, `manifest.json.tmp-${process.pid}`, `.lock.new-${dead}-0a1b2c3d`].sort());
  assert.deepEqual(fs.readdirSync(dir).sort(), ["notes.tmp-x", "pairs.actor.jsonl.tmp-1", "responses.jsonl"]);
});

test("writeFilesTogether: both files replaced, no intent or temp left; rollForward completes an interrupted one", () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, "a"), "old a");
  fs.writeFileSync(path.join(dir, "b"), "old b");
  writeFilesTogether(dir, PAIRS_COMMIT, [
    { target: "a", data: "new a" },
    { target: "b", data: "new b" },
  ]);
  assert.deepEqual(fs.readdirSync(dir).sort(), ["a", "b"]);
  assert.equal(fs.readFileSync(path.join(dir, "b"), "utf8"), "new b");
  assert.equal(rollForward(dir, PAIRS_COMMIT), null);
  // Killed after the first rename.
  fs.writeFileSync(path.join(dir, "a"), "newer a");
  fs.writeFileSync(path.join(dir, "b.tmp-99"), "newer b");
  fs.writeFileSync(
    path.join(dir, ".pairs.commit"),
    JSON.stringify({
      files: [
        { temp: "a.tmp-99", target: "a" },
        { temp: "b.tmp-99", target: "b" },
      ],
    }),
  );
  assert.deepEqual(rollForward(dir, PAIRS_COMMIT), ["a", "b"]);
  assert.equal(fs.readFileSync(path.join(dir, "a"), "utf8"), "newer a");
  assert.equal(fs.readFileSync(path.join(dir, "b"), "utf8"), "newer b");
  assert.deepEqual(fs.readdirSync(dir).sort(), ["a", "b"]);
});

test("write errors name the file, the system's reason and what to do", () => {
  const e = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
  const m = writeError(e, "/x/iterations/1/judgements.jsonl", "appending", "records already written are kept");
  assert.equal(
    m.message,
    "/x/iterations/1/judgements.jsonl: no space left on device (ENOSPC) while appending; free space and run again (records already written are kept)",
  );
  assert.equal((m as MetajudgeError).reason, "io");
  // A real one: appending into a folder that is gone.
  const dir = tmp();
  const file = path.join(dir, "x", "r.jsonl");
  assert.throws(
    () => new JsonlAppender(file),
    (err: unknown) => err instanceof MetajudgeError && err.message.startsWith(`${file}: no such file or directory (ENOENT) while opening`),
  );
});
