// Iterations run in a worker process (the bundled CLI with --json), never on the extension host's
// thread. Its progress events drive a status-bar item; its stderr and events go to the log; API keys
// reach it through its environment only.
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import * as vscode from "vscode";
import { loadConfig, roleEndpoint } from "../../core/config.js";
import type { ProgressEvent } from "../../core/pipeline/events.js";
import { ROLES, type StageName } from "../../core/schema.js";
import type { Experiments } from "../experiments.js";
import type { Services } from "../services.js";
import { onStderrLines, onStdoutLines } from "./child-lines.js";
import { refuseIfLocked } from "./lock.js";

export interface RunRequest {
  experimentDir: string;
  iteration: number;
  stages: { until: StageName } | { only: StageName } | "all";
}

interface Active {
  req: RunRequest;
  child: ChildProcess;
  cancelled: boolean;
  lastError?: string;
}

const fmt = (n: number): string => n.toLocaleString("en-US");

export class Runner implements vscode.Disposable {
  private active: Active | undefined;
  private readonly status: vscode.StatusBarItem;
  private readonly done = new vscode.EventEmitter<{ req: RunRequest; code: number | null }>();
  readonly onDidFinish = this.done.event;

  constructor(
    private readonly services: Services,
    private readonly experiments: Experiments,
  ) {
    this.status = vscode.window.createStatusBarItem("metajudge.run", vscode.StatusBarAlignment.Left, 50);
    this.status.name = "Metajudge Run";
    this.status.command = "metajudge.cancelRun";
  }

  get running(): RunRequest | undefined {
    return this.active?.req;
  }

  /** Starts the worker; false when it was not started (a run already going here, or another process writing the iteration). */
  async start(req: RunRequest): Promise<boolean> {
    if (this.active) {
      void vscode.window.showWarningMessage(`A run is already going (iteration ${this.active.req.iteration} of ${path.basename(this.active.req.experimentDir)}). Cancel it first.`);
      return false;
    }
    if (refuseIfLocked(req.experimentDir, req.iteration)) return false;
    const cli = path.join(this.services.context.extensionPath, "dist", "cli.js");
    const args = [cli, "run", req.experimentDir, "--iteration", String(req.iteration), "--json"];
    if (req.stages !== "all") args.push(...("until" in req.stages ? ["--until", req.stages.until] : ["--stage", req.stages.only]));
    const env: NodeJS.ProcessEnv = { ...process.env, ...(await this.keyEnv(req.experimentDir)), ELECTRON_RUN_AS_NODE: "1" };
    const node = this.services.settings.nodePath();
    this.services.log.info("run", `starting: ${[node, ...args].join(" ")}`);
    const child = spawn(node, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const active: Active = { req, child, cancelled: false };
    this.active = active;
    void vscode.commands.executeCommand("setContext", "metajudge.running", true);
    this.show(`$(sync~spin) Metajudge: starting iteration ${req.iteration}`, "Click to cancel the run");

    onStdoutLines(child.stdout!, (line) => this.onEvent(active, line));
    onStderrLines(child.stderr!, (line) => this.services.log.info("worker", line));
    child.on("error", (err) => {
      active.lastError = `cannot start the worker (${node}): ${err.message}`;
    });
    child.on("close", (code) => void this.finished(active, code));
    return true;
  }

  cancel(): boolean {
    if (!this.active) return false;
    this.active.cancelled = true;
    // SIGINT lets the worker save its manifest and mark the stage cancelled; a resume continues it.
    this.active.child.kill("SIGINT");
    this.show("$(debug-stop) Metajudge: cancelling…", "Waiting for the calls in flight to stop");
    return true;
  }

  private onEvent(active: Active, line: string): void {
    let e: ProgressEvent;
    try {
      e = JSON.parse(line) as ProgressEvent;
    } catch {
      this.services.log.info("worker", line);
      return;
    }
    const it = `it ${active.req.iteration}`;
    switch (e.type) {
      case "stage-start":
        this.services.log.info("run", `${e.stage}: ${fmt(e.done)}/${fmt(e.total)} on disk`);
        this.show(`$(sync~spin) ${it} ${e.stage} ${fmt(e.done)}/${fmt(e.total)}`, `Iteration ${active.req.iteration}: ${e.stage}. Click to cancel.`);
        break;
      case "progress": {
        const pct = e.total > 0 ? ` ${Math.floor((e.done / e.total) * 100)}%` : "";
        this.show(`$(sync~spin) ${it} ${e.stage} ${fmt(e.done)}/${fmt(e.total)}${pct}`, `Iteration ${active.req.iteration}: ${e.stage}, ${e.inFlight} requests in flight. Click to cancel.`);
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
        this.services.log.info("run", line);
    }
  }

  private async finished(active: Active, code: number | null): Promise<void> {
    this.active = undefined;
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
    const choice = await vscode.window.showErrorMessage(`${what} failed: ${active.lastError ?? `worker exited with ${code}`}`, "Show Logs", "Retry");
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
    this.cancel();
    this.status.dispose();
    this.done.dispose();
  }
}
