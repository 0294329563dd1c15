// Launches and attaches run in worker processes (the bundled CLI with --json), never on the extension
// host's thread: a launch can take hours. Secrets reach a worker through its environment only; its
// RemoteEvents drive one status-bar item (click: cancel), its stderr goes to the log.
import * as path from "node:path";
import * as vscode from "vscode";
import type { ErrorReason } from "../../core/errors.js";
import { JobRecordSchema, type JobRecord } from "../../core/remote/jobs/record.js";
import type { WireJob, WireLine } from "../../shared/cli-wire.js";
import type { Services } from "../services.js";
import { bundledCli, CliWorker } from "../worker/cli-worker.js";
export interface WorkerRequest {
  /** CLI arguments after `dist/cli.js`, without --json. */
  args: string[];
  experimentDir: string;
  /** For the status bar and messages: "it 2 training on gpu". */
  title: string;
  /** Secrets and settings for the worker, by environment variable. */
  env: Record<string, string>;
  /** The job this worker follows, when known up front (attach). */
  jobId?: string;
}

export interface WorkerResult {
  code: number | null;
  cancelled: boolean;
  error?: { reason: ErrorReason; message: string };
  /** The last result line (type launched / attached / cancelled / resubmitted). */
  result?: WireLine;
  jobs: JobRecord[];
}

interface Active {
  req: WorkerRequest;
  worker: CliWorker;
  cancelled: boolean;
  jobs: Map<string, JobRecord>;
  status: string;
}

export class JobWorkers implements vscode.Disposable {
  private readonly active = new Set<Active>();
  private readonly statusItem: vscode.StatusBarItem;
  private readonly jobChanged = new vscode.EventEmitter<{ experimentDir: string; job: JobRecord }>();
  readonly onDidChangeJob = this.jobChanged.event;

  constructor(private readonly services: Services) {
    this.statusItem = vscode.window.createStatusBarItem("metajudge.jobs", vscode.StatusBarAlignment.Left, 49);
    this.statusItem.name = "Metajudge Jobs";
    this.statusItem.command = "metajudge.cancelJob";
  }

  /** Whether a worker of ours follows this job (it writes the record; the poller stays away). */
  follows(experimentDir: string, jobId: string): boolean {
    for (const a of this.active) if (a.req.experimentDir === experimentDir && (a.req.jobId === jobId || a.jobs.has(jobId))) return true;
    return false;
  }

  /** Workers following a job, for Cancel Job: stopping them is part of cancelling. */
  stopFollowing(experimentDir: string, jobId: string): number {
    let n = 0;
    for (const a of this.active) {
      if (a.req.experimentDir !== experimentDir || !(a.req.jobId === jobId || a.jobs.has(jobId))) continue;
      a.cancelled = true;
      a.worker.cancel();
      n++;
    }
    return n;
  }

  get running(): readonly WorkerRequest[] {
    return [...this.active].map((a) => a.req);
  }

  run(req: WorkerRequest): Promise<WorkerResult> {
    const jobs = new Map<string, JobRecord>();
    const holder: { a?: Active } = {};
    const worker = new CliWorker({
      node: this.services.settings.nodePath(),
      cli: bundledCli(this.services.context.extensionPath),
      args: req.args,
      env: req.env,
      onLine: (e) => holder.a && this.onLine(holder.a, e),
      onText: (line) => this.services.log.info("worker", line),
    });
    // Only the names of the secrets are logged; their values are in env, never in args.
    this.services.log.info("jobs", `starting worker: ${worker.commandLine} (env: ${Object.keys(req.env).sort().join(", ") || "none"})`);
    const a: Active = { req, worker, cancelled: false, jobs, status: "starting" };
    holder.a = a;
    this.active.add(a);
    this.render();
    return worker.exited.then((exit) => {
      this.active.delete(a);
      this.render();
      return {
        code: exit.code,
        cancelled: a.cancelled || exit.cancelled,
        error: exit.error,
        result: exit.result,
        jobs: [...a.jobs.values()],
      };
    });
  }

  /** A job as the worker reported it, checked as the record the core keeps; a record that is not one is logged, not used. */
  private job(a: Active, wire: WireJob): JobRecord | undefined {
    const r = JobRecordSchema.safeParse(wire);
    if (r.success) {
      a.jobs.set(r.data.id, r.data);
      return r.data;
    }
    this.services.log.warn(
      "jobs",
      `${a.req.title}: the worker reported job ${wire.id} in a form this version does not read: ${r.error.issues[0]?.message ?? "invalid"}`,
    );
    return undefined;
  }

  private onLine(a: Active, e: WireLine): void {
    switch (e.type) {
      case "job": {
        const job = this.job(a, e.job);
        if (!job) break;
        a.status = `${job.state}${job.detail ? ` (${job.detail})` : ""}`;
        this.services.log.info("jobs", `${job.id} on ${job.host}: ${a.status}`);
        this.jobChanged.fire({ experimentDir: a.req.experimentDir, job });
        break;
      }
      case "log":
        break; // the core copies it into jobs/<id>.log, which Open Job Log shows
      case "transfer": {
        const pct = e.total > 0 ? Math.floor((e.done / e.total) * 100) : 100;
        a.status = `${e.direction === "up" ? "uploading" : "downloading"} ${path.basename(e.file)} ${pct}%`;
        break;
      }
      case "metrics": {
        const loss = e.metrics.loss;
        a.status = `step ${e.step}${typeof loss === "number" ? ` loss ${Number(loss.toPrecision(3))}` : ""}`;
        break;
      }
      case "note":
        this.services.log.info("jobs", e.message);
        break;
      case "error":
        this.services.log.error("jobs", `${a.req.title}: ${e.reason}: ${e.message}`);
        break;
      case "launched":
      case "attached":
      case "cancelled":
      case "resubmitted":
        for (const j of "jobs" in e ? e.jobs : [e.job]) this.job(a, j);
        break;
      default:
        this.services.log.info("jobs", JSON.stringify(e));
    }
    this.render();
  }

  private render(): void {
    const list = [...this.active];
    if (list.length === 0) {
      this.statusItem.hide();
      return;
    }
    const first = list[0]!;
    const more = list.length > 1 ? ` (+${list.length - 1})` : "";
    this.statusItem.text = `$(sync~spin) ${first.req.title}: ${first.status}${more}`;
    this.statusItem.tooltip = `${list.map((a) => `${a.req.title}: ${a.status}`).join("\n")}\nClick to cancel a job.`;
    this.statusItem.show();
  }

  dispose(): void {
    // A reload must not kill the remote jobs: the workers stop following, the jobs keep running and
    // are found again from their records.
    for (const a of this.active) a.worker.cancel();
    this.statusItem.dispose();
    this.jobChanged.dispose();
  }
}
