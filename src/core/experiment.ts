// Creating an experiment folder and finding what it holds.
import * as fs from "node:fs";
import * as path from "node:path";
import { CONFIG_FILE } from "./config.js";
import { MetajudgeError } from "./errors.js";
import type { ConfigInput } from "./schema.js";

/** Where the shipped defaults live: prompts/ and schema/ beside the bundle or the sources. */
export function packageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "prompts", "judge.md")) && fs.existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new MetajudgeError("internal", `cannot find Metajudge's prompts/ folder above ${from}`);
  }
}

export function defaultConfig(): ConfigInput {
  return {
    $schema: "./metajudge.schema.json",
    name: "my-experiment",
    prompts: "prompts.jsonl",
    templates: { actor: "prompts/actor.md", judge: "prompts/judge.md", meta_judge: "prompts/meta_judge.md" },
    endpoint: { base_url: "http://127.0.0.1:8000/v1", model: "meta-llama/Meta-Llama-3-8B-Instruct" },
    roles: {
      actor: { sampling: { n: 7, temperature: 0.8, top_p: 0.95, max_tokens: 1024, seed: 1 } },
      judge: { mode: "text", sampling: { n: 11, temperature: 0.8, top_p: 0.95, max_tokens: 512, seed: 2 } },
      meta_judge: { mode: "text", sampling: { n: 1, temperature: 0.8, top_p: 0.95, max_tokens: 512, seed: 3 } },
    },
    concurrency: 16,
    request: { timeout_ms: 120000, max_retries: 6 },
    iterations: [
      { rho: 0, judgement_length_cap: null, train_judge_pairs: true },
      { rho: 0.32, judgement_length_cap: null, train_judge_pairs: true },
      { rho: 0.4, judgement_length_cap: null, train_judge_pairs: false },
      { rho: 0.4, judgement_length_cap: null, train_judge_pairs: false },
    ],
  };
}

/** Writes a working skeleton; refuses to overwrite an existing experiment. */
export function initExperiment(dir: string, root = packageRoot()): string[] {
  const configFile = path.join(dir, CONFIG_FILE);
  if (fs.existsSync(configFile)) throw new MetajudgeError("badInput", `${configFile} already exists; not overwriting an experiment`);
  fs.mkdirSync(path.join(dir, "prompts"), { recursive: true });
  const written: string[] = [];
  const copy = (from: string, to: string): void => {
    const dest = path.join(dir, to);
    if (fs.existsSync(dest)) return;
    fs.copyFileSync(path.join(root, from), dest);
    written.push(to);
  };
  for (const t of ["actor.md", "judge.md", "meta_judge.md"]) copy(`prompts/${t}`, `prompts/${t}`);
  copy("prompts/starter.jsonl", "prompts.jsonl");
  copy("schema/metajudge.schema.json", "metajudge.schema.json");
  fs.writeFileSync(configFile, JSON.stringify(defaultConfig(), null, 2) + "\n");
  written.push(CONFIG_FILE);
  return written;
}

export function listIterations(dir: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(dir, "iterations"));
  } catch {
    return [];
  }
  return names
    .filter((n) => /^[1-9]\d*$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}
