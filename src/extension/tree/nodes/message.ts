// A line of text where data would be: nothing yet, or why it cannot be read.
import * as vscode from "vscode";
import { withId } from "./format.js";
import type { MessageNode, NodeKind } from "./types.js";

export const messageKind: NodeKind<MessageNode> = {
  item(node) {
    const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
    item.description = node.detail;
    item.iconPath = new vscode.ThemeIcon("info");
    item.contextValue = "metajudge.message";
    return withId(item, node);
  },
};
