// Launches and attaches run in worker processes (the bundled CLI with --json), never on the extension
// host's thread: a launch can take hours. Secrets reach a worker through its environment only; its
// RemoteEvents drive one status-bar item (click: cancel), its stderr goes to the log.
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import * as vscode from "vscode";
import type { ErrorReason } from "../../core/errors.js";
import type { JobRecord } from "../../core/remote/jobs/record.js";
import type { RemoteEvent } from "../../core/remote/launch/index.js";
import type { Services } from "../services.js";
import { onStderrLines, onStdoutLines } from "../run/child-lines.js";

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
  result?: Record<string, unknown>;
  jobs: JobRecord[];
}

interface Active {
  req: WorkerRequest;
  child: ChildProcess;
  cancelled: boolean;
  jobs: Map<string, JobRecord>;
  error?: { reason: ErrorReason; message: string };
  result?: Record<string, unknown>;
  status: string;
}

type WireLine = RemoteEvent | { type: "error"; reason: ErrorReason; message: string } | { type: string; [k: string]: unknown };

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
      a.child.kill("SIGINT");
      n++;
    }
    return n;
  }

  get running(): readonly WorkerRequest[] {
    return [...this.active].map((a) => a.req);
  }

  run(req: WorkerRequest): Promise<WorkerResult> {
    const cli = path.join(this.services.context.extensionPath, "dist", "cli.js");
    const node = this.services.settings.nodePath();
    const args = [cli, ...req.args, "--json"];
    // Only the names of the secrets are logged; their values are in env, never in args.
    this.services.log.info("jobs", `starting worker: ${[node, ...args].join(" ")} (env: ${Object.keys(req.env).sort().join(", ") || "none"})`);
    const child = spawn(node, args, { env: { ...process.env, ...req.env, ELECTRON_RUN_AS_NODE: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    const a: Active = { req, child, cancelled: false, jobs: new Map(), status: "starting" };
    this.active.add(a);
    this.render();
    return new Promise<WorkerResult>((resolve) => {
      onStdoutLines(child.stdout!, (line) => this.onLine(a, line));
      onStderrLines(child.stderr!, (line) => this.services.log.info("worker", line));
      child.on("error", (err) => {
        a.error = { reason: "internal", message: `cannot start the worker (${node}): ${err.message}` };
      });
      child.on("close", (code) => {
        this.active.delete(a);
        this.render();
        resolve({ code, cancelled: a.cancelled || code === 130, error: a.error, result: a.result, jobs: [...a.jobs.values()] });
      });
    });
  }

  private onLine(a: Active, line: string): void {
    let e: WireLine;
    try {
      e = JSON.parse(line) as WireLine;
    } catch {
      this.services.log.info("worker", line);
      return;
    }
    switch (e.type) {
      case "job": {
        const job = (e as { job: JobRecord }).job;
        a.jobs.set(job.id, job);
        a.status = `${job.state}${job.detail ? ` (${job.detail})` : ""}`;
        this.services.log.info("jobs", `${job.id} on ${job.host}: ${a.status}`);
        this.jobChanged.fire({ experimentDir: a.req.experimentDir, job });
        break;
      }
      case "log":
        break; // the core copies it into jobs/<id>.log, which Open Job Log shows
      case "transfer": {
        const t = e as Extract<RemoteEvent, { type: "transfer" }>;
        const pct = t.total > 0 ? Math.floor((t.done / t.total) * 100) : 100;
        a.status = `${t.direction === "up" ? "uploading" : "downloading"} ${path.basename(t.file)} ${pct}%`;
        break;
      }
      case "metrics": {
        const m = e as Extract<RemoteEvent, { type: "metrics" }>;
        const loss = m.metrics.loss;
        a.status = `step ${m.step}${typeof loss === "number" ? ` loss ${Number(loss.toPrecision(3))}` : ""}`;
        break;
      }
      case "note":
        this.services.log.info("jobs", (e as { message: string }).message);
        break;
      case "error": {
        const err = e as { reason: ErrorReason; message: string };
        a.error = { reason: err.reason, message: err.message };
        this.services.log.error("jobs", `${a.req.title}: ${err.reason}: ${err.message}`);
        break;
      }
      default:
        a.result = e as Record<string, unknown>;
        for (const j of resultJobs(a.result)) a.jobs.set(j.id, j);
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
    for (const a of this.active) a.child.kill("SIGINT");
    this.statusItem.dispose();
    this.jobChanged.dispose();
  }
}

function resultJobs(r: Record<string, unknown>): JobRecord[] {
  const out: JobRecord[] = [];
  const isJob = (v: unknown): v is JobRecord => typeof (v as { id?: unknown } | null)?.id === "string" && typeof (v as { state?: unknown }).state === "string";
  if (isJob(r.job)) out.push(r.job);
  if (Array.isArray(r.jobs)) for (const j of r.jobs) if (isJob(j)) out.push(j);
  return out;
}
