// (c) The workbench at paper scale: what the Iterations view and the inspector wait for. Each
// measurement runs in a fresh child process (so a cached index is really read from disk and memory
// is the process's own), executing the same core calls the extension host makes.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { IterationModel } from "../src/core/view/model.js";

export interface ViewSample {
  mode: "cold" | "cached";
  openMs: number;
  firstLevelMs: number; // summary + the first page of prompts: what expanding an iteration shows
  promptChildrenMs: number; // a prompt's responses and each response's judgements with Elo
  inspectorMs: number; // everything the inspector renders for one prompt (texts read by offset)
  rssMiB: number; // after the calls above
  heapMiB: number;
  scannedMiB: number;
}

async function measure(experimentDir: string, mode: "cold" | "cached"): Promise<ViewSample> {
  const t0 = performance.now();
  const model = await IterationModel.open(experimentDir, 1);
  const t1 = performance.now();
  model.summary();
  const page = model.prompts({ offset: 0, limit: 200, sort: "spread" });
  const t2 = performance.now();
  // The most disputed prompt: its battled response has the largest Elo computation.
  const promptId = page.rows[0]!.id;
  for (const r of model.responses(promptId)) model.judgements(r.id);
  const t3 = performance.now();
  await model.inspector(promptId);
  const t4 = performance.now();
  const mem = process.memoryUsage();
  const sample: ViewSample = {
    mode,
    openMs: t1 - t0,
    firstLevelMs: t2 - t1,
    promptChildrenMs: t3 - t2,
    inspectorMs: t4 - t3,
    rssMiB: mem.rss / 2 ** 20,
    heapMiB: mem.heapUsed / 2 ** 20,
    scannedMiB: model.scannedBytes / 2 ** 20,
  };
  model.dispose();
  return sample;
}

/**
 * Runs one cold open (index removed first) and then `cached` opens, each in its own process. `script`
 * is this file bundled like the extension (plain Node, no TypeScript loader in the measured process).
 */
export function runViewBench(script: string, experimentDir: string, cached = 3): ViewSample[] {
  const indexDir = path.join(experimentDir, "iterations", "1", ".index");
  fs.rmSync(indexDir, { recursive: true, force: true });
  const out: ViewSample[] = [];
  for (const mode of ["cold", ...Array<"cached">(cached).fill("cached")] as const) {
    const r = spawnSync(process.execPath, [script, experimentDir, mode], { encoding: "utf8", maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`view bench (${mode}) failed: ${r.stderr}`);
    out.push(JSON.parse(r.stdout.trim().split("\n").at(-1)!) as ViewSample);
  }
  return out;
}

if (require.main === module) {
  const [dir, mode] = process.argv.slice(2);
  if (!dir || (mode !== "cold" && mode !== "cached")) {
    process.stderr.write("usage: node view.cjs <experiment-dir> cold|cached\n");
    process.exit(2);
  }
  measure(dir, mode).then(
    (s) => process.stdout.write(JSON.stringify(s) + "\n"),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}
