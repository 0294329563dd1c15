// Which record a command acts on. Keybindings say where focus was ({source: "tree" | "inspector" |
// "editor"}, one binding per surface in package.json); a tree item passes itself; the palette passes
// nothing, and then the inspector's selection, the record line under the cursor, or the tree's
// selection is used, in that order.
import * as vscode from "vscode";
import type { AnnotationTarget } from "../annotations.js";
import { Experiments } from "../experiments.js";
import { isRecordNode, targetKindOf, type RecordNode } from "../tree/nodes/index.js";
import type { Deps } from "./deps.js";

export type Source = "tree" | "inspector" | "editor";

export function sourceOf(arg: unknown): Source | undefined {
  const s = (arg as { source?: unknown } | undefined)?.source;
  return s === "tree" || s === "inspector" || s === "editor" ? s : undefined;
}

const fromNode = (n: RecordNode): AnnotationTarget => ({
  experimentDir: n.dir,
  iteration: n.iteration,
  targetId: n.row.id,
  targetKind: targetKindOf(n),
});

function fromInspector(deps: Deps): AnnotationTarget | undefined {
  const state = deps.inspector.current();
  const sel = deps.inspector.selection();
  return state && sel ? { experimentDir: state.experimentDir, iteration: state.iteration, ...sel } : undefined;
}

async function fromEditor(deps: Deps): Promise<AnnotationTarget | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return undefined;
  const it = Experiments.iterationOf(editor.document.uri.fsPath);
  if (!it) return undefined;
  const model = await deps.experiments.model(it.experimentDir, it.iteration);
  const rec = model.recordAtLine(editor.document.uri.fsPath, editor.selection.active.line + 1);
  return rec ? { ...it, targetId: rec.id, targetKind: rec.kind } : undefined;
}

function fromTree(deps: Deps): AnnotationTarget | undefined {
  const sel = deps.treeView.selection[0];
  return isRecordNode(sel) ? fromNode(sel) : undefined;
}

export async function resolveTarget(deps: Deps, arg: unknown): Promise<AnnotationTarget | undefined> {
  if (isRecordNode(arg)) return fromNode(arg);
  switch (sourceOf(arg)) {
    case "tree":
      return fromTree(deps);
    case "inspector":
      return fromInspector(deps);
    case "editor":
      return fromEditor(deps);
    default:
      return (deps.inspector.isActive() ? fromInspector(deps) : undefined) ?? (await fromEditor(deps)) ?? fromTree(deps);
  }
}

export function noTarget(): void {
  void vscode.window.showInformationMessage(
    "Select a response, judgement or battle first: in the Iterations view, the inspector, or a line of a record file.",
  );
}
