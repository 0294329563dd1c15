import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { JobStore } from "../../src/core/remote/jobs/record.js";
import { isJobId, newJobId } from "../../src/core/remote/jobs/ids.js";
import { LocalShell } from "../../src/core/remote/local-shell.js";
import { MetajudgeError } from "../../src/core/errors.js";

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "mj-jobs-"));

test("job ids are safe names that sort by iteration then time and never repeat", () => {
  const at = new Date(Date.UTC(2026, 10, 27, 23, 51));
  const id = newJobId("train", 2, undefined, at);
  assert.match(id, /^it2-train-20261127-2351-[0-9a-f]{4}$/);
  assert.match(newJobId("generate-batch", 1, "Meta Judge", at), /^it1-generate-batch-meta-judge-20261127-2351-[0-9a-f]{4}$/);
  const many = new Set(Array.from({ length: 200 }, () => newJobId("command", 3)));
  assert.ok(many.size > 190, "random suffixes should rarely collide");
  for (const bad of ["../x", "A", "-x", "a b", ""]) assert.equal(isJobId(bad), false, bad);
});

test("the store creates, updates and lists records, keeping fields it does not know", () => {
  const store = new JobStore(tmp());
  const id = "it1-train-20261127-2351-abcd";
  const created = store.create({
    id,
    kind: "train",
    title: "DPO",
    host: "gpu",
    executor: "ssh",
    state: "submitting",
    remote: { dir: "/h/jobs/" + id },
    extra: { a: 1 },
  });
  assert.equal(created.log.local, `jobs/${id}.log`);
  assert.equal(created.log.remote, `/h/jobs/${id}/log`);
  assert.throws(() =>
    store.create({ id, kind: "train", title: "again", host: "gpu", executor: "ssh", state: "submitting", remote: { dir: "/x" } }),
  );
  const later = new Date(Date.now() + 1000);
  const updated = store.update(id, { state: "running", log: { ...created.log, offset: 10 } }, later);
  assert.equal(updated.state, "running");
  assert.equal(updated.log.offset, 10);
  assert.equal(updated.updated_at, later.toISOString());
  assert.deepEqual(store.get(id)?.["extra"], { a: 1 });
  assert.equal(store.get("it9-none-20261127-2351-0000"), undefined);
  store.appendLog(id, "hello\n");
  assert.equal(fs.readFileSync(store.logPath(id), "utf8"), "hello\n");
  assert.deepEqual(
    store.list().map((r) => r.id),
    [id],
  );
});

test("a corrupt record is reported with its file and skipped, never deleted", () => {
  const dir = tmp();
  const store = new JobStore(dir);
  store.create({ id: "it1-command-a", kind: "command", title: "ok", host: "h", executor: "local", state: "queued", remote: { dir: "/x" } });
  const broken = path.join(dir, "jobs", "it1-command-b.json");
  fs.writeFileSync(broken, "{ not json");
  const wrongState = path.join(dir, "jobs", "it1-command-c.json");
  fs.writeFileSync(wrongState, JSON.stringify({ ...store.get("it1-command-a"), id: "it1-command-c", state: "exploded" }));
  const { records, problems } = store.scan();
  assert.deepEqual(
    records.map((r) => r.id),
    ["it1-command-a"],
  );
  assert.equal(problems.length, 2);
  assert.match(problems[0]!.message, /it1-command-b\.json: not valid JSON/);
  assert.match(problems[1]!.message, /it1-command-c\.json: state:/);
  assert.ok(fs.existsSync(broken) && fs.existsSync(wrongState));
  assert.throws(
    () => store.get("it1-command-b"),
    (e) => e instanceof MetajudgeError && e.reason === "badInput",
  );
});

test("local shell: exec with stdin, exit codes, timeout and abort", async () => {
  const sh = new LocalShell();
  const r = await sh.exec("cat; echo err >&2; exit 3", { stdin: "in" });
  assert.deepEqual([r.code, r.stdout, r.stderr], [3, "in", "err\n"]);
  await assert.rejects(sh.exec("sleep 30", { timeoutMs: 200 }), (e) => e instanceof MetajudgeError && e.reason === "timeout");
  const ac = new AbortController();
  const p = sh.exec("sleep 30", { signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(p, (e) => e instanceof MetajudgeError && e.reason === "cancelled");
  assert.equal(await sh.home(), os.homedir());
});

test("local shell: copies resume a .part that is a prefix, restart one that is not, and skip an identical file", async () => {
  const dir = tmp();
  const src = path.join(dir, "src.bin");
  const data = Buffer.alloc(300_000, 7);
  data.write("head", 0);
  fs.writeFileSync(src, data);
  const dest = path.join(dir, "out", "dest.bin");
  const sh = new LocalShell();
  fs.mkdirSync(path.dirname(dest));
  fs.writeFileSync(dest + ".part", data.subarray(0, 1000));
  const first = await sh.upload(src, dest);
  assert.equal(first.resumedFrom, 1000);
  assert.ok(fs.readFileSync(dest).equals(data));
  assert.equal(fs.existsSync(dest + ".part"), false);
  assert.equal((await sh.upload(src, dest)).skipped, true);
  const back = path.join(dir, "back.bin");
  fs.writeFileSync(back + ".part", "garbage");
  const second = await sh.download(dest, back);
  assert.deepEqual([second.resumedFrom, second.skipped, second.bytes], [0, false, data.length]);
  assert.ok(fs.readFileSync(back).equals(data));
});

test("local shell: forward reaches the target through 127.0.0.1", async () => {
  const server = net.createServer((s) => s.end("pong"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const fwd = await new LocalShell().forward("127.0.0.1", port);
  const reply = await new Promise<string>((resolve, reject) => {
    let got = "";
    net
      .connect(fwd.localPort, "127.0.0.1")
      .on("data", (c) => (got += c))
      .on("end", () => resolve(got))
      .on("error", reject);
  });
  assert.equal(reply, "pong");
  await fwd.close();
  server.close();
});
