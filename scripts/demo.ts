// The demo: a demo experiment, the embedded local model serving it on 127.0.0.1, one whole
// iteration with live progress, then code-server with the extension installed on that experiment.
// Ctrl-C stops everything this script started. The model has random weights: its answers are
// meaningless; it is there so every stage runs for real on any machine.
//
//   npm run demo                      the whole thing
//   npm run demo -- --no-editor       only the iteration (what the tests run)
//   npm run demo -- --dir <folder>    where the experiment goes (default .tmp/demo/experiment)
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { demoConfig } from "./demo-config.js";

const ROOT = path.resolve(__dirname, "..");
const CLI = path.join(ROOT, "dist", "cli.js");
const started: ChildProcess[] = [];
const say = (s: string): void => void process.stderr.write(`\n\x1b[1m== ${s}\x1b[0m\n`);

function stopAll(): void {
  for (const c of started.reverse()) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    try {
      // Started detached: the PID is its process group, so helpers it forked stop too.
      process.kill(-c.pid!, "SIGTERM");
    } catch {
      c.kill("SIGTERM");
    }
  }
}

async function startLocalModel(seed: number): Promise<{ url: string; model: string }> {
  const child = spawn(process.execPath, [CLI, "serve-local", "--port", "0", "--seed", String(seed)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
    detached: true,
  });
  started.push(child);
  return new Promise((resolve, reject) => {
    let buf = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl === -1) return;
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as { url: string; model: string });
      } catch (e) {
        reject(new Error(`serve-local said something unexpected: ${buf.slice(0, nl)} (${String(e)})`));
      }
    });
    child.once("exit", (code) => reject(new Error(`serve-local exited with ${code} before listening`)));
  });
}

function cli(args: string[]): void {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: "inherit" });
  if (r.status !== 0) throw new Error(`metajudge ${args[0]} failed (exit ${r.status})`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "no-editor": { type: "boolean", default: false },
      dir: { type: "string", default: path.join(ROOT, ".tmp", "demo", "experiment") },
      seed: { type: "string", default: "7" },
    },
  });
  const dir = path.resolve(values.dir!);
  const seed = Number(values.seed);

  say("starting the embedded local model (random weights: its answers are meaningless)");
  const local = await startLocalModel(seed);
  process.stderr.write(`listening at ${local.url}, model ${local.model}\n`);

  say(`creating the demo experiment in ${path.relative(process.cwd(), dir) || dir}`);
  fs.rmSync(dir, { recursive: true, force: true });
  cli(["init", dir]);
  fs.writeFileSync(path.join(dir, "metajudge.json"), JSON.stringify(demoConfig(local.url, local.model, seed), null, 2) + "\n");
  // The demo's own prompt set: three dozen everyday instructions written for the project.
  fs.copyFileSync(path.join(ROOT, "prompts", "demo.jsonl"), path.join(dir, "prompts.jsonl"));

  say("running iteration 1: generate → judge → metajudge → pairs → export");
  cli(["run", dir, "--iteration", "1"]);
  cli(["status", dir]);
  if (values["no-editor"]) return;

  say("installing the editor (code-server 4.100.3 from npm, once) and packaging the extension");
  const setup = spawnSync("bash", [path.join(ROOT, "scripts", "e2e", "setup.sh")], { stdio: "inherit" });
  if (setup.status !== 0) throw new Error("scripts/e2e/setup.sh failed");
  const pack = spawnSync("bash", [path.join(ROOT, "scripts", "e2e", "package.sh")], { stdio: "inherit" });
  if (pack.status !== 0) throw new Error("scripts/e2e/package.sh failed");

  say("starting code-server with Metajudge installed");
  const { startCodeServer, VSIX } = await import("../test/vscode/harness.js");
  const server = await startCodeServer({ vsix: VSIX });
  process.on("exit", () => void server.stop());
  const url = `${server.url}/?folder=${encodeURIComponent(dir)}`;
  process.stderr.write(`\nOpen ${url}\n(the Metajudge icon in the activity bar; Ctrl-C here stops everything)\n`);
  process.stdout.write(`${url}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  say("stopping");
  await server.stop();
}

process.on("exit", stopAll);
main().then(
  () => {
    stopAll();
    process.exit(0);
  },
  (e: unknown) => {
    process.stderr.write(`demo: ${e instanceof Error ? e.message : String(e)}\n`);
    stopAll();
    process.exit(1);
  },
);
