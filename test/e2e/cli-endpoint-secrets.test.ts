// A base_url may carry a password (http://user:secret@proxy/v1). However a run against it fails, the
// password must appear nowhere the CLI reports: stderr, --json events, the manifest's error.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { ensureBuilt, makeExperiment, runCli } from "../support/cli.js";

const PASSWORD = "pw-Zq81xT";
let failing: FakeServer;
let locked: FakeServer;

before(async () => {
  ensureBuilt();
  failing = await startFakeOpenAI({ fault: { kind: "status", status: 500, message: "engine crashed" } });
  locked = await startFakeOpenAI({ apiKey: "the-right-key" });
});
after(() => Promise.all([failing.close(), locked.close()]));

const withPassword = (url: string): string => url.replace("http://", `http://mj:${PASSWORD}@`);

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function failedRun(
  url: string,
  env: NodeJS.ProcessEnv = {},
  patch: (c: ReturnType<typeof JSON.parse>) => void = () => {},
): Promise<{ text: string; reason: unknown }> {
  const exp = makeExperiment(url, (c) => {
    c.request = { timeout_ms: 5_000, max_retries: 1 };
    patch(c);
  });
  const r = await runCli(["run", exp, "--iteration", "1", "--stage", "generate", "--json"], env);
  assert.equal(r.code, 1, r.stderr);
  // The manifest's copy of the config holds base_url as metajudge.json does; its error must not.
  const manifest = JSON.parse(fs.readFileSync(path.join(exp, "iterations", "1", "manifest.json"), "utf8")) as {
    stages: { generate: { error?: string } };
  };
  const stageError = manifest.stages.generate.error ?? "";
  assert.ok(stageError.includes("mj:***@127.0.0.1"), `the manifest names the URL, masked: ${stageError}`);
  const stderrLast = r.stderr.trim().split("\n").at(-1) ?? "";
  assert.ok(stderrLast.includes("mj:***@127.0.0.1"), `the URL is still named, masked: ${stderrLast}`);
  return { text: `${r.stdout}\n${r.stderr}\n${stageError}`, reason: r.events.find((e) => e.type === "error")?.reason };
}

test("a 500 from an endpoint whose base_url holds a password: retried, reported, password masked", async () => {
  const { text, reason } = await failedRun(withPassword(failing.url));
  assert.equal(reason, "server");
  assert.match(text, /"type":"retry"/, "the retry events are in the --json output");
  assert.match(text, /engine crashed/);
  assert.ok(!text.includes(PASSWORD), text);
});

test("a 401 from an endpoint whose base_url holds a password: password masked", async () => {
  const { text, reason } = await failedRun(
    withPassword(locked.url),
    { MJ_SECRETS_KEY: "a-wrong-key" },
    (c) => (c.endpoint.api_key_env = "MJ_SECRETS_KEY"),
  );
  assert.equal(reason, "auth");
  assert.ok(!text.includes(PASSWORD), text);
  assert.ok(!text.includes("a-wrong-key"), "nor the API key");
});

test("an unreachable endpoint whose base_url holds a password: password masked", async () => {
  const { text, reason } = await failedRun(withPassword(`http://127.0.0.1:${await closedPort()}/v1`));
  assert.equal(reason, "refused");
  assert.ok(!text.includes(PASSWORD), text);
});
