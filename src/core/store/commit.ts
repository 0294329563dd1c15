// Several files replaced as one step (the two pair files): a kill between their renames must not
// leave one from this run and one from the last. The protocol, with an intent file as its journal:
//
//   1. every new file is written and synced under its temporary name (<file>.tmp-<pid>);
//   2. the intent, naming each temporary file and its target, is written atomically and synced;
//   3. the temporary files are renamed over their targets;
//   4. the intent is removed.
//
// A kill before 2 leaves the old files whole and temporary garbage (cleanTempFiles removes it). A
// kill after 2 leaves an intent whose temporary files are all complete: the next writer to take the
// iteration's lock finishes the renames (rollForward), which is idempotent, so a kill during that is
// also fine. Every reader that matters (export, training) holds the lock, and so reads after it.
import * as fs from "node:fs";
import * as path from "node:path";
import { MetajudgeError } from "../errors.js";
import { readIfExists, syncDir, writeError, writeFileAtomic, writeTemp } from "../fs-atomic.js";

/** The intent name of the pair files (.pairs.commit). */
export const PAIRS_COMMIT = "pairs";

interface Intent {
  files: { temp: string; target: string }[];
}

function intentFile(dir: string, name: string): string {
  return path.join(dir, `.${name}.commit`);
}

/** Replaces every file of `files` (names in `dir`) so that a reader sees all old or all new. */
export function writeFilesTogether(dir: string, name: string, files: readonly { target: string; data: string | Buffer }[]): void {
  const intent: Intent = { files: [] };
  try {
    for (const f of files) intent.files.push({ temp: path.basename(writeTemp(path.join(dir, f.target), f.data)), target: f.target });
  } catch (err) {
    for (const f of intent.files) fs.rmSync(path.join(dir, f.temp), { force: true });
    throw err;
  }
  const journal = intentFile(dir, name);
  writeFileAtomic(journal, JSON.stringify(intent) + "\n"); // synced, and its folder too
  finish(dir, journal, intent);
}

function finish(dir: string, journal: string, intent: Intent): void {
  for (const f of intent.files) {
    const temp = path.join(dir, f.temp);
    if (!fs.existsSync(temp)) continue; // renamed before a kill
    try {
      fs.renameSync(temp, path.join(dir, f.target));
    } catch (err) {
      throw writeError(
        err,
        path.join(dir, f.target),
        "replacing",
        "the new version waits in " + f.temp + " and the next run completes the replacement",
      );
    }
  }
  syncDir(dir);
  fs.rmSync(journal, { force: true });
  syncDir(dir);
}

function readIntent(journal: string): Intent | null {
  const text = readIfExists(journal);
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as Intent;
    if (
      Array.isArray(v.files) &&
      v.files.every((f) => typeof f.temp === "string" && typeof f.target === "string" && !f.temp.includes("/") && !f.target.includes("/"))
    )
      return v;
  } catch {
    // fall through
  }
  throw new MetajudgeError(
    "badInput",
    `${journal}: not an intent metajudge wrote; delete it and recompute with \`metajudge pairs ${path.dirname(journal)}\``,
    { file: journal },
  );
}

/**
 * Completes a replacement a kill interrupted after its intent was written. Call it holding the
 * iteration's lock, before cleaning temporary files (the intent's are not garbage). Returns the
 * targets it completed.
 */
export function rollForward(dir: string, name: string): string[] | null {
  const journal = intentFile(dir, name);
  const intent = readIntent(journal);
  if (!intent) return null;
  finish(dir, journal, intent);
  return intent.files.map((f) => f.target);
}
