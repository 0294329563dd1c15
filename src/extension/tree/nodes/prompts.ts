// An iteration's prompts in the view's sort and filter, in pages of metajudge.pageSize when there are more.
import * as vscode from "vscode";
import { fmt, withId } from "./format.js";
import type { Node, NodeKind, PageNode, PromptsNode, TreeContext } from "./types.js";

export const promptsKind: NodeKind<PromptsNode> = {
  children(node, tree) {
    const size = tree.services.settings.pageSize();
    if (node.total <= size) return promptPage(node, tree, 0, size);
    const pages: PageNode[] = [];
    for (let offset = 0; offset < node.total; offset += size) {
      pages.push({
        kind: "page",
        id: `${node.id}:page:${offset}`,
        parent: node,
        dir: node.dir,
        iteration: node.iteration,
        offset,
        limit: size,
        total: node.total,
      });
    }
    return pages;
  },
  item(node, tree) {
    const item = new vscode.TreeItem(tree.flaggedOnly ? "Prompts with flags" : "Prompts", vscode.TreeItemCollapsibleState.Collapsed);
    item.description = `${fmt(node.total)} · by ${tree.sort.replace("_", " ")}`;
    item.iconPath = new vscode.ThemeIcon("list-unordered");
    item.contextValue = "metajudge.prompts";
    return withId(item, node);
  },
};

export async function promptPage(node: PromptsNode | PageNode, tree: TreeContext, offset: number, limit: number): Promise<Node[]> {
  const model = await tree.experiments.model(node.dir, node.iteration);
  const { rows } = model.prompts({ offset, limit, sort: tree.sort, flaggedOnly: tree.flaggedOnly });
  return rows.map((row) => ({
    kind: "prompt",
    id: `prompt:${node.dir}:${node.iteration}:${row.id}`,
    parent: node,
    dir: node.dir,
    iteration: node.iteration,
    row,
  }));
}
