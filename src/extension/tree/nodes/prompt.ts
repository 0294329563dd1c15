// One prompt: its spread, unparsed and flagged judgements at a glance; its responses below.
import * as vscode from "vscode";
import { fmt, score, withId } from "./format.js";
import type { NodeKind, PromptNode } from "./types.js";

export const promptKind: NodeKind<PromptNode> = {
  async children(node, tree) {
    const model = await tree.experiments.model(node.dir, node.iteration);
    return model.responses(node.row.id).map((row) => ({
      kind: "response",
      id: `resp:${node.dir}:${node.iteration}:${row.id}`,
      parent: node,
      dir: node.dir,
      iteration: node.iteration,
      row,
    }));
  },
  item(node) {
    const r = node.row;
    const item = new vscode.TreeItem(r.id, vscode.TreeItemCollapsibleState.Collapsed);
    const bits = [`spread ${score(r.spread)}`];
    if (r.parseFailures > 0) bits.push(`${r.parseFailures} unparsed`);
    if (r.flags > 0) bits.push(`${r.flags} flagged`);
    item.description = `${bits.join(" · ")} — ${r.preview}`;
    item.tooltip = `${r.preview}\n\n${r.responses} responses, ${fmt(r.judgements)} judgements`;
    item.iconPath = new vscode.ThemeIcon(r.flags > 0 ? "warning" : "comment");
    item.contextValue = "metajudge.prompt";
    item.command = { command: "metajudge.openInspector", title: "Open Inspector", arguments: [node] };
    return withId(item, node);
  },
};
