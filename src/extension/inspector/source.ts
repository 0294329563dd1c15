// What the inspector needs from the rest of the extension. The composition root fills it from the
// iteration model; tests fill it with fixtures. The panel never learns how records are loaded.
import type * as vscode from "vscode";
import type { AnnotationLabel, InspectorData, TargetKind } from "../../core/view/types.js";

export interface AnnotationRequest {
  experimentDir: string;
  iteration: number;
  targetId: string;
  targetKind: TargetKind;
  label: AnnotationLabel;
  reason?: string;
  note?: string;
}

export interface InspectorSource {
  inspector(experimentDir: string, iteration: number, promptId: string): Promise<InspectorData>;
  /** The prompt before or after this one in the order the Iterations view shows; null at either end. */
  adjacentPrompt(experimentDir: string, iteration: number, promptId: string, direction: "next" | "previous"): Promise<string | null>;
  annotate(req: AnnotationRequest): Promise<void>;
  /**
   * The reason-and-note dialog every surface shares, when the host has one; resolves false when
   * dismissed. Without it the inspector asks on its own, then calls `annotate`.
   */
  annotateInteractive?(req: Omit<AnnotationRequest, "reason" | "note">): PromiseLike<boolean>;
  reveal(experimentDir: string, iteration: number, targetId: string): PromiseLike<unknown>;
  onDidChange: vscode.Event<{ experimentDir: string; iteration: number }>;
}
