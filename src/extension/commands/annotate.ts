// Flag, confirm, clear and note: from the tree, the inspector, a record line or the keyboard.
import * as vscode from "vscode";
import type { AnnotationLabel, TargetKind } from "../../core/view/types.js";
import type { Deps } from "./deps.js";
import { noTarget, resolveTarget } from "./target.js";

/** A fully specified request (from scripts and tests) annotates without asking anything. */
interface DirectRequest {
  experimentDir: string;
  iteration: number;
  targetId: string;
  targetKind: TargetKind;
  reason?: string;
  note?: string;
}

function isDirect(arg: unknown): arg is DirectRequest {
  const a = arg as Partial<DirectRequest> | undefined;
  return (
    typeof a?.experimentDir === "string" &&
    typeof a.iteration === "number" &&
    typeof a.targetId === "string" &&
    typeof a.targetKind === "string"
  );
}

export function registerAnnotateCommands(deps: Deps): vscode.Disposable[] {
  const label = (l: AnnotationLabel) => async (arg?: unknown) => {
    if (isDirect(arg)) return deps.annotations.annotate(arg, l, arg.reason, arg.note);
    const target = await resolveTarget(deps, arg);
    if (!target) return noTarget();
    if (l === "cleared") await deps.annotations.annotate(target, "cleared");
    else await deps.annotations.annotateInteractive(target, l);
  };
  return [
    vscode.commands.registerCommand("metajudge.flagSuspicious", label("suspicious")),
    vscode.commands.registerCommand("metajudge.confirmItem", label("confirmed")),
    vscode.commands.registerCommand("metajudge.clearAnnotation", label("cleared")),
    vscode.commands.registerCommand("metajudge.addNote", async (arg?: unknown) => {
      const target = await resolveTarget(deps, arg);
      if (!target) return noTarget();
      // A note keeps the item's current label: the latest event per target wins.
      const model = await deps.experiments.model(target.experimentDir, target.iteration);
      const current = model.annotation(target.targetId);
      const note = await vscode.window.showInputBox({
        title: `Note on ${target.targetId}`,
        prompt: "What did you see?",
        value: current?.note ?? "",
      });
      if (note === undefined) return;
      // The label is carried over (and with it its reason) so a note never undoes a flag.
      await deps.annotations.annotate(target, current?.label ?? "cleared", undefined, note);
    }),
  ];
}
