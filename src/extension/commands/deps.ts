// What commands need, handed over by the composition root.
import type { Annotations } from "../annotations.js";
import type { Experiments } from "../experiments.js";
import type { Runner } from "../run/runner.js";
import type { Services } from "../services.js";
import type { IterationsTree } from "../tree/provider.js";
import type { InspectorState } from "../../shared/protocol.js";
import type * as vscode from "vscode";
import type { Node } from "../tree/nodes/index.js";

export interface InspectorControl {
  show(experimentDir: string, iteration: number, promptId: string, selectedId?: string): Promise<void>;
  selectNext(direction: "next" | "previous"): void;
  current(): InspectorState | undefined;
  /** The record selected in the inspector, when the inspector has focus. */
  selection(): { targetId: string; targetKind: "response" | "judgement" | "meta_judgement" } | undefined;
  isActive(): boolean;
}

export interface Deps {
  services: Services;
  experiments: Experiments;
  annotations: Annotations;
  runner: Runner;
  tree: IterationsTree;
  treeView: vscode.TreeView<Node>;
  inspector: InspectorControl;
}
