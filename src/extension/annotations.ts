// Annotation events from any surface (tree, inspector, record files, keyboard) go through here:
// appended to the iteration's annotations.jsonl, then every view refreshes.
import * as path from "node:path";
import * as vscode from "vscode";
import { appendAnnotation } from "../core/store/annotations.js";
import { iterationDir } from "../core/store/iteration.js";
import { FILES } from "../core/schema.js";
import type { AnnotationLabel, TargetKind } from "../core/view/types.js";
import type { Experiments } from "./experiments.js";
import type { Services } from "./services.js";

export interface AnnotationTarget {
  experimentDir: string;
  iteration: number;
  targetId: string;
  targetKind: TargetKind;
}

export class Annotations {
  private readonly emitter = new vscode.EventEmitter<AnnotationTarget & { label: AnnotationLabel; note?: string }>();
  readonly onDidAnnotate = this.emitter.event;

  constructor(
    private readonly services: Services,
    private readonly experiments: Experiments,
  ) {}

  async annotate(target: AnnotationTarget, label: AnnotationLabel, reason?: string, note?: string): Promise<void> {
    // The latest event wins, so an event that only adds a note must carry the flag's reason forward.
    if (reason === undefined) {
      const before = (await this.experiments.model(target.experimentDir, target.iteration)).annotation(target.targetId);
      if (before?.label === label && before.reason) reason = before.reason;
    }
    const file = path.join(iterationDir(target.experimentDir, target.iteration), FILES.annotations);
    const repaired = appendAnnotation(file, {
      target_id: target.targetId,
      target_kind: target.targetKind,
      label,
      note: note ?? "",
      ...(reason ? { reason } : {}),
      created_at: new Date().toISOString(),
    });
    this.services.log.info("annotations", `${label} ${target.targetKind} ${target.targetId}${reason ? ` (${reason})` : ""}`);
    if (repaired?.savedTo) {
      // An earlier write was cut short: its bytes were set aside, not dropped, and the person should know.
      const message = `${file} ended in a torn line (an interrupted write); its ${repaired.bytes} bytes were moved to ${repaired.savedTo} before this annotation was added. Check it for a flag to add again.`;
      this.services.log.warn("annotations", message);
      void vscode.window.showWarningMessage(message);
    }
    await this.experiments.refreshNow(target.experimentDir, target.iteration);
    this.emitter.fire({ ...target, label, ...(note ? { note } : {}) });
  }

  /** Asks for a reason (when flagging) and an optional note, then annotates. Returns false if dismissed. */
  async annotateInteractive(target: AnnotationTarget, label: AnnotationLabel): Promise<boolean> {
    let reason: string | undefined;
    if (label === "suspicious") {
      const reasons = this.services.settings.annotationReasons();
      if (reasons.length > 0) {
        reason = await vscode.window.showQuickPick(reasons, {
          title: `Flag ${target.targetId} as suspicious`,
          placeHolder: "Why is it suspicious?",
        });
        if (reason === undefined) return false;
      }
    }
    const note = await vscode.window.showInputBox({
      title: `${label === "suspicious" ? "Flag" : label === "confirmed" ? "Confirm" : "Note on"} ${target.targetId}`,
      prompt: "Note (optional; Enter to skip)",
      placeHolder: "what you saw",
    });
    if (note === undefined) return false;
    await this.annotate(target, label, reason, note);
    return true;
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
