// Moving through items from the keyboard: next/previous within the focused surface, and the next
// suspicious item across the workspace.
import * as vscode from "vscode";
import { isRecordNode, type Node } from "../tree/nodes/index.js";
import type { Deps } from "./deps.js";
import { sourceOf } from "./target.js";

export function registerNavigateCommands(deps: Deps): vscode.Disposable[] {
  const move = (direction: "next" | "previous") => async (arg?: unknown) => {
    const source = sourceOf(arg) ?? (deps.inspector.isActive() ? "inspector" : vscode.window.activeTextEditor ? "editor" : "tree");
    if (source === "inspector") return deps.inspector.selectNext(direction);
    if (source === "editor") {
      const editor = vscode.window.activeTextEditor;
      if (!editor) return;
      const line = Math.max(0, Math.min(editor.document.lineCount - 1, editor.selection.active.line + (direction === "next" ? 1 : -1)));
      const pos = new vscode.Position(line, 0);
      editor.selection = new vscode.Selection(pos, pos);
      editor.revealRange(new vscode.Range(pos, pos));
      return;
    }
    const sel = deps.treeView.selection[0];
    if (!sel?.parent) return;
    const siblings = (await deps.tree.getChildren(sel.parent)) as Node[];
    const i = siblings.findIndex((s) => s.id === sel.id);
    const next = siblings[i + (direction === "next" ? 1 : -1)];
    if (next) await deps.treeView.reveal(next, { select: true, focus: true });
  };

  const nextSuspicious = async (): Promise<void> => {
    const current = deps.inspector.current();
    const candidates: { dir: string; t: number; id: string; kind: string; promptId: string }[] = [];
    for (const e of await deps.experiments.experiments()) {
      for (const t of deps.experiments.iterations(e.dir)) {
        const model = await deps.experiments.model(e.dir, t);
        for (const f of model.flagged()) candidates.push({ dir: e.dir, t, id: f.id, kind: f.kind, promptId: f.promptId });
      }
    }
    if (candidates.length === 0) {
      void vscode.window.showInformationMessage("No item is flagged as suspicious.");
      return;
    }
    const sel = deps.inspector.selection();
    const at =
      current && sel
        ? candidates.findIndex((c) => c.dir === current.experimentDir && c.t === current.iteration && c.id === sel.targetId)
        : -1;
    const next = candidates[(at + 1) % candidates.length]!;
    await deps.inspector.show(next.dir, next.t, next.promptId, next.id);
  };

  return [
    vscode.commands.registerCommand("metajudge.nextItem", move("next")),
    vscode.commands.registerCommand("metajudge.previousItem", move("previous")),
    vscode.commands.registerCommand("metajudge.nextSuspicious", nextSuspicious),
    vscode.commands.registerCommand("metajudge.revealRecord", async (arg?: unknown) => {
      let target: { dir: string; t: number; id: string } | undefined;
      if (isRecordNode(arg)) target = { dir: arg.dir, t: arg.iteration, id: arg.row.id };
      else if (arg && typeof arg === "object" && "targetId" in arg) {
        const a = arg as { experimentDir: string; iteration: number; targetId: string };
        target = { dir: a.experimentDir, t: a.iteration, id: a.targetId };
      }
      if (!target) return;
      const model = await deps.experiments.model(target.dir, target.t);
      const loc = model.locate(target.id);
      if (!loc) {
        void vscode.window.showWarningMessage(`${target.id} is not in the record files of iteration ${target.t}.`);
        return;
      }
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(loc.file));
      const pos = new vscode.Position(loc.line - 1, 0);
      await vscode.window.showTextDocument(doc, { selection: new vscode.Range(pos, pos), preview: true });
    }),
  ];
}
