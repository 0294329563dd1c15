// The workbench inside a real VS Code: the Iterations tree over the fixture experiment, and an
// annotation round trip (flag → annotations.jsonl → Recompute Pairs excludes it → the export is
// stale until Export).
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { suite, suiteSetup, test } from "mocha";
import * as vscode from "vscode";
import type { MetajudgeApi } from "../../../src/extension/extension.js";
import type { Node } from "../../../src/extension/tree/nodes/index.js";
import { until } from "./until.js";

const ID = "metajudge.metajudge";
let api: MetajudgeApi;
let dir: string;

const lines = <T>(file: string): T[] =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as T)
    : [];

async function child(parent: Node | undefined, kind: Node["kind"], pred: (n: Node) => boolean = () => true): Promise<Node> {
  const kids = await api.tree.getChildren(parent);
  const n = kids.find((k) => k.kind === kind && pred(k));
  assert.ok(n, `a ${kind} under ${parent?.id ?? "the root"}; got ${kids.map((k) => k.kind).join(", ")}`);
  return n;
}

async function exportStage(): Promise<Node> {
  const it = await child(await child(undefined, "experiment"), "iteration");
  return child(it, "stage", (n) => n.kind === "stage" && n.stage.stage === "export");
}

/** The export row once the tree shows it current (or stale): done, with the description to match. */
function exportShown(stale: boolean, what: string): Promise<Node> {
  return until(what, async () => {
    const n = await exportStage();
    if (n.kind !== "stage" || n.stage.state !== "done" || Boolean(n.stage.stale) !== stale) return undefined;
    return /stale/.test(String(api.tree.getTreeItem(n).description)) === stale ? n : undefined;
  });
}

/** Export from the tree's command. It ends on a notification with an "Open File" button that nobody
 * here presses, so it is not awaited: the tree saying the export is current is what the test waits for. */
function exportDpo(): void {
  void vscode.commands.executeCommand("metajudge.exportDpo", { experimentDir: dir, iteration: 1 });
}

suite("workbench", () => {
  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<MetajudgeApi>(ID);
    assert.ok(ext);
    api = await ext.activate();
    const found = await vscode.workspace.findFiles("**/metajudge.json", "**/node_modules/**");
    assert.ok(found[0]);
    dir = path.dirname(found[0].fsPath);
  });

  test("the tree shows the experiment, its iteration, every stage with counts, and prompts", async () => {
    const exp = await child(undefined, "experiment");
    assert.equal(exp.kind === "experiment" && exp.dir, dir);
    const it = await child(exp, "iteration");
    const kids = await api.tree.getChildren(it);
    const stages = kids.filter((k) => k.kind === "stage");
    assert.deepEqual(
      stages.map((s) => (s.kind === "stage" ? s.stage.stage : "")),
      ["generate", "judge", "metajudge", "pairs", "export"],
    );
    for (const s of stages) if (s.kind === "stage") assert.equal(s.stage.state, "done", s.stage.stage);
    const judge = stages.find((s) => s.kind === "stage" && s.stage.stage === "judge");
    const judgements = lines(path.join(dir, "iterations", "1", "judgements.jsonl")).length;
    assert.ok(judge?.kind === "stage" && judge.stage.done === judgements, `judge stage counts ${judgements} judgements`);
    const item = api.tree.getTreeItem(judge!);
    assert.match(String(item.description), new RegExp(`${judgements.toLocaleString("en-US")}/`));

    const prompts = await child(it, "prompts");
    const promptCount = lines(path.join(dir, "prompts.jsonl")).length;
    assert.equal(prompts.kind === "prompts" && prompts.total, promptCount);
    const prompt = await child(prompts, "prompt");
    const responses = await api.tree.getChildren(prompt);
    assert.equal(responses.length, 4, "K = 4 responses");
    const resp = responses[0]!;
    const js = await api.tree.getChildren(resp);
    assert.ok(js.filter((j) => j.kind === "judgement").length === 5, "N = 5 judgements");
  });

  test("flag a judgement: the event lands in annotations.jsonl, Recompute Pairs excludes it, and the export goes stale until Export", async function () {
    // Two recomputes and two exports, each a CLI run.
    this.timeout(120_000);
    const iter = path.join(dir, "iterations", "1");
    // As after a normal run, dpo.jsonl was exported from the pairs on disk.
    await exportShown(false, "the fixture's export shown current");
    const pair = lines<{ chosen_id: string; rejected_id: string; response_id: string }>(path.join(iter, "pairs.judge.jsonl"))[0];
    assert.ok(pair, "the fixture has a judge pair");
    const before = lines(path.join(iter, "annotations.jsonl")).length;
    await vscode.commands.executeCommand("metajudge.flagSuspicious", {
      experimentDir: dir,
      iteration: 1,
      targetId: pair.rejected_id,
      targetKind: "judgement",
      reason: "position bias",
      note: "from the extension-host test",
    });
    const events = lines<{ target_id: string; label: string; reason?: string }>(path.join(iter, "annotations.jsonl"));
    assert.equal(events.length, before + 1);
    assert.deepEqual(
      [events.at(-1)!.target_id, events.at(-1)!.label, events.at(-1)!.reason],
      [pair.rejected_id, "suspicious", "position bias"],
    );

    // The tree marks it at once.
    const model = await api.experiments.model(dir, 1);
    const row = model.judgements(pair.response_id).find((j) => j.id === pair.rejected_id);
    assert.equal(row?.flag, "suspicious");

    await vscode.commands.executeCommand("metajudge.recomputePairs", { experimentDir: dir, iteration: 1 });
    const after = await until("pairs recomputed", () => {
      const ps = lines<{ chosen_id: string; rejected_id: string; elo: Record<string, number> }>(path.join(iter, "pairs.judge.jsonl"));
      return ps.every((p) => p.elo[pair.rejected_id] === undefined) ? ps : undefined;
    });
    for (const p of after) assert.ok(p.chosen_id !== pair.rejected_id && p.rejected_id !== pair.rejected_id);

    // dpo.jsonl was exported from the pairs as they were: the tree says it is stale, and why.
    const stale = await exportShown(true, "the export shown stale after Recompute Pairs");
    const tip = (n: Node): string => {
      const t = api.tree.getTreeItem(n).tooltip;
      return t instanceof vscode.MarkdownString ? t.value : String(t);
    };
    assert.match(tip(stale), /pairs changed after the export; re-export/);

    // Export from the new pairs: current again, and no DPO example holds the flagged judgement.
    const dpo = path.join(iter, "dpo.jsonl");
    exportDpo();
    const current = await exportShown(false, "the export current again after Export");
    assert.doesNotMatch(tip(current), /re-export/);
    const examples = lines<{ source_ids: Record<string, string> }>(dpo);
    assert.ok(examples.length > 0, "dpo.jsonl has examples");
    assert.ok(
      examples.every((e) => e.source_ids.chosen_id !== pair.rejected_id && e.source_ids.rejected_id !== pair.rejected_id),
      `no example uses ${pair.rejected_id}`,
    );

    // Clearing it restores it on the next recompute, which leaves that export behind in turn.
    await vscode.commands.executeCommand("metajudge.clearAnnotation", {
      experimentDir: dir,
      iteration: 1,
      targetId: pair.rejected_id,
      targetKind: "judgement",
    });
    await vscode.commands.executeCommand("metajudge.recomputePairs", { experimentDir: dir, iteration: 1 });
    await until(
      "the cleared judgement back in the battles",
      () =>
        lines<{ response_id: string; elo: Record<string, number> }>(path.join(iter, "pairs.judge.jsonl")).some(
          (p) => p.elo[pair.rejected_id] !== undefined,
        ) || undefined,
    );
    await exportShown(true, "the export shown stale after the second Recompute Pairs");
    // Exported again, the iteration ends as it began: every stage done, the export current.
    exportDpo();
    await exportShown(false, "the export current after the second Export");
  });

  test("the inline hints describe each line of judgements.jsonl", async () => {
    const file = path.join(dir, "iterations", "1", "judgements.jsonl");
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    await vscode.window.showTextDocument(doc);
    const hints = await until("inlay hints", async () => {
      const h = await vscode.commands.executeCommand<vscode.InlayHint[]>(
        "vscode.executeInlayHintProvider",
        doc.uri,
        new vscode.Range(0, 0, Math.min(20, doc.lineCount), 0),
      );
      return h && h.length > 0 ? h : undefined;
    });
    const first = JSON.parse(doc.lineAt(0).text) as { score: number | null };
    const label = String(typeof hints[0]!.label === "string" ? hints[0]!.label : hints[0]!.label.map((p) => p.value).join(""));
    assert.match(label, first.score === null ? /no score/ : new RegExp(`score ${first.score}`));
    const hover = await vscode.commands.executeCommand<vscode.Hover[]>("vscode.executeHoverProvider", doc.uri, new vscode.Position(0, 5));
    const text = hover.flatMap((h) => h.contents.map((c) => (typeof c === "string" ? c : (c as vscode.MarkdownString).value))).join("\n");
    assert.match(text, /Judged response/);
    await vscode.commands.executeCommand("workbench.action.closeActiveEditor");
  });
});
