// The record loaders keep the first record of an id and say where the repeats are.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadJudgements, loadResponses } from "../../src/core/store/records.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mj-first-"));
const write = (name: string, recs: object[]): string => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, recs.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return f;
};

test("loadResponses keeps the first record of an id and reports each repeat's line", async () => {
  const f = write("responses.jsonl", [
    { id: "p:r0", prompt_id: "p", index: 0, text: "first" },
    { id: "p:r1", prompt_id: "p", index: 1, text: "other" },
    { id: "p:r0", prompt_id: "p", index: 0, text: "a much longer edited copy" },
  ]);
  const repeats: [string, number][] = [];
  const rows = await loadResponses(f, true, undefined, (id, line) => repeats.push([id, line]));
  assert.deepEqual(
    rows.map((r) => [r.id, r.text, r.length]),
    [
      ["p:r0", "first", 5],
      ["p:r1", "other", 5],
    ],
  );
  assert.deepEqual(repeats, [["p:r0", 3]]);
});

test("loadJudgements keeps the first record of an id, texts included", async () => {
  const j = (index: number, score: number | null, text: string): object => ({
    id: `p:r0:j${index}`,
    prompt_id: "p",
    response_id: "p:r0",
    index,
    text,
    score,
  });
  const f = write("judgements.jsonl", [j(0, 3, "a"), j(1, 4, "b"), j(0, 5, "c c c"), j(1, 4, "b")]);
  const repeats: number[] = [];
  const rows = await loadJudgements(f, true, undefined, (_id, line) => repeats.push(line));
  assert.deepEqual(
    rows.map((r) => [r.id, r.score, r.text]),
    [
      ["p:r0:j0", 3, "a"],
      ["p:r0:j1", 4, "b"],
    ],
  );
  assert.deepEqual(repeats, [3, 4]);
});
