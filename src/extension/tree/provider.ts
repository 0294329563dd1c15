// The Iterations view: experiments → iterations → stages and prompts (paged) → responses →
// judgements and battles. Children come from the iteration model's indexes on demand; nothing is
// loaded before its parent is expanded. What each kind of node holds and shows is in nodes/<kind>.ts;
// this class owns the view's state (sort, filter) and what refreshes which line.
import * as path from "node:path";
import * as vscode from "vscode";
import type { PromptSort } from "../../core/view/types.js";
import type { Experiments } from "../experiments.js";
import type { Services } from "../services.js";
import { kindOf, type IterationNode, type Node, type TreeContext } from "./nodes/index.js";

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
    return (await kindOf(node).children?.(node, this.context())) ?? [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    return kindOf(node).item(node, this.context());
  }

  /** What the node kinds read: the model and settings, this view's sort and filter. */
  private context(): TreeContext {
    return {
      experiments: this.experiments,
      services: this.services,
      sort: this.sort,
      flaggedOnly: this.flaggedOnly,
      remember: (n: IterationNode) => this.iterationNodes.set(n.id, n),
    };
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
