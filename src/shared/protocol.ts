// The one contract between the extension host and the inspector webview. Both bundles import it;
// nothing else crosses the boundary. Requests carry ids; the host sends nothing before `ready`.
import type { AnnotationLabel, InspectorData, TargetKind } from "./view.js";

/** What the webview persists with setState and the panel serializer restores after a reload. */
export interface InspectorState {
  experimentDir: string;
  iteration: number;
  promptId: string;
  /** The item that had focus (a response, judgement or battle id). */
  selectedId?: string;
}

// ---- host → webview -----------------------------------------------------------------------------

export type HostMessage =
  | { type: "show"; data: InspectorData; selectedId?: string }
  | { type: "loading"; promptId: string }
  | { type: "error"; message: string }
  /** An annotation changed (from any surface): update the badge without reloading. */
  | { type: "annotation"; targetId: string; label: AnnotationLabel | null; note?: string }
  /** Move the keyboard selection (keybindings run in the host and forward here). */
  | { type: "select"; direction: "next" | "previous" }
  | { type: "reply"; requestId: number; ok: true; result: unknown }
  | { type: "reply"; requestId: number; ok: false; error: string };

// ---- webview → host -----------------------------------------------------------------------------

export type WebviewMessage =
  | { type: "ready"; state: InspectorState | null }
  | { type: "selected"; targetId: string; targetKind: TargetKind }
  | { type: "annotate"; targetId: string; targetKind: TargetKind; label: AnnotationLabel; reason?: string; note?: string }
  /** Ask the host for the reason list and a note, then annotate (native quick pick, so keybindings stay the host's). */
  | { type: "annotateInteractive"; targetId: string; targetKind: TargetKind; label: AnnotationLabel }
  /** Ask the host for a note only; the item keeps its current label. */
  | { type: "noteInteractive"; targetId: string; targetKind: TargetKind }
  | { type: "reveal"; targetId: string }
  | { type: "openPrompt"; promptId: string; direction?: "next" | "previous" };

export const INSPECTOR_VIEW_TYPE = "metajudge.inspector";

export function isWebviewMessage(m: unknown): m is WebviewMessage {
  if (typeof m !== "object" || m === null) return false;
  const t = (m as { type?: unknown }).type;
  return (
    t === "ready" ||
    t === "selected" ||
    t === "annotate" ||
    t === "annotateInteractive" ||
    t === "noteInteractive" ||
    t === "reveal" ||
    t === "openPrompt"
  );
}
