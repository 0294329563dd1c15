// The Jobs view: host → jobs, newest first. A job's item says its state and how long it has run;
// its tooltip (built only when hovered) adds the detail, the exit code and the last lines of our
// copy of its log.
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { JobStore, type JobRecord } from "../../core/remote/jobs/record.js";
import type { JobState } from "../../core/remote/types.js";
import { isLive, type JobEntry, type JobsModel } from "./model.js";

export interface HostNode {
  kind: "host";
  id: string;
  host: string;
}
export interface JobNode {
  kind: "job";
  id: string;
  parent: HostNode;
  experimentDir: string;
  job: JobRecord;
}
export type JobsNode = HostNode | JobNode;

export function isJobNode(v: unknown): v is JobNode {
  const n = v as Partial<JobNode> | undefined;
  return n?.kind === "job" && typeof n.experimentDir === "string" && typeof n.job?.id === "string";
}

const STATE_ICON: Record<JobState, vscode.ThemeIcon> = {
  submitting: new vscode.ThemeIcon("loading~spin"),
  queued: new vscode.ThemeIcon("clock"),
  running: new vscode.ThemeIcon("sync~spin"),
  succeeded: new vscode.ThemeIcon("pass", new vscode.ThemeColor("testing.iconPassed")),
  failed: new vscode.ThemeIcon("error", new vscode.ThemeColor("testing.iconFailed")),
  cancelled: new vscode.ThemeIcon("circle-slash"),
  timeout: new vscode.ThemeIcon("watch", new vscode.ThemeColor("list.warningForeground")),
  lost: new vscode.ThemeIcon("question", new vscode.ThemeColor("list.warningForeground")),
};

export function elapsed(job: JobRecord, now: number = Date.now()): string {
  const from = Date.parse(job.started_at ?? job.submitted_at ?? job.created_at);
  const to = job.finished_at ? Date.parse(job.finished_at) : now;
  const s = Number.isFinite(from) && Number.isFinite(to) ? Math.max(0, Math.round((to - from) / 1000)) : 0;
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h ${String(m % 60).padStart(2, "0")}m` : `${Math.floor(h / 24)}d ${String(h % 24).padStart(2, "0")}h`;
}

/** The last lines of a file, reading only its end: job logs can be gigabytes. */
export function tailLines(file: string, lines: number, maxBytes = 16_384): string[] {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, "r");
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    const all = buf.toString("utf8").split(/\r?\n/);
    if (len < size) all.shift(); // a partial first line
    while (all.length > 0 && all.at(-1)!.trim() === "") all.pop();
    return all.slice(-lines);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export class JobsTree implements vscode.TreeDataProvider<JobsNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<JobsNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly disposables: vscode.Disposable[] = [this.emitter];
  /** Per host, what went wrong when its jobs were last polled (cleared by a poll that worked). */
  private readonly hostProblems = new Map<string, string>();
  private ticker: NodeJS.Timeout | undefined;

  constructor(private readonly model: JobsModel) {
    this.disposables.push(model.onDidChange(() => this.emitter.fire(undefined)));
  }

  /**
   * While the view shows: every 5 s the model checks its folders (a missed file event costs at most
   * that), and once a minute live jobs' elapsed times are redrawn.
   */
  setVisible(visible: boolean): void {
    if (visible && !this.ticker) {
      let ticks = 0;
      this.ticker = setInterval(() => {
        ticks++;
        void this.model.all().then((all) => ticks % 12 === 0 && all.some((e) => isLive(e.job)) && this.emitter.fire(undefined));
      }, 5_000);
    } else if (!visible && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  setHostProblem(host: string, problem: string | undefined): void {
    if ((this.hostProblems.get(host) ?? undefined) === problem) return;
    if (problem) this.hostProblems.set(host, problem);
    else this.hostProblems.delete(host);
    this.emitter.fire(undefined);
  }

  getParent(node: JobsNode): JobsNode | undefined {
    return node.kind === "job" ? node.parent : undefined;
  }

  async getChildren(node?: JobsNode): Promise<JobsNode[]> {
    const all = await this.model.all();
    if (!node) {
      const hosts = [...new Set(all.map((e) => e.job.host))].sort();
      return hosts.map((host) => ({ kind: "host", id: `host:${host}`, host }));
    }
    if (node.kind !== "host") return [];
    return all
      .filter((e) => e.job.host === node.host)
      .sort((a, b) => b.job.created_at.localeCompare(a.job.created_at) || b.job.id.localeCompare(a.job.id))
      .map((e: JobEntry) => ({
        kind: "job",
        id: `job:${e.experimentDir}:${e.job.id}`,
        parent: node,
        experimentDir: e.experimentDir,
        job: e.job,
      }));
  }

  async getTreeItem(node: JobsNode): Promise<vscode.TreeItem> {
    if (node.kind === "host") {
      const all = (await this.model.all()).filter((e) => e.job.host === node.host);
      const live = all.filter((e) => isLive(e.job)).length;
      const item = new vscode.TreeItem(node.host, vscode.TreeItemCollapsibleState.Expanded);
      item.id = node.id;
      item.contextValue = "metajudge.host";
      const problem = this.hostProblems.get(node.host);
      item.iconPath = new vscode.ThemeIcon(problem ? "warning" : "server");
      item.description = `${live > 0 ? `${live} active · ` : ""}${all.length} job${all.length === 1 ? "" : "s"}${problem ? " · unreachable" : ""}`;
      item.tooltip = problem ? `${node.host}: ${problem}` : `${node.host}: ${all[0]?.job.executor ?? ""} host`;
      return item;
    }
    const { job } = node;
    const item = new vscode.TreeItem(job.title || job.id, vscode.TreeItemCollapsibleState.None);
    item.id = node.id;
    item.description = `${job.state} · ${elapsed(job)}`;
    item.iconPath = STATE_ICON[job.state];
    item.contextValue = `metajudge.job.${job.state}`;
    item.command = { command: "metajudge.openJobLog", title: "Open Job Log", arguments: [node] };
    item.accessibilityInformation = { label: `${job.title || job.id}, ${job.state}, ${elapsed(job)}` };
    return item;
  }

  resolveTreeItem(item: vscode.TreeItem, node: JobsNode): vscode.TreeItem {
    if (node.kind !== "job") return item;
    const { job } = node;
    const md = new vscode.MarkdownString();
    md.appendMarkdown(`**${escape(job.title || job.id)}**\n\n`);
    const rows: [string, string | undefined][] = [
      ["job", job.id],
      ["state", job.state],
      ["host", `${job.host} (${job.executor})`],
      ["experiment", path.basename(node.experimentDir)],
      ["iteration", job.iteration === undefined ? undefined : String(job.iteration)],
      ["detail", job.detail],
      ["exit code", job.exit_code === undefined || job.exit_code === null ? undefined : String(job.exit_code)],
      ["error", job.error],
      ["node", job.node],
    ];
    for (const [k, v] of rows) if (v) md.appendMarkdown(`${k}: ${escape(v)}  \n`);
    const tail = tailLines(new JobStore(node.experimentDir).logPath(job.id), 8);
    if (tail.length > 0) md.appendCodeblock(tail.join("\n"), "log");
    item.tooltip = md;
    return item;
  }

  dispose(): void {
    this.setVisible(false);
    for (const d of this.disposables) d.dispose();
  }
}

function escape(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, "\\$&");
}
