// One meta-judge battle: which judgement it preferred, in which order they were shown.
import * as vscode from "vscode";
import { flagIcon, withId } from "./format.js";
import { shortName, type BattleNode, type NodeKind } from "./types.js";

export const battleKind: NodeKind<BattleNode> = {
  item(node) {
    const r = node.row;
    const item = new vscode.TreeItem(`${shortName(r.firstId)} vs ${shortName(r.secondId)}`, vscode.TreeItemCollapsibleState.None);
    item.description =
      r.winner === null ? "no verdict" : `winner: ${r.winner === "first" ? shortName(r.firstId) : shortName(r.secondId)} (${r.winner})`;
    item.iconPath = flagIcon(r.flag, r.winner === null ? "question" : "arrow-swap");
    item.contextValue = `metajudge.battle${r.flag ? `.${r.flag}` : ""}`;
    item.tooltip = r.id;
    item.command = { command: "metajudge.openInspector", title: "Open Inspector", arguments: [node] };
    return withId(item, node);
  },
};
