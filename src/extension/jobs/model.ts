// Every job of every experiment in the workspace, read from <experiment>/jobs/*.json. Job records
// are written by whoever follows the job (a worker, a CLI in a terminal, the poller); this model
// only reads them, re-reading when a record file changes (coalesced) or when asked. File events can
// come late or not at all for a folder made after the window opened, so each read also compares the
// jobs/ folders' mtimes (records are replaced by rename, which touches the folder).
import * as fs from "node:fs";
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
  private readonly stamps = new Map<string, number>();
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
    if (this.entries && this.stale()) this.refresh();
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

  private stale(): boolean {
    for (const [dir, stamp] of this.stamps) if (mtime(dir) !== stamp) return true;
    return false;
  }

  private refreshSoon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.refresh(), this.services.settings.refreshDelayMs());
  }

  private async load(): Promise<JobEntry[]> {
    const generation = this.generation;
    const out: JobEntry[] = [];
    const stamps = new Map<string, number>();
    for (const e of await this.experiments.experiments()) {
      stamps.set(path.join(e.dir, "jobs"), mtime(path.join(e.dir, "jobs")));
      try {
        const { records, problems } = new JobStore(e.dir).scan();
        for (const p of problems) this.services.log.warn("jobs", `skipped ${p.message}`);
        for (const job of records) out.push({ experimentDir: e.dir, job });
      } catch (err) {
        this.services.log.error("jobs", `cannot read ${path.join(e.dir, "jobs")}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (generation === this.generation) {
      this.entries = out;
      this.stamps.clear();
      for (const [d, m] of stamps) this.stamps.set(d, m);
    }
    void vscode.commands.executeCommand("setContext", "metajudge.hasJobs", out.length > 0);
    void vscode.commands.executeCommand("setContext", "metajudge.jobsReady", true);
    return out;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}

function mtime(dir: string): number {
  try {
    return fs.statSync(dir).mtimeMs;
  } catch {
    return -1;
  }
}
