// The demo experiment in the workbench: `npm run demo`'s iteration, made here headless on the
// embedded local model, opened in the same code-server; the tree and the inspector are screenshot
// (the README's picture of the workbench comes from here). The fixture is reopened at the end.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { openWorkbench, ROOT, type UiContext } from "../harness.js";
import { judgePairs, openInspectorFromTree, openMetajudgeView, readJsonl, setExpanded, shot, waitForRow } from "./support.js";

export default async function demo(ctx: UiContext): Promise<void> {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mj-demo-ui-")), "demo");
  const run = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "demo.ts"), "--no-editor", "--dir", dir], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 600_000,
  });
  if (run.status !== 0) throw new Error(`the demo iteration failed (exit ${run.status}):\n${run.stderr.slice(-2000)}`);
  const demoCtx: UiContext = { ...ctx, workspace: dir, iteration: path.join(dir, "iterations", "1") };
  try {
    await openWorkbench(ctx.page, ctx.server, dir);
    await openMetajudgeView(demoCtx);
    const experiment = path.basename(dir);
    await setExpanded(demoCtx, [experiment, "Iteration 1"], true);
    await waitForRow(demoCtx, [experiment, "Iteration 1", "export"]);
    await setExpanded(demoCtx, [experiment, "Iteration 1", "Prompts"], true);
    await shot(demoCtx, "70-demo-1-tree");

    const pair = judgePairs(demoCtx)[0] ?? readJsonl<{ prompt_id: string }>(path.join(demoCtx.iteration, "pairs.actor.jsonl"))[0];
    if (!pair) throw new Error("the demo iteration produced no pair to show");
    const frame = await openInspectorFromTree(demoCtx, pair.prompt_id);
    const responses = await frame.locator("[data-response-id]").count();
    if (responses === 0) throw new Error("the inspector shows no response of the demo prompt");
    await shot(demoCtx, "70-demo-2-inspector");
    const matrix = frame.locator("#battle-matrix");
    if (await matrix.count()) {
      await matrix.scrollIntoViewIfNeeded();
      await shot(demoCtx, "70-demo-3-battles");
    }
  } finally {
    await openWorkbench(ctx.page, ctx.server, ctx.workspace);
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  }
}
