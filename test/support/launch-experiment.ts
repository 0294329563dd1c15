// Experiments for the launch tests: small, in a folder whose path is hostile to shells, with the
// hosts a test names; and the checks those tests share.
import * as fs from "node:fs";
import * as path from "node:path";
import { makeExperiment, readLines } from "./cli.js";

export const PWNED = "/tmp/mj-pwned";
/** Quotes of both kinds and a command substitution; its slashes make it nested folders in a path. */
export const HOSTILE = `'q' "d" $(touch ${PWNED})`;
export const SECRET = "sk-test-4242-do-not-leak";
export const KEY_ENV = "MJ_LAUNCH_KEY";

let port = 18600 + (process.pid % 700);
export function freePortGuess(): number {
  return port++;
}

export function launchExperiment(name: string, hosts: Record<string, Record<string, unknown>>, prompts = 4): string {
  const made = makeExperiment("http://127.0.0.1:9/v1", (c) => {
    c.endpoint = { base_url: "http://127.0.0.1:9/v1", model: "base-model", api_key_env: KEY_ENV };
    c.roles.actor.sampling.n = 3;
    c.roles.judge.sampling.n = 4;
    const first = Object.keys(hosts)[0];
    Object.assign(c, {
      hosts,
      remote: {
        generation: { host: first, mode: "batch", port: freePortGuess(), ready_timeout_s: 60 },
        training: { host: first, model: "base-model", trainer: { per_device_train_batch_size: 1, gradient_accumulation_steps: 2 } },
      },
    });
  });
  const lines = fs.readFileSync(path.join(made, "prompts.jsonl"), "utf8").split("\n").slice(0, prompts).join("\n") + "\n";
  // The prompt file's own name is hostile too (its slashes make folders of the path).
  const promptFile = `prompts ${HOSTILE}.jsonl`;
  fs.rmSync(path.join(made, "prompts.jsonl"));
  fs.mkdirSync(path.dirname(path.join(made, promptFile)), { recursive: true });
  fs.writeFileSync(path.join(made, promptFile), lines);
  editConfig(made, (c) => {
    c.prompts = promptFile;
  });
  const dir = path.join(path.dirname(made), `exp ${name} ${HOSTILE}`);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.renameSync(made, dir);
  return dir;
}

export interface ConfigJson {
  hosts: Record<string, Record<string, unknown>>;
  iterations: Record<string, unknown>[];
  [key: string]: unknown;
}

export function editConfig(dir: string, edit: (c: ConfigJson) => void): void {
  const file = path.join(dir, "metajudge.json");
  const c = JSON.parse(fs.readFileSync(file, "utf8")) as ConfigJson;
  edit(c);
  fs.writeFileSync(file, JSON.stringify(c, null, 2));
}

const RECORD_FILES = [
  "responses.jsonl",
  "judgements.jsonl",
  "meta_judgements.jsonl",
  "pairs.actor.jsonl",
  "pairs.judge.jsonl",
  "dpo.jsonl",
];

export function recordCounts(dir: string, t = 1): Record<string, number> {
  return Object.fromEntries(RECORD_FILES.map((f) => [f, readLines(path.join(dir, "iterations", String(t), f)).length]));
}

export interface ManifestView {
  stages: Record<
    string,
    { state: string; counts: Record<string, number>; usage?: { prompt_tokens: number; completion_tokens: number; requests: number } }
  >;
  training?: { job_id: string; checkpoint: string; base_model: string; final: Record<string, number>; history: unknown[] };
}

export function readManifest(dir: string, t = 1): ManifestView {
  return JSON.parse(fs.readFileSync(path.join(dir, "iterations", String(t), "manifest.json"), "utf8")) as ManifestView;
}

/** Every file under dir whose bytes hold needle. */
export function filesHolding(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && fs.readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

/**
 * Whether the job's process is still there. PIDs wrap quickly on a busy machine (pid_max may be
 * 32768), so a live PID counts only if its process still works in the job's folder.
 */
export function jobAlive(pid: number, jobDir: string): boolean {
  try {
    if (fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] === "Z") return false;
    return fs.readlinkSync(`/proc/${pid}/cwd`) === jobDir;
  } catch {
    return false;
  }
}
