// The DPO training recorded for an iteration: its final numbers, and its job's log one click away.
import * as vscode from "vscode";
import { withId } from "./format.js";
import type { NodeKind, TrainingNode } from "./types.js";

export const trainingKind: NodeKind<TrainingNode> = {
  item(node) {
    const t = node.training;
    const item = new vscode.TreeItem("DPO training", vscode.TreeItemCollapsibleState.None);
    item.description = trainingDescription(t.final);
    item.iconPath = new vscode.ThemeIcon("mortar-board");
    item.contextValue = "metajudge.training";
    const md = new vscode.MarkdownString();
    md.appendMarkdown(`**DPO training of iteration ${node.iteration}'s pairs**\n\n`);
    for (const [k, v] of Object.entries(t.final)) md.appendMarkdown(`- ${k}: ${Number(v.toPrecision(4))}\n`);
    md.appendMarkdown(`\n${t.steps} logged steps · job \`${t.jobId}\` on ${t.host}\n\n`);
    if (t.baseModel) md.appendMarkdown(`from \`${t.baseModel}\`\n\n`);
    md.appendMarkdown(`checkpoint \`${t.checkpoint}\` — the model of iteration ${node.iteration + 1}`);
    item.tooltip = md;
    item.command = { command: "metajudge.openJobLog", title: "Open Job Log", arguments: [{ experimentDir: node.dir, jobId: t.jobId }] };
    return withId(item, node);
  },
};

/** "loss 0.668 · margin 0.05 · acc 100%": the three numbers a DPO run is judged by at a glance. */
function trainingDescription(final: Record<string, number>): string {
  const n = (v: number): string => String(Number(v.toPrecision(3)));
  const parts: string[] = [];
  const loss = final.loss ?? final.train_loss;
  if (loss !== undefined) parts.push(`loss ${n(loss)}`);
  if (final["rewards/margins"] !== undefined) parts.push(`margin ${n(final["rewards/margins"])}`);
  if (final["rewards/accuracies"] !== undefined) parts.push(`acc ${Math.round(final["rewards/accuracies"] * 100)}%`);
  return parts.join(" · ") || "done";
}
