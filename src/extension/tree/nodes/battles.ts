// The meta-judge battles a response took part in, both orders.
import * as vscode from "vscode";
import { fmt, withId } from "./format.js";
import type { BattlesNode, NodeKind } from "./types.js";

export const battlesKind: NodeKind<BattlesNode> = {
  async children(node, tree) {
    const model = await tree.experiments.model(node.dir, node.iteration);
    return model.battles(node.responseId).map((row) => ({
      kind: "battle",
      id: `bat:${node.dir}:${node.iteration}:${row.id}`,
      parent: node,
      dir: node.dir,
      iteration: node.iteration,
      row,
    }));
  },
  item(node) {
    const item = new vscode.TreeItem("Battles", vscode.TreeItemCollapsibleState.Collapsed);
    item.description = `${fmt(node.count)} ordered`;
    item.iconPath = new vscode.ThemeIcon("git-compare");
    item.contextValue = "metajudge.battles";
    return withId(item, node);
  },
};
