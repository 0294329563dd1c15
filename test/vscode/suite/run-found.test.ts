// A run the editor did not start in this window (one typed in a terminal, or the editor's own from
// before a reload) is found from the iteration's lock: its progress shows in the status bar and
// Cancel Run stops it. And the editor's own run worker writes its --json lines to
// iterations/<t>/.run.log, which is how a reloaded window follows it.
import * as assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { suite, suiteSetup, suiteTeardown, test } from "mocha";
import * as vscode from "vscode";
import type { MetajudgeApi } from "../../../src/extension/extension.js";
import { parseWireLine } from "../../../src/shared/cli-wire.js";
import { startFakeOpenAI, type FakeServer } from "../../support/fake-openai.js";
import { until } from "./until.js";

const T = 4; // an iteration the fixture leaves alone
let api: MetajudgeApi;
let dir: string;
let cli: string;
let configText: string;
let slow: FakeServer;
let child: ChildProcess | undefined;

function manifestState(stage: string): string | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, "iterations", String(T), "manifest.json"), "utf8")) as {
      stages: Record<string, { state?: string }>;
    };
    return m.stages[stage]?.state;
  } catch {
    return undefined;
  }
}

suite("runs found and followed", () => {
  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<MetajudgeApi>("metajudge.metajudge");
    assert.ok(ext);
    api = await ext.activate();
    cli = path.join(ext.extensionPath, "dist", "cli.js");
    const found = await vscode.workspace.findFiles("**/metajudge.json", "**/node_modules/**");
    assert.ok(found[0]);
    dir = path.dirname(found[0].fsPath);
    // A slow endpoint, so that a run lasts long enough to be watched and cancelled.
    slow = await startFakeOpenAI({ latencyMs: 1500 });
    const file = path.join(dir, "metajudge.json");
    configText = fs.readFileSync(file, "utf8");
    const config = JSON.parse(configText) as { endpoint: { base_url: string } };
    config.endpoint.base_url = slow.url;
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
  });

  suiteTeardown(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    api.runner.cancel();
    await until("no run going", () => api.runner.running === undefined, 20_000).catch(() => undefined);
    fs.writeFileSync(path.join(dir, "metajudge.json"), configText);
    fs.rmSync(path.join(dir, "iterations", String(T)), { recursive: true, force: true });
    await slow.close();
  });

  test("a run started outside the editor shows in the status bar, and Cancel Run stops it", async function () {
    this.timeout(90_000);
    child = spawn(process.execPath, [cli, "run", dir, "--iteration", String(T), "--until", "generate", "--json"], {
      env: { ...process.env, ELECTRON_RUN_AS_NODE: "1" },
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
    await until("the editor to find the run", () => api.runner.runningPid === child!.pid, 30_000);
    assert.equal(api.runner.running?.iteration, T);
    const text = await until("the status bar to show the run", () => {
      const s = api.runner.statusText;
      return s && /generate/.test(s) ? s : undefined;
    });
    assert.match(text, new RegExp(`it ${T} generate running \\(pid ${child.pid}\\)`));
    await vscode.commands.executeCommand("metajudge.cancelRun");
    assert.equal(await exited, 130, "the run stopped as on Ctrl-C");
    await until("the editor to see the run has ended", () => api.runner.running === undefined, 10_000);
    assert.equal(manifestState("generate"), "cancelled", "the run recorded its stage as cancelled");
    child = undefined;
  });

  test("the editor's own run worker writes its progress to .run.log, runs on its own, and Cancel Run stops it", async function () {
    this.timeout(90_000);
    const log = path.join(dir, "iterations", String(T), ".run.log");
    fs.rmSync(log, { force: true });
    assert.equal(await api.runner.start({ experimentDir: dir, iteration: T, stages: { until: "generate" } }), true);
    const pid = api.runner.runningPid;
    assert.ok(pid, "a worker pid");
    await until("progress in the status bar", () => {
      const s = api.runner.statusText;
      return s && /generate \d/.test(s) ? s : undefined;
    });
    const lines = fs
      .readFileSync(log, "utf8")
      .split("\n")
      .filter((l) => l.trim());
    assert.ok(lines.length > 0, "the worker writes to .run.log");
    assert.ok(
      lines.some((l) => parseWireLine(l)?.type === "stage-start"),
      `the log holds the run's --json lines: ${lines.slice(0, 3).join(" | ")}`,
    );
    // Its own process group: a closing window's signals to the editor's group do not reach it.
    const pgid = Number(fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[2]);
    assert.equal(pgid, pid, "the worker leads a process group of its own");
    await vscode.commands.executeCommand("metajudge.cancelRun");
    await until("the run to end", () => api.runner.running === undefined, 30_000);
    assert.equal(manifestState("generate"), "cancelled");
    const last = fs
      .readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map(parseWireLine)
      .filter((e) => e !== undefined)
      .at(-1);
    assert.equal(last?.type, "error", "the log ends with the run's cancelled line");
  });
});
