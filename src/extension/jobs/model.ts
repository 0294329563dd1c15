// Every job of every experiment in the workspace, read from <experiment>/jobs/*.json. Job records
// are written by whoever follows the job (a worker, a CLI in a terminal, the poller); this model
// only reads them, re-reading when a record file changes (coalesced) or when asked.
import * as path from "node:path";
import * as vscode from "vscode";
import { JobStore, type JobRecord } from "../../core/remote/jobs/record.js";
import { TERMINAL_STATES } from "../../core/remote/types.js";
import type { Experiments } from "../experiments.js";
import type { Services } from "../services.js";

export interface JobEntry {
  experimentDir: string;
  job: JobRecord;
}

export const isLive = (job: JobRecord): boolean => !TERMINAL_STATES.has(job.state);

export class JobsModel implements vscode.Disposable {
  private entries: JobEntry[] | undefined;
  private loading: Promise<JobEntry[]> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Bumped by refresh(): a read that began before it must not be kept. */
  private generation = 0;
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [];
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly services: Services,
    private readonly experiments: Experiments,
  ) {
    const watcher = vscode.workspace.createFileSystemWatcher("**/jobs/*.json");
    const onFile = (): void => this.refreshSoon();
    this.disposables.push(watcher, watcher.onDidChange(onFile), watcher.onDidCreate(onFile), watcher.onDidDelete(onFile), this.changed);
    this.disposables.push(experiments.onDidChange((e) => e === undefined && this.refreshSoon()));
  }

  async all(): Promise<JobEntry[]> {
    if (this.entries) return this.entries;
    this.loading ??= this.load();
    return this.loading;
  }

  async get(experimentDir: string, id: string): Promise<JobEntry | undefined> {
    return (await this.all()).find((e) => e.experimentDir === experimentDir && e.job.id === id);
  }

  /** Drop what was read and tell the view; the next all() reads the folders again. */
  refresh(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.generation++;
    this.entries = undefined;
    this.loading = undefined;
    this.changed.fire();
  }

  private refreshSoon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.refresh(), this.services.settings.refreshDelayMs());
  }

  private async load(): Promise<JobEntry[]> {
    const generation = this.generation;
    const out: JobEntry[] = [];
    for (const e of await this.experiments.experiments()) {
      try {
        const { records, problems } = new JobStore(e.dir).scan();
        for (const p of problems) this.services.log.warn("jobs", `skipped ${p.message}`);
        for (const job of records) out.push({ experimentDir: e.dir, job });
      } catch (err) {
        this.services.log.error("jobs", `cannot read ${path.join(e.dir, "jobs")}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (generation === this.generation) this.entries = out;
    void vscode.commands.executeCommand("setContext", "metajudge.hasJobs", out.length > 0);
    void vscode.commands.executeCommand("setContext", "metajudge.jobsReady", true);
    return out;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}
