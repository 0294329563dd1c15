// Ray cannot be installed here; the client is tested against a loopback server implementing the
// documented Jobs REST API (test/support/ray-server.ts), whose jobs are real local processes.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RayExecutor } from "../../src/core/remote/jobs/ray.js";
import { LogWindow } from "../../src/core/remote/jobs/ray-logs.js";
import { followJob, waitForState } from "../../src/core/remote/jobs/follow.js";
import { JobStore } from "../../src/core/remote/jobs/record.js";
import { newJobId } from "../../src/core/remote/jobs/ids.js";
import { MetajudgeError } from "../../src/core/errors.js";
import { startRayServer } from "../support/ray-server.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "mj-jobs-ray-"));

test("submit runs the entrypoint with its environment, and a second submit finds the first", async () => {
  const ray = await startRayServer({ pendingMs: 300 });
  try {
    const ex = new RayExecutor(ray.url, { profile: { env: { FROM_HOST: "h" }, setup: "export FROM_SETUP=s", gpus: 2 }, retryDelayMs: 10 });
    const id = newJobId("train", 1);
    const dir = path.join(root, "work", id);
    const spec = {
      id,
      dir,
      script: 'echo "$FROM_HOST $FROM_SETUP $JOB_ENV $SECRET"; pwd; echo ran >> runs.txt',
      env: { JOB_ENV: "j" },
      secretEnv: { SECRET: "tok" },
    };
    const ref = await ex.submit(spec);
    assert.deepEqual(ref, { dir, raySubmissionId: id });
    assert.equal((await ex.status(ref)).state, "queued");
    assert.deepEqual(await ex.submit(spec), ref);
    assert.equal((await ex.status({ dir })).state, "queued", "a record that missed the submission id finds it by its folder");
    const final = await waitForState(ex, ref, ["succeeded"], { intervalMs: 100, timeoutMs: 30_000 });
    assert.deepEqual([final.state, final.exitCode, final.node], ["succeeded", 0, "127.0.0.1"]);
    assert.equal((await ex.readLog(ref, 0, 1 << 20)).data.toString(), `h s j tok\n${dir}\n`);
    assert.equal(fs.readFileSync(path.join(dir, "runs.txt"), "utf8"), "ran\n");
    const posts = ray.requests.filter((r) => r.method === "POST" && r.path === "/api/jobs/");
    assert.equal(posts.length, 1, "one POST for two submits");
    const body = JSON.parse(posts[0]!.body) as {
      entrypoint: string;
      submission_id: string;
      entrypoint_num_gpus: number;
      runtime_env: { env_vars: Record<string, string> };
    };
    assert.equal(body.submission_id, id);
    assert.equal(body.entrypoint_num_gpus, 2);
    assert.equal(body.runtime_env.env_vars["SECRET"], "tok");
    assert.ok(!body.entrypoint.includes("tok"), "secrets are not in the entrypoint");
  } finally {
    await ray.close();
  }
});

test("a failing entrypoint is failed with its exit code; stop cancels, whichever shape /stop answers", async () => {
  for (const stopAnswersStatus of [false, true]) {
    const ray = await startRayServer({ stopAnswersStatus });
    try {
      const ex = new RayExecutor(ray.url);
      const failing = await ex.submit({ id: newJobId("command", 1), dir: path.join(root, "f"), script: "exit 4" });
      const f = await waitForState(ex, failing, ["failed"], { intervalMs: 100, timeoutMs: 30_000 });
      assert.deepEqual([f.state, f.exitCode, f.detail], ["failed", 4, "exit 4"]);
      const long = await ex.submit({ id: newJobId("command", 1), dir: path.join(root, "l"), script: "sleep 60" });
      await waitForState(ex, long, ["running"], { intervalMs: 100, timeoutMs: 30_000 });
      await ex.cancel(long);
      assert.equal((await ex.status(long)).state, "cancelled");
      assert.equal((await ex.status({ dir: "/x", raySubmissionId: "never-submitted" })).state, "lost");
    } finally {
      await ray.close();
    }
  }
});

test("logs are followed by offset, escapes and non-ASCII decoded to the job's bytes", async () => {
  const ray = await startRayServer();
  try {
    const ex = new RayExecutor(ray.url);
    const store = new JobStore(path.join(root, "experiment"));
    const id = newJobId("command", 2);
    const dir = path.join(root, "work", id);
    const text = 'tab\there "quoted" back\\slash /slash é 中 🙂\n';
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    const src = path.join(root, `${id}.txt`);
    fs.writeFileSync(src, text);
    store.create({
      id,
      kind: "command",
      title: "t",
      host: "ray",
      executor: "ray",
      state: "queued",
      remote: { dir },
      log: { remote: `ray:${id}` },
    });
    const ref = await ex.submit({ id, dir, script: `for i in 1 2 3; do cat ${src}; sleep 0.2; done` });
    store.update(id, { remote: { ...ref } });
    const final = await followJob({ store, executor: ex, id, intervalMs: 50, maxChunk: 7 });
    assert.equal(final.state, "succeeded");
    assert.equal(fs.readFileSync(store.logPath(id), "utf8"), text.repeat(3));
    const downloads = ray.requests.filter((r) => r.path.endsWith("/logs")).length;
    const chunks = Math.ceil((Buffer.byteLength(text) * 3) / 7);
    assert.ok(downloads < chunks, `${downloads} downloads of the whole log for ${chunks} chunks: later chunks come from the first`);
    const middle = await ex.readLog(ref, 5, 10);
    assert.deepEqual(middle.data, Buffer.from(text.repeat(3)).subarray(5, 15));
    assert.equal(middle.size, Buffer.byteLength(text) * 3);
  } finally {
    await ray.close();
  }
});

test("the log window keeps one window of a huge answer, whatever the chunking", () => {
  const log = Buffer.from('é中🙂 "x"\\n\n'.repeat(1000));
  const answer = Buffer.from(
    `{"logs": ${JSON.stringify(log.toString()).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}}`,
  );
  for (const step of [1, 3, 64, answer.length]) {
    const w = new LogWindow(1234, 100);
    for (let i = 0; i < answer.length; i += step) w.push(answer.subarray(i, i + step));
    assert.equal(w.size, log.length, `chunks of ${step}`);
    assert.deepEqual(w.data(), log.subarray(1234, 1334), `chunks of ${step}`);
    assert.ok(w.done);
  }
});

test("the token goes in x-ray-authorization; a wrong one is auth, 5xx is retried, refused is refused", async () => {
  const ray = await startRayServer({ token: "right-token" });
  try {
    const good = new RayExecutor(ray.url, { token: "right-token", retryDelayMs: 10 });
    const ref = await good.submit({ id: newJobId("command", 1), dir: path.join(root, "a"), script: "true" });
    assert.ok(
      ray.requests.every(
        (r) => r.headers["x-ray-authorization"] === "Bearer right-token" || r.headers["x-ray-authorization"] === undefined,
      ),
    );
    assert.ok(ray.requests.some((r) => r.headers["x-ray-authorization"] === "Bearer right-token"));
    await assert.rejects(
      new RayExecutor(ray.url, { token: "wrong" }).status(ref),
      (e) => e instanceof MetajudgeError && e.reason === "auth" && /token was not accepted/.test(e.message),
    );
    await assert.rejects(
      new RayExecutor(ray.url).status(ref),
      (e) => e instanceof MetajudgeError && e.reason === "auth" && /needs a token/.test(e.message),
    );
    ray.failNext(2, 500);
    const before = ray.requests.length;
    assert.equal((await waitForState(good, ref, ["succeeded"], { intervalMs: 50, timeoutMs: 30_000 })).state, "succeeded");
    assert.ok(ray.requests.length - before >= 3, "two 500s, then an answer");
    ray.failNext(10, 503);
    await assert.rejects(
      new RayExecutor(ray.url, { token: "right-token", retries: 2, retryDelayMs: 10 }).status(ref),
      (e) => e instanceof MetajudgeError && e.reason === "server" && /503/.test(e.message),
    );
  } finally {
    await ray.close();
  }
  await assert.rejects(
    new RayExecutor(ray.url).status({ dir: "/", raySubmissionId: "x" }),
    (e) => e instanceof MetajudgeError && e.reason === "refused",
  );
});
