// The small files around the records: config, manifest, annotations and the two pair files. Each is
// re-read only when a stat says it changed, so a refresh while nothing happens costs a few stats.
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { CONFIG_FILE, iterationSettings, loadConfig, resolveIn } from "../config.js";
import { ManifestSchema, type Annotation, type Manifest, type VerdictMode } from "../schema.js";
import { readAnnotations } from "../store/annotations.js";
import type { PairRole } from "./types.js";

/** Re-reads a file when its size or modification time moves; a missing file reads as `missing`. */
export class Watched<T> {
  private stamp = "";
  value: T;

  constructor(
    readonly file: string,
    private readonly read: (file: string) => Promise<T>,
    private readonly missing: T,
  ) {
    this.value = missing;
  }

  /** True when the value changed. */
  async reload(): Promise<boolean> {
    let stamp: string;
    try {
      const st = await fsp.stat(this.file);
      stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      stamp = "missing";
    }
    if (stamp === this.stamp) return false;
    this.stamp = stamp;
    this.value = stamp === "missing" ? this.missing : await this.read(this.file);
    return true;
  }
}

export interface ViewSettings {
  promptsFile: string;
  rho: number;
  lengthCap: number | null;
  /** How the iteration reads verdicts, for records that do not say (text ones never do). */
  modes: VerdictModes;
  /** Why the config could not be used, when the settings came from the manifest or defaults instead. */
  problem?: string;
}

/**
 * Selection settings for iteration t: from metajudge.json when it loads, else from the snapshot in
 * the manifest, else defaults, so a half-edited config never closes the workbench.
 */
export function viewSettings(experimentDir: string, t: number, manifest: Manifest | null): ViewSettings {
  try {
    const config = loadConfig(experimentDir);
    const s = iterationSettings(config, t);
    // The modes an iteration ran with are the manifest's; the config only speaks for one not yet started.
    const modes = manifest ? manifestModes(manifest) : { judge: config.roles.judge.mode, meta_judge: config.roles.meta_judge.mode };
    return { promptsFile: resolveIn(experimentDir, config.prompts), rho: s.rho, lengthCap: s.judgement_length_cap, modes };
  } catch (err) {
    const snap = manifest?.config as { prompts?: unknown } | undefined;
    const settings = manifest?.settings as { rho?: unknown; judgement_length_cap?: unknown } | undefined;
    const prompts = typeof snap?.prompts === "string" ? snap.prompts : "prompts.jsonl";
    const rho = typeof settings?.rho === "number" && settings.rho >= 0 && settings.rho <= 1 ? settings.rho : 0;
    const cap = typeof settings?.judgement_length_cap === "number" ? settings.judgement_length_cap : null;
    return {
      promptsFile: resolveIn(experimentDir, prompts),
      rho,
      lengthCap: cap,
      modes: manifestModes(manifest),
      problem: (err as Error).message,
    };
  }
}

export type VerdictModes = { judge: VerdictMode; meta_judge: VerdictMode };

/** A manifest from before modes were recorded, or none at all, means text. */
export function manifestModes(manifest: Manifest | null): VerdictModes {
  return manifest?.modes ?? { judge: "text", meta_judge: "text" };
}

export const configFile = (experimentDir: string): string => path.join(experimentDir, CONFIG_FILE);

export async function readManifestLenient(file: string): Promise<Manifest | null> {
  try {
    const parsed = ManifestSchema.safeParse(JSON.parse(await fsp.readFile(file, "utf8")));
    return parsed.success ? parsed.data : null;
  } catch {
    return null; // mid-rewrite or hand-edited: the view goes on without it
  }
}

export async function readLatestAnnotations(file: string): Promise<Map<string, Annotation>> {
  return (await readAnnotations(file)).latest;
}

export interface PairFile {
  /** chosen / rejected by record id. */
  roles: Map<string, PairRole>;
  /** Prompt ids with a pair. */
  prompts: Set<string>;
  lines: number;
}

export const NO_PAIRS: PairFile = { roles: new Map(), prompts: new Set(), lines: 0 };

// Pair lines as Metajudge writes them start with these three keys; anything else is parsed whole.
const PAIR_PREFIX =
  /^\{"prompt_id":("(?:[^"\\]|\\.)*"),(?:"response_id":"(?:[^"\\]|\\.)*",)?"chosen_id":("(?:[^"\\]|\\.)*"),"rejected_id":("(?:[^"\\]|\\.)*")/;

export async function readPairFile(file: string): Promise<PairFile> {
  const out: PairFile = { roles: new Map(), prompts: new Set(), lines: 0 };
  const add = (prompt: unknown, chosen: unknown, rejected: unknown): void => {
    out.lines++;
    if (typeof prompt === "string") out.prompts.add(prompt);
    if (typeof chosen === "string") out.roles.set(chosen, "chosen");
    if (typeof rejected === "string") out.roles.set(rejected, "rejected");
  };
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return out;
    throw err;
  }
  // The view needs three ids a line; the judge pairs' Elo maps are most of the bytes and are skipped.
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const m = PAIR_PREFIX.exec(line);
    if (m) {
      add(JSON.parse(m[1]!), JSON.parse(m[2]!), JSON.parse(m[3]!));
      continue;
    }
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      continue; // a pair file is rewritten whole; a bad line is not worth failing the view for
    }
    if (typeof r === "object" && r !== null) {
      const p = r as { prompt_id?: unknown; chosen_id?: unknown; rejected_id?: unknown };
      add(p.prompt_id, p.chosen_id, p.rejected_id);
    }
  }
  return out;
}
