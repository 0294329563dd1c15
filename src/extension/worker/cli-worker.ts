// The one link between the editor and its CLI worker: the bundled CLI (dist/cli.js) in a process of
// its own, speaking --json. Every stdout line goes through the contract's guard (src/shared/cli-wire.ts):
// a line it does not know goes to the log as text and is never cast. Secrets reach the worker through
// its environment only, never its arguments.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { readWireLine, type WireError, type WireLine } from "../../shared/cli-wire.js";
import { onStderrLines, onStdoutLines } from "../run/child-lines.js";
import { tailLines } from "./tail.js";

export interface WorkerSpec {
  /** The Node.js the worker runs on (the editor's own, as Node, unless the metajudge.nodePath setting says otherwise). */
  node: string;
  /** The bundled CLI: <extension>/dist/cli.js. */
  cli: string;
  /** CLI arguments, without --json. */
  args: string[];
  /** Secrets and settings by environment variable, on top of the editor's environment. */
  env?: Record<string, string>;
  /**
   * A file for the worker's stdout and stderr instead of pipes to this window: the worker then runs on
   * its own (a process group of its own, nothing to write to that a reload closes) and a later window
   * reads its progress from the same file.
   */
  output?: string;
  onLine?(line: WireLine): void;
  /** A stdout line outside the contract, with why, or a stderr line (why undefined): text for the log. */
  onText?(line: string, why?: string): void;
}

export interface WorkerExit {
  code: number | null;
  /** Cancelled by cancel(), or the worker said so (exit 130). */
  cancelled: boolean;
  /** The last error line the worker wrote, or why it could not start. */
  error?: Omit<WireError, "type">;
  /** The last line that was neither progress nor error: the command's result. */
  result?: WireLine;
}

/** What the worker's last lines were about: a result type is any line not in this set. */
const PROGRESS_TYPES: ReadonlySet<string> = new Set([
  "run-start",
  "stage-start",
  "progress",
  "stage-end",
  "retry",
  "warning",
  "run-end",
  "job",
  "log",
  "transfer",
  "metrics",
  "note",
  "batch-submitted",
  "batch-attached",
  "batch-status",
  "batch-retry",
]);

export function bundledCli(extensionPath: string): string {
  return path.join(extensionPath, "dist", "cli.js");
}

export class CliWorker {
  readonly exited: Promise<WorkerExit>;
  readonly commandLine: string;
  private readonly child: ChildProcess;
  private cancelled = false;
  private error: WorkerExit["error"];
  private result: WireLine | undefined;

  constructor(spec: WorkerSpec) {
    const argv = [spec.cli, ...spec.args, "--json"];
    this.commandLine = [spec.node, ...argv].join(" ");
    const env = { ...process.env, ...spec.env, ELECTRON_RUN_AS_NODE: "1" };
    const text = spec.onText ?? (() => {});
    const onLine = (raw: string): void => {
      const r = readWireLine(raw);
      if (!r.ok) return text(raw, r.reason);
      if (r.line.type === "error") this.error = { reason: r.line.reason, message: r.line.message };
      else if (!PROGRESS_TYPES.has(r.line.type)) this.result = r.line;
      spec.onLine?.(r.line);
    };
    let finish = (): void => {};
    if (spec.output) {
      const fd = fs.openSync(spec.output, "w");
      try {
        this.child = spawn(spec.node, argv, { env, stdio: ["ignore", fd, fd], detached: true });
      } finally {
        fs.closeSync(fd);
      }
      this.child.unref();
      // Both streams are in the file; the guard tells the contract's lines from stderr text.
      const tail = tailLines(spec.output, onLine);
      finish = () => {
        tail.flush();
        tail.stop();
      };
    } else {
      this.child = spawn(spec.node, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
      onStdoutLines(this.child.stdout!, onLine);
      onStderrLines(this.child.stderr!, (l) => text(l));
    }
    this.exited = new Promise((resolve) => {
      this.child.on("error", (err) => {
        this.error = { reason: "internal", message: `cannot start the worker (${spec.node}): ${err.message}` };
      });
      this.child.on("close", (code) => {
        finish();
        resolve({ code, cancelled: this.cancelled || code === 130, error: this.error, result: this.result });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** SIGINT lets the worker save what it did and mark it cancelled; `exited` says when it has. */
  cancel(): void {
    this.cancelled = true;
    this.child.kill("SIGINT");
  }
}
