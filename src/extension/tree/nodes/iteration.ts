// One iteration: its stages, its DPO training once recorded, and its prompts. Its line says who holds
// the iteration's lock while a run, an import or a recompute writes it.
import * as vscode from "vscode";
import { iterationDir } from "../../../core/store/iteration.js";
import { lockedMessage } from "../../../core/store/lock.js";
import { iterationLock, lockDescription } from "../../run/lock.js";
import { withId } from "./format.js";
import type { IterationNode, Node, NodeKind, PromptsNode } from "./types.js";

export const iterationKind: NodeKind<IterationNode> = {
  async children(node, tree) {
    const model = await tree.experiments.model(node.dir, node.iteration);
    const s = model.summary();
    const stages: Node[] = s.stages.map((st) => ({
      kind: "stage",
      id: `${node.id}:stage:${st.stage}`,
      parent: node,
      dir: node.dir,
      iteration: node.iteration,
      stage: st,
    }));
    const total = model.prompts({ offset: 0, limit: 0, sort: tree.sort, flaggedOnly: tree.flaggedOnly }).total;
    const prompts: PromptsNode = {
      kind: "prompts",
      id: `${node.id}:prompts`,
      parent: node,
      dir: node.dir,
      iteration: node.iteration,
      total,
    };
    const training: Node[] = s.training
      ? [{ kind: "training", id: `${node.id}:training`, parent: node, dir: node.dir, iteration: node.iteration, training: s.training }]
      : [];
    return [...stages, ...training, prompts];
  },
  item(node) {
    const item = new vscode.TreeItem(`Iteration ${node.iteration}`, vscode.TreeItemCollapsibleState.Collapsed);
    const lock = iterationLock(node.dir, node.iteration);
    item.description = lockDescription(lock);
    item.iconPath = new vscode.ThemeIcon(lock.state === "held" ? "sync~spin" : "history");
    if (lock.state === "held" || lock.state === "unreadable") item.tooltip = lockedMessage(iterationDir(node.dir, node.iteration), lock);
    else if (lock.state === "stale")
      item.tooltip = `${lock.file} was left by pid ${lock.holder.pid} (${lock.holder.command}), which is gone; the next run takes it over`;
    item.contextValue = "metajudge.iteration";
    return withId(item, node);
  },
};
