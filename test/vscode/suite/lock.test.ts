// The iteration lock inside a real VS Code: the Iterations tree says who is writing an iteration, and
// Run, Recompute Pairs and Export refuse to start a second writer while that process lives.
import * as assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { suite, suiteSetup, suiteTeardown, test } from "mocha";
import * as vscode from "vscode";
import type { MetajudgeApi } from "../../../src/extension/extension.js";
import type { Node } from "../../../src/extension/tree/nodes/index.js";

let api: MetajudgeApi;
let dir: string;
let holder: ChildProcess;

async function iterationNode(): Promise<Node> {
  const [exp] = await api.tree.getChildren(undefined);
  assert.ok(exp?.kind === "experiment");
  const it = (await api.tree.getChildren(exp)).find((n) => n.kind === "iteration" && n.iteration === 1);
  assert.ok(it, "iteration 1 in the tree");
  return it;
}

suite("iteration lock", () => {
  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<MetajudgeApi>("metajudge.metajudge");
    assert.ok(ext);
    api = await ext.activate();
    const found = await vscode.workspace.findFiles("**/metajudge.json", "**/node_modules/**");
    assert.ok(found[0]);
    dir = path.dirname(found[0].fsPath);
    // A live process that is not the extension host: the lock's holder.
    holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 120000)"], {
      env: { ...process.env, ELECTRON_RUN_AS_NODE: "1" },
      stdio: "ignore",
    });
    await new Promise((r) => holder.once("spawn", r));
  });

  suiteTeardown(() => {
    fs.rmSync(path.join(dir, "iterations", "1", ".lock"), { force: true });
    holder.kill();
  });

  test("a held lock shows on the iteration, and Run, Recompute Pairs and Export do not start a second writer", async () => {
    const iter = path.join(dir, "iterations", "1");
    const lock = path.join(iter, ".lock");
    fs.writeFileSync(
      lock,
      JSON.stringify({
        pid: holder.pid,
        hostname: os.hostname(),
        started_at: new Date().toISOString(),
        command: "metajudge run exp --iteration 1",
      }) + "\n",
    );
    try {
      const item = api.tree.getTreeItem(await iterationNode());
      assert.match(String(item.description), new RegExp(`^running: pid ${holder.pid} on ${os.hostname().replace(/\./g, "\\.")} since `));
      assert.match(String(item.tooltip), /metajudge run exp --iteration 1/);

      const started = await api.runner.start({ experimentDir: dir, iteration: 1, stages: "all" });
      assert.equal(started, false, "Run refuses while another process holds the lock");
      assert.equal(api.runner.running, undefined, "no worker was started");

      const pairs = path.join(iter, "pairs.actor.jsonl");
      const before = fs.statSync(pairs).mtimeMs;
      const arg = { kind: "iteration", dir, iteration: 1 };
      await vscode.commands.executeCommand("metajudge.recomputePairs", arg);
      await vscode.commands.executeCommand("metajudge.exportDpo", arg);
      assert.equal(fs.statSync(pairs).mtimeMs, before, "pairs were not rewritten");
      assert.equal(JSON.parse(fs.readFileSync(lock, "utf8")).pid, holder.pid, "the holder's lock is untouched");

      // Once the holder is gone the lock is stale: the tree says so, and a writer may start (it takes it over).
      holder.kill();
      await new Promise((r) => holder.once("exit", r));
      const stale = api.tree.getTreeItem(await iterationNode());
      assert.match(String(stale.description), new RegExp(`^stale lock: pid ${holder.pid} is gone`));
    } finally {
      fs.rmSync(lock, { force: true });
    }
    const free = api.tree.getTreeItem(await iterationNode());
    assert.equal(free.description, undefined);
  });
});
