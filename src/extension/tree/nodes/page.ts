// One page of prompts ("1–500"), when there are more than a page.
import * as vscode from "vscode";
import { fmt, withId } from "./format.js";
import { promptPage } from "./prompts.js";
import type { NodeKind, PageNode } from "./types.js";

export const pageKind: NodeKind<PageNode> = {
  children: (node, tree) => promptPage(node, tree, node.offset, node.limit),
  item(node) {
    const item = new vscode.TreeItem(
      `${fmt(node.offset + 1)}–${fmt(Math.min(node.total, node.offset + node.limit))}`,
      vscode.TreeItemCollapsibleState.Collapsed,
    );
    item.iconPath = new vscode.ThemeIcon("folder");
    item.contextValue = "metajudge.page";
    return withId(item, node);
  },
};
