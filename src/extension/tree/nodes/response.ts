// One response: its mean score and pair role; its judgements, and its battles when it had any.
import * as vscode from "vscode";
import { flagIcon, fmt, score, withId } from "./format.js";
import { shortName, type Node, type NodeKind, type ResponseNode } from "./types.js";

export const responseKind: NodeKind<ResponseNode> = {
  async children(node, tree) {
    const model = await tree.experiments.model(node.dir, node.iteration);
    const out: Node[] = model.judgements(node.row.id).map((row) => ({
      kind: "judgement",
      id: `judg:${node.dir}:${node.iteration}:${row.id}`,
      parent: node,
      dir: node.dir,
      iteration: node.iteration,
      row,
    }));
    if (node.row.battled) {
      const count = model.battles(node.row.id).length;
      out.push({
        kind: "battles",
        id: `${node.id}:battles`,
        parent: node,
        dir: node.dir,
        iteration: node.iteration,
        responseId: node.row.id,
        count,
      });
    }
    return out;
  },
  item(node) {
    const r = node.row;
    const item = new vscode.TreeItem(shortName(r.id), vscode.TreeItemCollapsibleState.Collapsed);
    const bits = [`mean ${score(r.meanScore)}`, `${fmt(r.length)} chars`];
    if (r.pairRole) bits.push(r.pairRole);
    if (r.duplicateOf) bits.push(`duplicate of ${shortName(r.duplicateOf)}`);
    if (r.battled) bits.push("battled");
    item.description = bits.join(" · ");
    item.tooltip = `${r.id}\n${r.validJudgements}/${r.judgements} judgements scored, variance ${score(r.variance, 3)}${r.flag ? `\nflag: ${r.flag}` : ""}`;
    item.iconPath = flagIcon(
      r.flag,
      r.pairRole === "chosen" ? "thumbsup" : r.pairRole === "rejected" ? "thumbsdown" : "comment-discussion",
    );
    item.contextValue = `metajudge.response${r.flag ? `.${r.flag}` : ""}`;
    return withId(item, node);
  },
};
