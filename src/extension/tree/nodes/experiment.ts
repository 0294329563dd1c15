// An experiment folder (holding metajudge.json): its iterations, newest runs included as they appear.
import * as vscode from "vscode";
import { withId } from "./format.js";
import type { ExperimentNode, IterationNode, NodeKind } from "./types.js";

export const experimentKind: NodeKind<ExperimentNode> = {
  children(node, tree) {
    const its = tree.experiments.iterations(node.dir);
    if (its.length === 0)
      return [
        { kind: "message", id: `${node.id}:none`, parent: node, text: "No iterations yet", detail: "Run Iteration starts iteration 1" },
      ];
    return its.map((t) => {
      const n: IterationNode = { kind: "iteration", id: `it:${node.dir}:${t}`, parent: node, dir: node.dir, iteration: t };
      tree.remember(n);
      return n;
    });
  },
  item(node) {
    const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Expanded);
    item.description = vscode.workspace.asRelativePath(node.dir);
    item.iconPath = new vscode.ThemeIcon("beaker");
    item.contextValue = "metajudge.experiment";
    item.tooltip = node.dir;
    return withId(item, node);
  },
};
