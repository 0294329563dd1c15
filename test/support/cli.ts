// Runs the bundled CLI (dist/cli.js) as a user would: a separate process, real files, real sockets.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { defaultConfig, initExperiment } from "../../src/core/experiment.js";
import { readWireLine } from "../../src/shared/cli-wire.js";

export const ROOT = path.join(__dirname, "..", "..");
export const CLI = path.join(ROOT, "dist", "cli.js");

export function ensureBuilt(): void {
  if (!fs.existsSync(CLI)) execFileSync(process.execPath, [path.join(ROOT, "scripts", "build.mjs")], { cwd: ROOT, stdio: "inherit" });
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  events: Record<string, unknown>[];
}

/** Children whose stdout is the --json contract: every line must be one declared in src/shared/cli-wire.ts. */
const wireChildren = new WeakMap<ChildProcess, string>();

/** Whether these arguments make the CLI speak the wire contract (`jobs log` copies a log; serve-local is a server). */
export function speaksWire(args: readonly string[]): boolean {
  return args.includes("--json") && args[0] !== "serve-local" && !(args[0] === "jobs" && args[1] === "log");
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  if (speaksWire(args)) wireChildren.set(child, `metajudge ${args.filter((a) => !a.startsWith("/")).join(" ")}`);
  return child;
}

/** Why these stdout lines of a --json command are not all lines of the contract, or []. */
export function wireProblems(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((l) => l.trim())
    .flatMap((l) => {
      const r = readWireLine(l);
      return r.ok ? [] : [`${r.reason}: ${l.slice(0, 200)}`];
    });
}

export function collect(child: ChildProcess, onEvent?: (e: Record<string, unknown>) => void): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    let partial = "";
    const events: Record<string, unknown>[] = [];
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d;
      partial += d;
      let nl: number;
      while ((nl = partial.indexOf("\n")) !== -1) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (!line.startsWith("{")) continue;
        const e = JSON.parse(line) as Record<string, unknown>;
        events.push(e);
        onEvent?.(e);
      }
    });
    child.stderr!.on("data", (d: Buffer) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const command = wireChildren.get(child);
      const problems = command === undefined ? [] : wireProblems(stdout);
      if (problems.length > 0)
        reject(
          new Error(
            `\`${command}\` wrote lines the --json contract (src/shared/cli-wire.ts) does not declare:\n  ${problems.join("\n  ")}`,
          ),
        );
      else resolve({ code, signal, stdout, stderr, events });
    });
  });
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return collect(spawnCli(args, env));
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `mj-${prefix}-`));
}

/** A fresh experiment from `init`, pointed at `url`, with small K/N and the given overrides. */
export function makeExperiment(url: string, patch: (c: ReturnType<typeof defaultConfig>) => void = () => {}): string {
  const dir = path.join(tmpDir("exp"), "exp");
  initExperiment(dir, ROOT);
  const c = defaultConfig();
  c.endpoint = { base_url: url, model: "fake-model" };
  c.roles.actor.sampling.n = 4;
  c.roles.judge.sampling.n = 5;
  c.concurrency = 8;
  c.request = { timeout_ms: 10_000, max_retries: 4 };
  patch(c);
  fs.writeFileSync(path.join(dir, "metajudge.json"), JSON.stringify(c, null, 2));
  return dir;
}

export function readLines<T = Record<string, unknown>>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as T);
}
