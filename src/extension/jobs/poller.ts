// Background status of queued and running jobs after a reload, or of jobs nobody follows: every
// metajudge.jobPollSeconds, one status call per job, and never more than one poll per host at a
// time. Status only (no logs): a worker attached to the job copies those. Nothing is ever asked of
// the person from here; a host that needs a dialogue is reported as unreachable on its node.
import * as vscode from "vscode";
import { loadConfig } from "../../core/config.js";
import { openExecutor, resolveHost } from "../../core/remote/hosts.js";
import { JobStore, type JobPatch, type JobRecord } from "../../core/remote/jobs/record.js";
import { TERMINAL_STATES, type JobStatus } from "../../core/remote/types.js";
import type { Services } from "../services.js";
import { editorHostDeps } from "./host-deps.js";
import { isLive, type JobEntry, type JobsModel } from "./model.js";
import type { JobsTree } from "./tree.js";

export class JobPoller implements vscode.Disposable {
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly services: Services,
    private readonly model: JobsModel,
    private readonly tree: JobsTree,
    /** Jobs a worker is following right now: it writes their records, the poller leaves them alone. */
    private readonly followed: (experimentDir: string, id: string) => boolean,
  ) {
    this.schedule();
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration("metajudge.jobPollSeconds") && this.schedule()),
    );
  }

  private schedule(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => void this.pollNow(), this.services.settings.jobPollSeconds() * 1000);
  }

  /** Polls every host with live jobs; a host already being polled is not polled twice. */
  async pollNow(): Promise<void> {
    const live = (await this.model.all()).filter((e) => isLive(e.job) && !this.followed(e.experimentDir, e.job.id));
    const byHost = new Map<string, JobEntry[]>();
    for (const e of live) byHost.set(e.job.host, [...(byHost.get(e.job.host) ?? []), e]);
    const polls: Promise<void>[] = [];
    for (const [host, entries] of byHost) {
      const running = this.inFlight.get(host);
      if (running) {
        polls.push(running);
        continue;
      }
      const p = this.pollHost(host, entries).finally(() => this.inFlight.delete(host));
      this.inFlight.set(host, p);
      polls.push(p);
    }
    await Promise.all(polls);
  }

  /** One host, one experiment at a time (each experiment may define the host its own way). */
  private async pollHost(host: string, entries: JobEntry[]): Promise<void> {
    const byExperiment = new Map<string, JobEntry[]>();
    for (const e of entries) byExperiment.set(e.experimentDir, [...(byExperiment.get(e.experimentDir) ?? []), e]);
    let changed = false;
    let problem: string | undefined;
    for (const [experimentDir, list] of byExperiment) {
      try {
        if (await this.pollJobs(host, experimentDir, list)) changed = true;
      } catch (err) {
        problem = err instanceof Error ? err.message : String(err);
        this.services.log.warn("jobs", `cannot poll ${host}: ${problem}`);
      }
    }
    this.tree.setHostProblem(host, problem);
    if (changed) this.model.refresh();
  }

  private async pollJobs(host: string, experimentDir: string, entries: JobEntry[]): Promise<boolean> {
    let changed = false;
    const profile = resolveHost(host, loadConfig(experimentDir).hosts, this.services.settings.hosts());
    const executor = await openExecutor(profile, editorHostDeps(this.services, false));
    try {
      const store = new JobStore(experimentDir);
      for (const { job } of entries) {
        const status = await executor.status(job.remote);
        const current = store.get(job.id);
        if (!current || !isLive(current)) continue; // someone else finished it meanwhile
        const patch = statusPatch(current, status);
        if (!patch) continue;
        store.update(job.id, patch);
        changed = true;
        this.services.log.info(
          "jobs",
          `${job.id} on ${host}: ${current.state} → ${status.state}${status.detail ? ` (${status.detail})` : ""}`,
        );
      }
    } finally {
      executor.close();
    }
    return changed;
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}

/** What a status changes in a record, or undefined when nothing changed. */
export function statusPatch(current: JobRecord, status: JobStatus, now: Date = new Date()): JobPatch | undefined {
  const sameDetail = status.detail === undefined || status.detail === current.detail;
  if (status.state === current.state && sameDetail) return undefined;
  const patch: JobPatch = { state: status.state };
  if (status.detail !== undefined) patch.detail = status.detail;
  if (status.exitCode !== undefined) patch.exit_code = status.exitCode;
  if (status.node !== undefined) patch.node = status.node;
  if (status.state === "running" && !current.started_at) patch.started_at = now.toISOString();
  if (TERMINAL_STATES.has(status.state) && !current.finished_at) patch.finished_at = now.toISOString();
  return patch;
}
