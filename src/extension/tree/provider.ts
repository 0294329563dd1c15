// The Iterations view: experiments → iterations → stages and prompts (paged) → responses →
// judgements and battles. Children come from the iteration model's indexes on demand; nothing is
// loaded before its parent is expanded.
import * as path from "node:path";
import * as vscode from "vscode";
import type { PromptSort, AnnotationLabel } from "../../core/view/types.js";
import type { Experiments } from "../experiments.js";
import type { Services } from "../services.js";
import { shortName, type Node, type IterationNode, type PromptsNode, type PageNode } from "./nodes.js";
import { iterationDir } from "../../core/store/iteration.js";
import { lockedMessage } from "../../core/store/lock.js";
import { iterationLock, lockDescription } from "../run/lock.js";

const fmt = (n: number): string => n.toLocaleString("en-US");
const score = (s: number | null | undefined, digits = 2): string => (s === null || s === undefined ? "–" : String(Number(s.toFixed(digits))));

const STAGE_ICON: Record<string, vscode.ThemeIcon> = {
  pending: new vscode.ThemeIcon("circle-large-outline"),
  running: new vscode.ThemeIcon("sync~spin"),
  done: new vscode.ThemeIcon("pass", new vscode.ThemeColor("testing.iconPassed")),
  failed: new vscode.ThemeIcon("error", new vscode.ThemeColor("testing.iconFailed")),
  cancelled: new vscode.ThemeIcon("circle-slash"),
};
// A finished export whose pairs were recomputed since: done, but no longer what training should read.
const STALE_ICON = new vscode.ThemeIcon("warning", new vscode.ThemeColor("list.warningForeground"));

function flagIcon(flag: AnnotationLabel | undefined, fallback: string): vscode.ThemeIcon {
  if (flag === "suspicious") return new vscode.ThemeIcon("warning", new vscode.ThemeColor("list.warningForeground"));
  if (flag === "confirmed") return new vscode.ThemeIcon("verified");
  return new vscode.ThemeIcon(fallback);
}

export class IterationsTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly iterationNodes = new Map<string, IterationNode>();
  private readonly disposables: vscode.Disposable[] = [];
  sort: PromptSort = "id";
  flaggedOnly = false;

  constructor(
    private readonly services: Services,
    private readonly experiments: Experiments,
  ) {
    // A writer takes and drops iterations/<t>/.lock: the iteration's line says who is writing it.
    const locks = vscode.workspace.createFileSystemWatcher("**/iterations/*/.lock");
    const onLock = (uri: vscode.Uri): void => {
      const iterDir = path.dirname(uri.fsPath);
      const node = this.iterationNodes.get(`it:${path.dirname(path.dirname(iterDir))}:${path.basename(iterDir)}`);
      this.emitter.fire(node);
    };
    this.disposables.push(
      locks,
      locks.onDidCreate(onLock),
      locks.onDidChange(onLock),
      locks.onDidDelete(onLock),
      this.emitter,
      experiments.onDidChange((e) => {
        // Refresh only the iteration that changed, so expanded prompts elsewhere stay as they are.
        const node = e ? this.iterationNodes.get(`it:${e.experimentDir}:${e.iteration}`) : undefined;
        this.emitter.fire(node);
      }),
    );
  }

  refresh(): void {
    this.emitter.fire(undefined);
  }

  setSort(sort: PromptSort): void {
    this.sort = sort;
    this.refresh();
  }

  setFlaggedOnly(on: boolean): void {
    this.flaggedOnly = on;
    void vscode.commands.executeCommand("setContext", "metajudge.flaggedOnly", on);
    this.refresh();
  }

  getParent(node: Node): Node | undefined {
    return node.parent;
  }

  async getChildren(node?: Node): Promise<Node[]> {
    try {
      return await this.children(node);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.services.log.error("tree", message);
      return [{ kind: "message", id: `${node?.id ?? "root"}:error`, parent: node, text: "Cannot read this iteration", detail: message }];
    }
  }

  private async children(node?: Node): Promise<Node[]> {
    if (!node) {
      const list = await this.experiments.experiments();
      return list.map((e) => ({ kind: "experiment", id: `exp:${e.dir}`, parent: undefined, dir: e.dir, name: e.name }));
    }
    switch (node.kind) {
      case "experiment": {
        const its = this.experiments.iterations(node.dir);
        if (its.length === 0) return [{ kind: "message", id: `${node.id}:none`, parent: node, text: "No iterations yet", detail: "Run Iteration starts iteration 1" }];
        return its.map((t) => {
          const n: IterationNode = { kind: "iteration", id: `it:${node.dir}:${t}`, parent: node, dir: node.dir, iteration: t };
          this.iterationNodes.set(n.id, n);
          return n;
        });
      }
      case "iteration": {
        const model = await this.experiments.model(node.dir, node.iteration);
        const s = model.summary();
        const stages: Node[] = s.stages.map((st) => ({ kind: "stage", id: `${node.id}:stage:${st.stage}`, parent: node, dir: node.dir, iteration: node.iteration, stage: st }));
        const total = model.prompts({ offset: 0, limit: 0, sort: this.sort, flaggedOnly: this.flaggedOnly }).total;
        const prompts: PromptsNode = { kind: "prompts", id: `${node.id}:prompts`, parent: node, dir: node.dir, iteration: node.iteration, total };
        const training: Node[] = s.training ? [{ kind: "training", id: `${node.id}:training`, parent: node, dir: node.dir, iteration: node.iteration, training: s.training }] : [];
        return [...stages, ...training, prompts];
      }
      case "prompts": {
        const size = this.services.settings.pageSize();
        if (node.total <= size) return this.promptPage(node, 0, size);
        const pages: PageNode[] = [];
        for (let offset = 0; offset < node.total; offset += size) {
          pages.push({ kind: "page", id: `${node.id}:page:${offset}`, parent: node, dir: node.dir, iteration: node.iteration, offset, limit: size, total: node.total });
        }
        return pages;
      }
      case "page":
        return this.promptPage(node, node.offset, node.limit);
      case "prompt": {
        const model = await this.experiments.model(node.dir, node.iteration);
        return model.responses(node.row.id).map((row) => ({ kind: "response", id: `resp:${node.dir}:${node.iteration}:${row.id}`, parent: node, dir: node.dir, iteration: node.iteration, row }));
      }
      case "response": {
        const model = await this.experiments.model(node.dir, node.iteration);
        const out: Node[] = model.judgements(node.row.id).map((row) => ({ kind: "judgement", id: `judg:${node.dir}:${node.iteration}:${row.id}`, parent: node, dir: node.dir, iteration: node.iteration, row }));
        if (node.row.battled) {
          const count = model.battles(node.row.id).length;
          out.push({ kind: "battles", id: `${node.id}:battles`, parent: node, dir: node.dir, iteration: node.iteration, responseId: node.row.id, count });
        }
        return out;
      }
      case "battles": {
        const model = await this.experiments.model(node.dir, node.iteration);
        return model.battles(node.responseId).map((row) => ({ kind: "battle", id: `bat:${node.dir}:${node.iteration}:${row.id}`, parent: node, dir: node.dir, iteration: node.iteration, row }));
      }
      default:
        return [];
    }
  }

  private async promptPage(node: PromptsNode | PageNode, offset: number, limit: number): Promise<Node[]> {
    const model = await this.experiments.model(node.dir, node.iteration);
    const { rows } = model.prompts({ offset, limit, sort: this.sort, flaggedOnly: this.flaggedOnly });
    return rows.map((row) => ({ kind: "prompt", id: `prompt:${node.dir}:${node.iteration}:${row.id}`, parent: node, dir: node.dir, iteration: node.iteration, row }));
  }

  getTreeItem(node: Node): vscode.TreeItem {
    const C = vscode.TreeItemCollapsibleState;
    switch (node.kind) {
      case "experiment": {
        const item = new vscode.TreeItem(node.name, C.Expanded);
        item.description = vscode.workspace.asRelativePath(node.dir);
        item.iconPath = new vscode.ThemeIcon("beaker");
        item.contextValue = "metajudge.experiment";
        item.tooltip = node.dir;
        return this.withId(item, node);
      }
      case "iteration": {
        const item = new vscode.TreeItem(`Iteration ${node.iteration}`, C.Collapsed);
        const lock = iterationLock(node.dir, node.iteration);
        item.description = lockDescription(lock);
        item.iconPath = new vscode.ThemeIcon(lock.state === "held" ? "sync~spin" : "history");
        if (lock.state === "held" || lock.state === "unreadable") item.tooltip = lockedMessage(iterationDir(node.dir, node.iteration), lock);
        else if (lock.state === "stale") item.tooltip = `${lock.file} was left by pid ${lock.holder.pid} (${lock.holder.command}), which is gone; the next run takes it over`;
        item.contextValue = "metajudge.iteration";
        return this.withId(item, node);
      }
      case "stage": {
        const st = node.stage;
        const item = new vscode.TreeItem(st.stage, C.None);
        const progress = st.total !== null ? `${fmt(st.done)}/${fmt(st.total)}` : st.done > 0 ? fmt(st.done) : "";
        item.description = [progress, st.stale ? "stale" : st.state].filter(Boolean).join(" · ");
        item.iconPath = st.stale ? STALE_ICON : (STAGE_ICON[st.state] ?? STAGE_ICON.pending);
        item.contextValue = `metajudge.stage.${st.stale ? "stale" : st.state}`;
        const counts = Object.entries(st.counts).map(([k, v]) => `${k}: ${fmt(v)}`);
        const stale = st.stale ? `\n\n$(warning) Stale: ${st.stale}` : "";
        item.tooltip = new vscode.MarkdownString(`**${st.stage}** — ${st.state}${stale}\n\n${counts.map((c) => `- ${c}`).join("\n")}`, true);
        return this.withId(item, node);
      }
      case "training": {
        const t = node.training;
        const item = new vscode.TreeItem("DPO training", C.None);
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
        return this.withId(item, node);
      }
      case "prompts": {
        const item = new vscode.TreeItem(this.flaggedOnly ? "Prompts with flags" : "Prompts", C.Collapsed);
        item.description = `${fmt(node.total)} · by ${this.sort.replace("_", " ")}`;
        item.iconPath = new vscode.ThemeIcon("list-unordered");
        item.contextValue = "metajudge.prompts";
        return this.withId(item, node);
      }
      case "page": {
        const item = new vscode.TreeItem(`${fmt(node.offset + 1)}–${fmt(Math.min(node.total, node.offset + node.limit))}`, C.Collapsed);
        item.iconPath = new vscode.ThemeIcon("folder");
        item.contextValue = "metajudge.page";
        return this.withId(item, node);
      }
      case "prompt": {
        const r = node.row;
        const item = new vscode.TreeItem(r.id, C.Collapsed);
        const bits = [`spread ${score(r.spread)}`];
        if (r.parseFailures > 0) bits.push(`${r.parseFailures} unparsed`);
        if (r.flags > 0) bits.push(`${r.flags} flagged`);
        item.description = `${bits.join(" · ")} — ${r.preview}`;
        item.tooltip = `${r.preview}\n\n${r.responses} responses, ${fmt(r.judgements)} judgements`;
        item.iconPath = new vscode.ThemeIcon(r.flags > 0 ? "warning" : "comment");
        item.contextValue = "metajudge.prompt";
        item.command = { command: "metajudge.openInspector", title: "Open Inspector", arguments: [node] };
        return this.withId(item, node);
      }
      case "response": {
        const r = node.row;
        const item = new vscode.TreeItem(shortName(r.id), C.Collapsed);
        const bits = [`mean ${score(r.meanScore)}`, `${fmt(r.length)} chars`];
        if (r.pairRole) bits.push(r.pairRole);
        if (r.duplicateOf) bits.push(`duplicate of ${shortName(r.duplicateOf)}`);
        if (r.battled) bits.push("battled");
        item.description = bits.join(" · ");
        item.tooltip = `${r.id}\n${r.validJudgements}/${r.judgements} judgements scored, variance ${score(r.variance, 3)}${r.flag ? `\nflag: ${r.flag}` : ""}`;
        item.iconPath = flagIcon(r.flag, r.pairRole === "chosen" ? "thumbsup" : r.pairRole === "rejected" ? "thumbsdown" : "comment-discussion");
        item.contextValue = `metajudge.response${r.flag ? `.${r.flag}` : ""}`;
        return this.withId(item, node);
      }
      case "judgement": {
        const r = node.row;
        const item = new vscode.TreeItem(shortName(r.id), C.None);
        const bits = [r.score === null ? "no score" : `score ${score(r.score)}`];
        if (r.elo !== undefined) bits.push(`Elo ${Math.round(r.elo)}`);
        if (r.pairRole) bits.push(r.pairRole);
        bits.push(`${fmt(r.length)} chars`);
        item.description = bits.join(" · ");
        item.tooltip = `${r.id}${r.parseError ? `\nparse: ${r.parseError}` : ""}${r.flag ? `\nflag: ${r.flag}` : ""}`;
        item.iconPath = r.score === null && !r.flag ? new vscode.ThemeIcon("question") : flagIcon(r.flag, "law");
        item.contextValue = `metajudge.judgement${r.flag ? `.${r.flag}` : ""}`;
        item.command = { command: "metajudge.openInspector", title: "Open Inspector", arguments: [node] };
        return this.withId(item, node);
      }
      case "battles": {
        const item = new vscode.TreeItem("Battles", C.Collapsed);
        item.description = `${fmt(node.count)} ordered`;
        item.iconPath = new vscode.ThemeIcon("git-compare");
        item.contextValue = "metajudge.battles";
        return this.withId(item, node);
      }
      case "battle": {
        const r = node.row;
        const item = new vscode.TreeItem(`${shortName(r.firstId)} vs ${shortName(r.secondId)}`, C.None);
        item.description = r.winner === null ? "no verdict" : `winner: ${r.winner === "first" ? shortName(r.firstId) : shortName(r.secondId)} (${r.winner})`;
        item.iconPath = flagIcon(r.flag, r.winner === null ? "question" : "arrow-swap");
        item.contextValue = `metajudge.battle${r.flag ? `.${r.flag}` : ""}`;
        item.tooltip = r.id;
        item.command = { command: "metajudge.openInspector", title: "Open Inspector", arguments: [node] };
        return this.withId(item, node);
      }
      case "message": {
        const item = new vscode.TreeItem(node.text, C.None);
        item.description = node.detail;
        item.iconPath = new vscode.ThemeIcon("info");
        item.contextValue = "metajudge.message";
        return this.withId(item, node);
      }
    }
  }

  private withId(item: vscode.TreeItem, node: Node): vscode.TreeItem {
    item.id = node.id;
    return item;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

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
