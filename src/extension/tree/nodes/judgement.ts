// One judgement of a response: its score (or why it has none), Elo when battled, pair role.
import * as vscode from "vscode";
import { flagIcon, fmt, score, withId } from "./format.js";
import { shortName, type JudgementNode, type NodeKind } from "./types.js";

export const judgementKind: NodeKind<JudgementNode> = {
  item(node) {
    const r = node.row;
    const item = new vscode.TreeItem(shortName(r.id), vscode.TreeItemCollapsibleState.None);
    const bits = [r.score === null ? "no score" : `score ${score(r.score)}`];
    if (r.elo !== undefined) bits.push(`Elo ${Math.round(r.elo)}`);
    if (r.pairRole) bits.push(r.pairRole);
    bits.push(`${fmt(r.length)} chars`);
    item.description = bits.join(" · ");
    item.tooltip = `${r.id}${r.parseError ? `\nparse: ${r.parseError}` : ""}${r.flag ? `\nflag: ${r.flag}` : ""}`;
    item.iconPath = r.score === null && !r.flag ? new vscode.ThemeIcon("question") : flagIcon(r.flag, "law");
    item.contextValue = `metajudge.judgement${r.flag ? `.${r.flag}` : ""}`;
    item.command = { command: "metajudge.openInspector", title: "Open Inspector", arguments: [node] };
    return withId(item, node);
  },
};
