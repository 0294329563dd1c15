// The one whole-file reader and writer: a missing file reads as null (any other failure is thrown),
// and a replacement leaves the new content, no temporary file, and on failure the old file.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readIfExists, writeFileAtomic } from "../../src/core/fs-atomic.js";
import { MetajudgeError } from "../../src/core/errors.js";

function dir(t: { after(fn: () => void): void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "mj-fs-atomic-"));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

test("readIfExists: null for a missing file, the text for a present one, and other errors thrown", (t) => {
  const d = dir(t);
  assert.equal(readIfExists(path.join(d, "none.json")), null);
  fs.writeFileSync(path.join(d, "a.json"), "{}\n");
  assert.equal(readIfExists(path.join(d, "a.json")), "{}\n");
  assert.throws(
    () => readIfExists(d),
    (e: unknown) => (e as NodeJS.ErrnoException).code === "EISDIR",
  );
});

test("writeFileAtomic: a failed replacement names the file, keeps the old one and leaves no temporary file", (t) => {
  const d = dir(t);
  const f = path.join(d, "manifest.json");
  writeFileAtomic(f, "old\n");
  writeFileAtomic(f, "new\n");
  assert.equal(fs.readFileSync(f, "utf8"), "new\n");
  // A folder where the file should be: the rename fails.
  const blocked = path.join(d, "blocked");
  fs.mkdirSync(path.join(blocked, "inside"), { recursive: true });
  assert.throws(
    () => writeFileAtomic(blocked, "x"),
    (e: unknown) =>
      e instanceof MetajudgeError &&
      e.message.startsWith(`${blocked}: `) &&
      /while replacing; .*\(the previous version of the file is kept\)/.test(e.message),
  );
  assert.deepEqual(fs.readdirSync(d).sort(), ["blocked", "manifest.json"]);
});
