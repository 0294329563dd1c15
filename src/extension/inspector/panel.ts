// The inspector as the rest of the extension sees it: one panel at a time, opened on a prompt,
// restored after a window reload by the serializer, driven by keybindings through `selectNext`.
import * as vscode from "vscode";
import { INSPECTOR_VIEW_TYPE, type InspectorState } from "../../shared/protocol.js";
import type { Services } from "../services.js";
import { InspectorPanel, type Selected } from "./inspector-panel.js";
import type { InspectorSource } from "./source.js";

export { InspectorPanel } from "./inspector-panel.js";
export type { AnnotationRequest, InspectorSource } from "./source.js";

export interface InspectorRegistration {
  disposables: vscode.Disposable[];
  show(experimentDir: string, iteration: number, promptId: string, selectedId?: string): Promise<void>;
  selectNext(direction: "next" | "previous"): void;
  current(): InspectorState | undefined;
  /** The record selected in the inspector (with its kind), for commands run from keybindings. */
  selection(): Selected | undefined;
  isActive(): boolean;
}

/** The saved state comes from an earlier page: trust none of it unchecked. */
function restoredState(raw: unknown): InspectorState | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const s = raw as Record<string, unknown>;
  if (typeof s.experimentDir !== "string" || typeof s.iteration !== "number" || typeof s.promptId !== "string") return undefined;
  return {
    experimentDir: s.experimentDir,
    iteration: s.iteration,
    promptId: s.promptId,
    ...(typeof s.selectedId === "string" ? { selectedId: s.selectedId } : {}),
  };
}

export function registerInspector(services: Services, source: InspectorSource): InspectorRegistration {
  let panel: InspectorPanel | undefined;
  const adopt = (p: InspectorPanel): InspectorPanel => {
    panel = p;
    p.onDidDispose(() => {
      if (panel === p) panel = undefined;
    });
    return p;
  };

  const serializer = vscode.window.registerWebviewPanelSerializer(INSPECTOR_VIEW_TYPE, {
    async deserializeWebviewPanel(webviewPanel: vscode.WebviewPanel, raw: unknown): Promise<void> {
      const state = restoredState(raw);
      // One inspector at a time; a tab with nothing to restore is closed rather than left blank.
      if (!state || panel) {
        webviewPanel.dispose();
        return;
      }
      services.log.info("inspector", `restoring ${state.promptId} of iteration ${state.iteration}`);
      await adopt(new InspectorPanel(webviewPanel, services, source)).show(
        state.experimentDir,
        state.iteration,
        state.promptId,
        state.selectedId,
      );
    },
  });

  return {
    disposables: [serializer, { dispose: () => panel?.dispose() }],
    async show(experimentDir, iteration, promptId, selectedId) {
      const p = panel ?? adopt(InspectorPanel.create(services, source));
      p.reveal();
      await p.show(experimentDir, iteration, promptId, selectedId);
    },
    selectNext: (direction) => panel?.selectNext(direction),
    current: () => panel?.current(),
    selection: () => panel?.selection(),
    isActive: () => panel?.isActive() ?? false,
  };
}
