// validateRecords on small hand-made files: every kind of problem is found where it is, and an
// iteration with nothing written yet, or only clean records, has none.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { validateRecords } from "../../src/core/store/validate-records.js";

const line = (r: unknown): string => (typeof r === "string" ? r : JSON.stringify(r)) + "\n";
const iterDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "mj-validate-"));
const R = (i: number, extra: object = {}): object => ({ id: `p:r${i}`, prompt_id: "p", index: i, text: "t", ...extra });
const J = (r: number, k: number, extra: object = {}): object => ({
  id: `p:r${r}:j${k}`,
  prompt_id: "p",
  response_id: `p:r${r}`,
  index: k,
  text: "Score: 3",
  score: 3,
  ...extra,
});
const B = (a: number, b: number, extra: object = {}): object => ({
  id: `p:r0:m${a}-${b}`,
  prompt_id: "p",
  response_id: "p:r0",
  first_id: `p:r0:j${a}`,
  second_id: `p:r0:j${b}`,
  text: "Winner: Judgement A",
  winner: "first",
  ...extra,
});

test("an iteration with no records yet, and one with clean records, have no problems", async () => {
  const empty = await validateRecords(iterDir(), new Set(["p"]));
  assert.deepEqual(empty.problems, []);
  const dir = iterDir();
  fs.writeFileSync(path.join(dir, "responses.jsonl"), line(R(0)) + "\r\n" + line(R(1)));
  fs.writeFileSync(path.join(dir, "judgements.jsonl"), line(J(0, 0)) + line(J(0, 1, { score: null })));
  fs.writeFileSync(path.join(dir, "meta_judgements.jsonl"), line(B(0, 1)) + line(B(1, 0, { winner: null })));
  const clean = await validateRecords(dir, new Set(["p"]));
  assert.deepEqual(clean.problems, []);
  assert.deepEqual(clean.records, { responses: 2, judgements: 2, battles: 2, annotations: 0 });
});

test("each kind of problem is named at its line", async () => {
  const dir = iterDir();
  fs.writeFileSync(
    path.join(dir, "responses.jsonl"),
    line(R(0)) + line([1, 2]) + line(R(1, { index: -1 })) + line(R(0)) + line(R(2, { prompt_id: "q" })),
  );
  fs.writeFileSync(
    path.join(dir, "judgements.jsonl"),
    line(J(0, 0)) + line(J(0, 1, { score: "4" })) + line(J(9, 0)) + line(J(0, 2, { prompt_id: "q" })) + line(J(0, 3)),
  );
  fs.writeFileSync(
    path.join(dir, "meta_judgements.jsonl"),
    line(B(0, 0)) + line(B(0, 7)) + line(B(0, 3, { response_id: "p:r5" })) + '{"id":',
  );
  fs.writeFileSync(path.join(dir, "annotations.jsonl"), line({ target_id: "p:r0", label: "nope", note: "", created_at: "x" }));
  const res = await validateRecords(dir, new Set(["p"]));
  const got = res.problems.map((p) => [p.kind, path.basename(p.file), p.line]);
  assert.deepEqual(got, [
    ["malformed_line", "responses.jsonl", 2],
    ["missing_field", "responses.jsonl", 3],
    ["duplicate_id", "responses.jsonl", 4],
    ["unknown_id", "responses.jsonl", 5],
    ["missing_field", "judgements.jsonl", 2],
    ["unknown_id", "judgements.jsonl", 3],
    ["prompt_mismatch", "judgements.jsonl", 4],
    ["self_battle", "meta_judgements.jsonl", 1],
    ["unknown_id", "meta_judgements.jsonl", 2],
    ["unknown_id", "meta_judgements.jsonl", 3],
    ["torn_line", "meta_judgements.jsonl", 4],
    ["unreadable_annotation", "annotations.jsonl", 1],
  ]);
  assert.equal(res.problems.find((p) => p.kind === "duplicate_id")?.first_line, 1);
  assert.match(res.problems[1]!.message, /"index" must be a non-negative integer/);
  assert.match(res.problems[4]!.message, /"score" must be a number or null/);
  assert.equal(res.counts.unknown_id, 4);
});
