// The questions an annotation asks, as native quick pick and input box so they stay keyboard-driven
// and rebindable. Used when the data source has no shared dialog of its own.
import * as vscode from "vscode";
import type { AnnotationLabel } from "../../core/view/types.js";
import type { Settings } from "../services.js";

/** undefined when the person dismissed a step. */
export async function askAnnotation(
  settings: Settings,
  targetId: string,
  label: AnnotationLabel,
): Promise<{ reason?: string; note: string } | undefined> {
  let reason: string | undefined;
  if (label === "suspicious") {
    const reasons = settings.annotationReasons();
    if (reasons.length > 0) {
      reason = await vscode.window.showQuickPick(reasons, {
        title: `Flag ${targetId} as suspicious`,
        placeHolder: "Why is it suspicious?",
      });
      if (reason === undefined) return undefined;
    }
  }
  const verb = label === "suspicious" ? "Flag" : label === "confirmed" ? "Confirm" : "Clear";
  const note = await askNote(`${verb} ${targetId}`);
  if (note === undefined) return undefined;
  return reason === undefined ? { note } : { reason, note };
}

export function askNote(title: string, current?: string): Thenable<string | undefined> {
  return vscode.window.showInputBox({ title, prompt: "Note (optional; Enter to skip)", placeHolder: "what you saw", value: current ?? "" });
}
