// One iteration's folder (iterations/<t>/): the record files, the derived files and the manifest.
import * as fs from "node:fs";
import * as path from "node:path";
import { MetajudgeError } from "../errors.js";
import { FILES, ManifestSchema, type Manifest } from "../schema.js";
import { readIfExists } from "../fs-atomic.js";
import { JsonlAppender, repairTail, writeFileAtomic, type TailRepair } from "./jsonl.js";

export type FileKey = keyof typeof FILES;

/**
 * Files a run appends to, and so may find torn after a kill. annotations.jsonl is not among them:
 * a run never writes it, so it must never touch it either (the editor may be appending a note at
 * that very moment); whoever appends an annotation repairs its tail first.
 */
const RUN_WRITES: readonly FileKey[] = ["responses", "judgements", "metaJudgements"];

export function iterationDir(experimentDir: string, t: number): string {
  return path.join(experimentDir, "iterations", String(t));
}

export class IterationStore {
  private appenders = new Map<FileKey, JsonlAppender>();

  constructor(readonly dir: string) {}

  file(key: FileKey): string {
    return path.join(this.dir, FILES[key]);
  }

  ensureDir(): void {
    fs.mkdirSync(this.dir, { recursive: true });
  }

  /** Brings every file a run appends to to a line boundary; call before resuming. */
  repair(): TailRepair[] {
    const repairs: TailRepair[] = [];
    for (const key of RUN_WRITES) {
      const r = repairTail(this.file(key));
      if (r) repairs.push(r);
    }
    return repairs;
  }

  appender(key: FileKey): JsonlAppender {
    let a = this.appenders.get(key);
    if (!a) {
      a = new JsonlAppender(this.file(key));
      this.appenders.set(key, a);
    }
    return a;
  }

  close(): void {
    for (const a of this.appenders.values()) a.close();
    this.appenders.clear();
  }

  readManifest(): Manifest | null {
    const file = this.file("manifest");
    const text = readIfExists(file);
    if (text === null) return null;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new MetajudgeError(
        "badInput",
        `${file}: not valid JSON (${(err as Error).message}); it is rewritten atomically, so it was edited by hand`,
        { file },
      );
    }
    const parsed = ManifestSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new MetajudgeError("badInput", `${file}: ${issue.path.join(".")}: ${issue.message}`, { file });
    }
    return parsed.data;
  }

  writeManifest(m: Manifest): void {
    writeFileAtomic(this.file("manifest"), JSON.stringify(m, null, 2) + "\n");
  }
}
