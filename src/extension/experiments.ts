// The experiments in the workspace and their open iteration models. Models open lazily (building or
// loading their indexes off the hot path) and refresh when their files change, with refreshes
// coalesced so a run appending thousands of records a second costs one refresh per interval.
import * as path from "node:path";
import * as vscode from "vscode";
import { CONFIG_FILE } from "../core/config.js";
import { listIterations } from "../core/experiment.js";
import { IterationModel } from "../core/view/model.js";
import type { Services } from "./services.js";

export interface ExperimentRef {
  dir: string;
  name: string;
}

const key = (dir: string, t: number): string => `${dir}\u0000${t}`;

export class Experiments implements vscode.Disposable {
  private readonly models = new Map<string, Promise<IterationModel>>();
  private readonly changed = new vscode.EventEmitter<{ experimentDir: string; iteration: number } | undefined>();
  private readonly pending = new Map<string, { dir: string; t: number }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private list: ExperimentRef[] | undefined;

  /** Fires with the iteration that changed, or undefined when the set of experiments changed. */
  readonly onDidChange = this.changed.event;

  constructor(private readonly services: Services) {
    const watcher = vscode.workspace.createFileSystemWatcher("**/{metajudge.json,iterations/*/*.jsonl,iterations/*/manifest.json}");
    const onFile = (uri: vscode.Uri): void => this.fileChanged(uri.fsPath);
    this.disposables.push(watcher, watcher.onDidChange(onFile), watcher.onDidCreate(onFile), watcher.onDidDelete(onFile), this.changed);
  }

  async experiments(): Promise<ExperimentRef[]> {
    if (!this.list) {
      const uris = await vscode.workspace.findFiles(`**/${CONFIG_FILE}`, "**/{node_modules,.git,.e2e}/**", 200);
      this.list = uris
        .map((u) => path.dirname(u.fsPath))
        .sort()
        .map((dir) => ({ dir, name: path.basename(dir) }));
      void vscode.commands.executeCommand("setContext", "metajudge.hasExperiments", this.list.length > 0);
      void vscode.commands.executeCommand("setContext", "metajudge.ready", true);
    }
    return this.list;
  }

  iterations(dir: string): number[] {
    return listIterations(dir);
  }

  /** The experiment that holds a file, by walking up to the nearest metajudge.json we know. */
  async experimentOf(file: string): Promise<ExperimentRef | undefined> {
    const all = await this.experiments();
    let best: ExperimentRef | undefined;
    for (const e of all) if ((file === e.dir || file.startsWith(e.dir + path.sep)) && (!best || e.dir.length > best.dir.length)) best = e;
    return best;
  }

  /** Iteration folder that holds a file (…/iterations/<t>/…), if any. */
  static iterationOf(file: string): { experimentDir: string; iteration: number } | undefined {
    const m = /^(.*)[\\/]iterations[\\/](\d+)[\\/][^\\/]+$/.exec(file);
    return m ? { experimentDir: m[1]!, iteration: Number(m[2]) } : undefined;
  }

  model(dir: string, t: number): Promise<IterationModel> {
    const k = key(dir, t);
    const cached = this.models.get(k);
    if (cached) return cached;
    const started = Date.now();
    const m = Promise.resolve(
      vscode.window.withProgress({ location: { viewId: "metajudge.iterations" }, title: `Indexing iteration ${t}` }, () =>
        IterationModel.open(dir, t),
      ),
    );
    m.then(
      () => this.services.log.info("model", `opened ${dir} iteration ${t} in ${Date.now() - started} ms`),
      (err: unknown) => {
        this.models.delete(k);
        this.services.log.error("model", `cannot open ${dir} iteration ${t}: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
    this.models.set(k, m);
    return m;
  }

  /** Refresh now (after our own writes, e.g. an annotation) rather than waiting for the watcher. */
  async refreshNow(dir: string, t: number): Promise<void> {
    const m = this.models.get(key(dir, t));
    if (m) await (await m).refresh();
    this.changed.fire({ experimentDir: dir, iteration: t });
  }

  refreshAll(): void {
    this.list = undefined;
    for (const [k, m] of this.models) {
      this.models.delete(k);
      void m.then(
        (x) => x.dispose(),
        () => undefined,
      );
    }
    this.changed.fire(undefined);
  }

  private fileChanged(file: string): void {
    if (path.basename(file) === CONFIG_FILE) {
      this.list = undefined;
      this.changed.fire(undefined);
      return;
    }
    const it = Experiments.iterationOf(file);
    if (!it) return;
    this.pending.set(key(it.experimentDir, it.iteration), { dir: it.experimentDir, t: it.iteration });
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), this.services.settings.refreshDelayMs());
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const batch = [...this.pending.values()];
    this.pending.clear();
    for (const { dir, t } of batch) {
      const m = this.models.get(key(dir, t));
      try {
        if (m) await (await m).refresh();
      } catch (err) {
        this.services.log.warn("model", `refresh of ${dir} iteration ${t} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.changed.fire({ experimentDir: dir, iteration: t });
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const m of this.models.values())
      void m.then(
        (x) => x.dispose(),
        () => undefined,
      );
    for (const d of this.disposables) d.dispose();
  }
}
