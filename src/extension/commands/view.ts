// Opening the inspector and shaping the tree.
import * as vscode from "vscode";
import type { PromptSort } from "../../core/view/types.js";
import type { Node } from "../tree/nodes/index.js";
import type { Deps } from "./deps.js";

/** The prompt a tree node belongs to, by walking up its parents. */
function promptOf(node: Node): { dir: string; iteration: number; promptId: string } | undefined {
  for (let n: Node | undefined = node; n; n = n.parent)
    if (n.kind === "prompt") return { dir: n.dir, iteration: n.iteration, promptId: n.row.id };
  return undefined;
}

export function registerViewCommands(deps: Deps): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand("metajudge.openInspector", async (arg?: unknown) => {
      const a = arg as
        (Node & { row?: { id: string } }) | { experimentDir: string; iteration: number; promptId: string; selectedId?: string } | undefined;
      if (a && "experimentDir" in a) return deps.inspector.show(a.experimentDir, a.iteration, a.promptId, a.selectedId);
      if (a && "kind" in a) {
        const p = promptOf(a);
        if (p) return deps.inspector.show(p.dir, p.iteration, p.promptId, a.kind === "prompt" ? undefined : a.row?.id);
      }
      // From the palette: choose among the prompts of an iteration, most disputed first.
      const list = await deps.experiments.experiments();
      const choices: (vscode.QuickPickItem & { dir: string; t: number; id: string })[] = [];
      for (const e of list) {
        const t = deps.experiments.iterations(e.dir).at(-1);
        if (t === undefined) continue;
        const model = await deps.experiments.model(e.dir, t);
        for (const r of model.prompts({ offset: 0, limit: 500, sort: "spread" }).rows) {
          choices.push({
            label: r.id,
            description: `spread ${r.spread?.toFixed(2) ?? "–"}${list.length > 1 ? ` · ${e.name}` : ""} · iteration ${t}`,
            detail: r.preview,
            dir: e.dir,
            t,
            id: r.id,
          });
        }
      }
      if (choices.length === 0) {
        void vscode.window.showInformationMessage("No iteration with records yet: Run Iteration first.");
        return;
      }
      const pick = await vscode.window.showQuickPick(choices, { title: "Inspect which prompt?", matchOnDetail: true });
      if (pick) await deps.inspector.show(pick.dir, pick.t, pick.id);
    }),
    vscode.commands.registerCommand("metajudge.refreshTree", () => deps.experiments.refreshAll()),
    vscode.commands.registerCommand("metajudge.toggleFlaggedFilter", () => deps.tree.setFlaggedOnly(!deps.tree.flaggedOnly)),
    vscode.commands.registerCommand("metajudge.sortPrompts", async () => {
      const items: (vscode.QuickPickItem & { sort: PromptSort })[] = [
        { label: "By score spread", description: "prompts whose responses the judge told apart most, first", sort: "spread" },
        { label: "By parse failures", description: "judgements without a score", sort: "parse_failures" },
        { label: "By flags", description: "items flagged as suspicious", sort: "flags" },
        { label: "By id", sort: "id" },
      ];
      const pick = await vscode.window.showQuickPick(items, { title: "Sort prompts" });
      if (pick) deps.tree.setSort(pick.sort);
    }),
    vscode.commands.registerCommand("metajudge.showLogs", () => deps.services.log.show()),
  ];
}
