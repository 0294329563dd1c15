// The extension inside a real VS Code (code-server, VS Code 1.100.3) on a fixture experiment:
// first the mocha suites in the real Node extension host (test/vscode/suite), then the UI tests
// (test/vscode/ui) in headless chromium. Nothing here is skipped: when the set-up cannot be done,
// every step after it fails and says why. Screenshots and, on failure, the server's and the
// extension host's logs land in test-artifacts/vscode/.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  ARTIFACTS,
  ROOT,
  VSIX,
  launchBrowser,
  openWorkbench,
  runExtensionHostTests,
  screenshot,
  startCodeServer,
  uiContext,
  uiTests,
  type Browser,
  type CodeServer,
} from "../vscode/harness.js";
import { makeFixtureExperiment, type FixtureExperiment } from "../vscode/fixture/experiment.js";

const MIN = 60_000;

/** Runs a command from the repo root; with `echo`, its output is also shown as it comes. */
function sh(cmd: string, args: string[], echo = false): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const take = (d: Buffer) => {
      output += d;
      if (echo) process.stdout.write(d);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

const tail = (s: string, n = 80) => s.trimEnd().split("\n").slice(-n).join("\n");

let setUp = false;
let packaged = false;
let fixture: FixtureExperiment | undefined;
let server: CodeServer | undefined;
let browser: Browser | undefined;

after(async () => {
  await browser?.close();
  await server?.stop();
  await fixture?.close();
});

test("set-up: Debian chromium and code-server are installed", { timeout: 20 * MIN }, async () => {
  // Shown as it goes: a first run installs for a couple of minutes.
  const r = await sh("bash", ["scripts/e2e/setup.sh"], true);
  assert.equal(r.code, 0, `scripts/e2e/setup.sh failed:\n${tail(r.output)}`);
  setUp = true;
});

test("package: the .vsix and the extension host suite are built", { timeout: 5 * MIN }, async () => {
  const p = await sh("bash", ["scripts/e2e/package.sh", VSIX]);
  assert.equal(p.code, 0, `scripts/e2e/package.sh failed:\n${tail(p.output)}`);
  const s = await sh(process.execPath, ["scripts/e2e/build-suite.mjs"]);
  assert.equal(s.code, 0, `scripts/e2e/build-suite.mjs failed:\n${tail(s.output)}`);
  packaged = true;
});

test("code-server starts on a fixture experiment with the .vsix installed", { timeout: 5 * MIN }, async () => {
  assert.ok(setUp && packaged, "set-up or packaging failed (see above)");
  fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  fixture = await makeFixtureExperiment();
  server = await startCodeServer({
    vsix: VSIX,
    // The extension host inherits these: tests can reach the fake model server and the iteration.
    env: { METAJUDGE_E2E_FAKE_OPENAI_URL: fixture.fake.url, METAJUDGE_E2E_ITERATION: fixture.iteration },
  });
});

test("extension host: test/vscode/suite", { timeout: 8 * MIN }, async () => {
  assert.ok(server && fixture, "code-server did not start (see above)");
  const r = await runExtensionHostTests(server, {
    folder: fixture.dir,
    timeoutMs: 6 * MIN,
    onLine: (line) => process.stdout.write(`  [exthost] ${line}\n`),
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(path.join(ARTIFACTS, "exthost-workbench.log"), r.log + "\n");
  if (r.code !== 0) {
    const logs = server.collectLogs("exthost");
    assert.fail(`extension host tests exited ${r.code}; logs in ${logs}\n${tail(r.output, 150)}`);
  }
  assert.match(r.output, /vscode-exthost: \d+ passed, 0 failed/, "mocha reported its summary");
});

test("UI: test/vscode/ui", { timeout: 15 * MIN }, async (t) => {
  assert.ok(server && fixture, "code-server did not start (see above)");
  const tests = uiTests();
  browser = await launchBrowser(server);
  const { page } = browser;
  try {
    await openWorkbench(page, server, fixture.dir);
  } catch (e) {
    await screenshot(page, "workbench-failed-to-open").catch(() => {});
    server.collectLogs("ui");
    throw e;
  }
  const ctx = uiContext(page, server, fixture);
  let failed = false;
  for (const ui of tests) {
    await t.test(ui.name, async () => {
      try {
        await ui.run(ctx);
      } catch (e) {
        failed = true;
        await screenshot(page, `failed-${ui.name}`).catch(() => {});
        throw e;
      }
    });
  }
  if (failed) server.collectLogs("ui");
  if (browser.errors.length) t.diagnostic(`page errors:\n${browser.errors.join("\n")}`);
});
