// A file a person saved may start with a UTF-8 BOM (Notepad, Excel's "UTF-8 CSV", some editors'
// defaults). Every reader of such a file takes the first line as the record it is.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readJsonl } from "../../src/core/store/jsonl.js";
import { IterationIndex } from "../../src/core/store/index.js";
import { scanJsonl } from "../../src/core/trial/records.js";

const BOM = "\ufeff";
const PROMPTS = BOM + '{"id":"p1","prompt":"first"}\n{"id":"p2","prompt":"second"}\n';

function promptsFile(): { root: string; file: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mj-bom-"));
  const file = path.join(root, "prompts.jsonl");
  fs.writeFileSync(file, PROMPTS);
  return { root, file };
}

test("readJsonl: a BOM before the first line is not part of its record", async () => {
  const { file } = promptsFile();
  const ids: unknown[] = [];
  const summary = await readJsonl(file, (v) => ids.push((v as { id: string }).id));
  assert.deepEqual(ids, ["p1", "p2"]);
  assert.deepEqual(summary.problems, []);
});

test("readJsonl: a BOM-like sequence later in a file is still an error where it is", async () => {
  const { file } = promptsFile();
  fs.appendFileSync(file, BOM + '{"id":"p3","prompt":"third"}\n');
  const summary = await readJsonl(file, () => {}, { strict: false });
  assert.deepEqual(
    summary.problems.map((p) => p.line),
    [3],
  );
});

test("the prompt index reads the first prompt, and its offset reads back a record without the BOM", async () => {
  const { root, file } = promptsFile();
  const iterDir = path.join(root, "iterations", "1");
  fs.mkdirSync(iterDir, { recursive: true });
  const idx = await IterationIndex.open(iterDir, file);
  const t = idx.tables.prompt;
  assert.deepEqual(t.problems, []);
  assert.equal(t.n, 2);
  const bytes = fs.readFileSync(file);
  const first = JSON.parse(bytes.toString("utf8", t.offset[0]!, t.offset[0]! + t.bytes[0]!)) as { id: string };
  assert.equal(first.id, "p1");
});

test("the editor's record scan (template preview) sees the first prompt", async () => {
  const { file } = promptsFile();
  const ids: unknown[] = [];
  await scanJsonl(file, (row) => void ids.push(row.id));
  assert.deepEqual(ids, ["p1", "p2"]);
});
