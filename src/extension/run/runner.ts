// Iterations run in a worker process (the bundled CLI with --json), never on the extension host's
// thread. Its progress events drive a status-bar item; its stderr and events go to the log; API keys
// reach it through its environment only.
//
// A run outlives the window that started it: the worker writes its --json lines to
// iterations/<t>/.run.log, not to a pipe a reload would close. A window that finds an iteration
// locked by a live `metajudge run` on this host (ours before a reload, or one typed in a terminal)
// shows that run's progress from the log, or its manifest when there is no log, and Cancel Run
// interrupts its pid as Ctrl-C would.
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { loadConfig, roleEndpoint } from "../../core/config.js";
import { ROLES, type StageName } from "../../core/schema.js";
import { IterationStore, iterationDir } from "../../core/store/iteration.js";
import type { WireLine } from "../../shared/cli-wire.js";
import { readWireLine } from "../../shared/cli-wire.js";
import type { Experiments } from "../experiments.js";
import type { Services } from "../services.js";
import { bundledCli, CliWorker } from "../worker/cli-worker.js";
import { tailLines, type Tail } from "../worker/tail.js";
import { iterationLock, refuseIfLocked } from "./lock.js";

export interface RunRequest {
  experimentDir: string;
  iteration: number;
  stages: { until: StageName } | { only: StageName } | "all";
}

/** The file a run worker writes its --json lines and stderr to. */
export const RUN_LOG = ".run.log";

interface Active {
  req: RunRequest;
  /** Our own worker; absent for a run found running (after a reload, or started in a terminal). */
  worker?: CliWorker;
  /** The run's process, for Cancel Run on a run found running. */
  pid: number;
  cancelled: boolean;
  lastError?: string;
  /** How a found run ended, from its last lines. */
  ended?: "ok" | "error" | "cancelled";
  tail?: Tail;
  timer?: NodeJS.Timeout;
}

const fmt = (n: number): string => n.toLocaleString("en-US");

/** Whether the process is a metajudge CLI, where the system says (Linux's /proc); elsewhere the lock's word is taken. */
function isMetajudge(pid: number): boolean {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return argv.some((a) => /(^|[/\\])(cli\.js|metajudge)$/.test(a));
  } catch {
    return true;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export class Runner implements vscode.Disposable {
  private active: Active | undefined;
  private readonly status: vscode.StatusBarItem;
  private readonly done = new vscode.EventEmitter<{ req: RunRequest; code: number | null }>();
  readonly onDidFinish = this.done.event;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly services: Services,
    private readonly experiments: Experiments,
  ) {
    this.status = vscode.window.createStatusBarItem("metajudge.run", vscode.StatusBarAlignment.Left, 50);
    this.status.name = "Metajudge Run";
    this.status.command = "metajudge.cancelRun";
    // A run writes its manifest as it starts and its records as it goes: each is a chance to find it.
    this.subscriptions.push(experiments.onDidChange((e) => e && this.findRun(e.experimentDir, e.iteration)));
  }

  get running(): RunRequest | undefined {
    return this.active?.req;
  }

  /** The pid of the run going, ours or found. */
  get runningPid(): number | undefined {
    return this.active?.pid;
  }

  /** What the status bar shows for the run, or undefined when none is going. */
  get statusText(): string | undefined {
    return this.active ? this.status.text : undefined;
  }

  /** Looks for runs going in every experiment of the workspace (on activation). */
  async findRuns(): Promise<void> {
    for (const e of await this.experiments.experiments()) for (const t of this.experiments.iterations(e.dir)) this.findRun(e.dir, t);
  }

  /** Shows the run writing this iteration, if one is going on this host and none is shown yet. */
  findRun(experimentDir: string, iteration: number): boolean {
    if (this.active) return false;
    const s = iterationLock(experimentDir, iteration);
    if (s.state !== "held" || !s.here || !/^metajudge run\b/.test(s.holder.command) || !alive(s.holder.pid) || !isMetajudge(s.holder.pid))
      return false;
    const active: Active = { req: { experimentDir, iteration, stages: "all" }, pid: s.holder.pid, cancelled: false };
    this.active = active;
    void vscode.commands.executeCommand("setContext", "metajudge.running", true);
    this.services.log.info(
      "run",
      `found a run going on iteration ${iteration} of ${experimentDir}: ${s.holder.command} (pid ${s.holder.pid})`,
    );
    this.show(
      `$(sync~spin) it ${iteration} running (pid ${s.holder.pid})`,
      `Iteration ${iteration}: ${s.holder.command}. Click to cancel.`,
    );
    const log = path.join(iterationDir(experimentDir, iteration), RUN_LOG);
    // A log newer than the lock is this run's (the editor's worker writes it); a terminal's run has none.
    const ours = fs.existsSync(log) && fs.statSync(log).mtimeMs >= Date.parse(s.holder.started_at) - 5_000;
    if (ours) active.tail = tailLines(log, (line) => this.onFoundLine(active, line));
    else this.showManifest(active);
    active.timer = setInterval(() => {
      if (!ours) this.showManifest(active);
      const lock = iterationLock(experimentDir, iteration);
      if (alive(active.pid) && lock.state === "held" && lock.holder.pid === active.pid) return;
      active.tail?.flush();
      void this.finished(
        active,
        active.ended === "ok" ? 0 : active.ended === "cancelled" || active.cancelled ? 130 : ours || active.ended === "error" ? 1 : null,
      );
    }, 500);
    return true;
  }

  /** Starts the worker; false when it was not started (a run already going here, or another process writing the iteration). */
  async start(req: RunRequest): Promise<boolean> {
    if (this.active) {
      void vscode.window.showWarningMessage(
        `A run is already going (iteration ${this.active.req.iteration} of ${path.basename(this.active.req.experimentDir)}). Cancel it first.`,
      );
      return false;
    }
    if (refuseIfLocked(req.experimentDir, req.iteration)) return false;
    const args = ["run", req.experimentDir, "--iteration", String(req.iteration)];
    if (req.stages !== "all") args.push(...("until" in req.stages ? ["--until", req.stages.until] : ["--stage", req.stages.only]));
    const dir = iterationDir(req.experimentDir, req.iteration);
    fs.mkdirSync(dir, { recursive: true });
    const active: Active = { req, pid: 0, cancelled: false };
    const worker = new CliWorker({
      node: this.services.settings.nodePath(),
      cli: bundledCli(this.services.context.extensionPath),
      args,
      env: await this.keyEnv(req.experimentDir),
      output: path.join(dir, RUN_LOG),
      onLine: (e) => this.onEvent(active, e),
      onText: (line) => this.services.log.info("worker", line),
    });
    this.services.log.info("run", `starting: ${worker.commandLine}`);
    active.worker = worker;
    active.pid = worker.pid ?? 0;
    this.active = active;
    void vscode.commands.executeCommand("setContext", "metajudge.running", true);
    this.show(`$(sync~spin) Metajudge: starting iteration ${req.iteration}`, "Click to cancel the run");
    void worker.exited.then((exit) => {
      if (exit.error && active.lastError === undefined) active.lastError = exit.error.message;
      void this.finished(active, exit.code);
    });
    return true;
  }

  cancel(): boolean {
    const a = this.active;
    if (!a) return false;
    a.cancelled = true;
    // SIGINT lets the worker save its manifest and mark the stage cancelled; a resume continues it.
    if (a.worker) a.worker.cancel();
    else {
      try {
        process.kill(a.pid, "SIGINT");
      } catch (err) {
        this.services.log.warn("run", `cannot interrupt pid ${a.pid}: ${(err as Error).message}`);
      }
    }
    this.show("$(debug-stop) Metajudge: cancelling…", "Waiting for the calls in flight to stop");
    return true;
  }

  /** A line of a found run's log: replayed from the start, so only the latest state shows. */
  private onFoundLine(active: Active, raw: string): void {
    const r = readWireLine(raw);
    if (!r.ok) return;
    if (r.line.type === "run-end") active.ended = r.line.ok ? "ok" : "error";
    if (r.line.type === "error") active.ended = r.line.reason === "cancelled" ? "cancelled" : "error";
    this.onEvent(active, r.line);
  }

  /** A run without a log (started in a terminal): the manifest says which stage runs. */
  private showManifest(active: Active): void {
    let stage: string | undefined;
    try {
      const m = new IterationStore(iterationDir(active.req.experimentDir, active.req.iteration)).readManifest();
      stage = m ? Object.entries(m.stages).find(([, s]) => s?.state === "running")?.[0] : undefined;
    } catch {
      return; // mid-write or hand-edited: the next look may read it
    }
    if (active.cancelled) return;
    this.show(
      `$(sync~spin) it ${active.req.iteration}${stage ? ` ${stage}` : ""} running (pid ${active.pid})`,
      `Iteration ${active.req.iteration}: a run started outside this window. Click to cancel.`,
    );
  }

  private onEvent(active: Active, e: WireLine): void {
    const it = `it ${active.req.iteration}`;
    if (active.cancelled && e.type !== "error") return;
    switch (e.type) {
      case "stage-start":
        this.services.log.info("run", `${e.stage}: ${fmt(e.done)}/${fmt(e.total)} on disk`);
        this.show(
          `$(sync~spin) ${it} ${e.stage} ${fmt(e.done)}/${fmt(e.total)}`,
          `Iteration ${active.req.iteration}: ${e.stage}. Click to cancel.`,
        );
        break;
      case "progress": {
        const pct = e.total > 0 ? ` ${Math.floor((e.done / e.total) * 100)}%` : "";
        this.show(
          `$(sync~spin) ${it} ${e.stage} ${fmt(e.done)}/${fmt(e.total)}${pct}`,
          `Iteration ${active.req.iteration}: ${e.stage}, ${e.inFlight} requests in flight. Click to cancel.`,
        );
        break;
      }
      case "stage-end":
        this.services.log.info("run", `${e.stage}: ${e.state} in ${e.seconds.toFixed(1)} s ${JSON.stringify(e.counts)}`);
        void this.experiments.refreshNow(active.req.experimentDir, active.req.iteration);
        break;
      case "warning":
        this.services.log.warn("run", e.message);
        break;
      case "retry":
        this.services.log.trace("run", `retry ${e.attempt} in ${e.delayMs} ms: ${e.reason}`);
        break;
      case "error":
        active.lastError = e.message;
        this.services.log.error("run", `${e.reason}: ${e.message}`);
        break;
      default:
        this.services.log.info("run", JSON.stringify(e));
    }
  }

  private async finished(active: Active, code: number | null): Promise<void> {
    if (this.active !== active) return;
    this.active = undefined;
    active.tail?.stop();
    if (active.timer) clearInterval(active.timer);
    void vscode.commands.executeCommand("setContext", "metajudge.running", false);
    this.status.hide();
    await this.experiments.refreshNow(active.req.experimentDir, active.req.iteration);
    this.done.fire({ req: active.req, code });
    const what = `Iteration ${active.req.iteration} of ${path.basename(active.req.experimentDir)}`;
    if (code === 0) {
      vscode.window.setStatusBarMessage(`$(pass) ${what} done`, 5000);
      return;
    }
    if (active.cancelled || code === 130) {
      vscode.window.setStatusBarMessage(`$(debug-stop) ${what} cancelled; Resume continues it`, 8000);
      return;
    }
    if (code === null) {
      // A run found running that left no log: its manifest has its outcome, the tree shows it.
      vscode.window.setStatusBarMessage(`${what}: the run (pid ${active.pid}) has ended`, 8000);
      return;
    }
    const choice = await vscode.window.showErrorMessage(
      `${what} failed: ${active.lastError ?? `worker exited with ${code}`}`,
      "Show Logs",
      "Retry",
    );
    if (choice === "Show Logs") this.services.log.show();
    if (choice === "Retry") await this.start(active.req);
  }

  /** Keys from SecretStorage for every endpoint the config names, under their env var names. */
  private async keyEnv(dir: string): Promise<Record<string, string>> {
    try {
      const config = loadConfig(dir);
      const names = new Set<string>();
      for (const role of ROLES) {
        const env = roleEndpoint(config, role).api_key_env;
        if (env) names.add(env);
      }
      return await this.services.secrets.apiKeyEnv(names);
    } catch {
      return {}; // the worker reports config problems itself, with file:line
    }
  }

  private show(text: string, tooltip: string): void {
    this.status.text = text;
    this.status.tooltip = tooltip;
    this.status.show();
  }

  dispose(): void {
    // A reload or a closed window leaves the run going (it writes to its log, not to us); the next
    // window finds it. Only what this window watches stops.
    const a = this.active;
    a?.tail?.stop();
    if (a?.timer) clearInterval(a.timer);
    for (const s of this.subscriptions) s.dispose();
    this.status.dispose();
    this.done.dispose();
  }
}
