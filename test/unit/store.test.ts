import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { JsonlAppender, readJsonl, repairTail, writeFileAtomic } from "../../src/core/store/jsonl.js";
import { appendAnnotation, readAnnotations, suspiciousIds } from "../../src/core/store/annotations.js";
import { charLength, loadJudgements } from "../../src/core/store/records.js";
import { MetajudgeError } from "../../src/core/errors.js";

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "mj-store-"));

async function readAll(file: string): Promise<unknown[]> {
  const out: unknown[] = [];
  await readJsonl(file, (v) => out.push(v));
  return out;
}

test("appender writes whole lines and the reader returns them in order", async () => {
  const f = path.join(tmp(), "a.jsonl");
  const a = new JsonlAppender(f);
  a.append([{ id: "1" }, { id: "2", text: "line\nbreak é 🙂" }]);
  a.append([]);
  a.append([{ id: "3" }]);
  a.close();
  assert.deepEqual(await readAll(f), [{ id: "1" }, { id: "2", text: "line\nbreak é 🙂" }, { id: "3" }]);
  assert.equal(fs.readFileSync(f, "utf8").split("\n").length, 4);
});

test("reader handles lines longer than its buffer, CRLF, blank lines and a missing file", async () => {
  const dir = tmp();
  const f = path.join(dir, "big.jsonl");
  const long = "x".repeat(9 * 1024 * 1024);
  fs.writeFileSync(f, `{"id":"a"}\r\n\n${JSON.stringify({ id: "b", text: long })}\n{"id":"c"}\n`);
  const rows = (await readAll(f)) as { id: string; text?: string }[];
  assert.deepEqual(
    rows.map((r) => r.id),
    ["a", "b", "c"],
  );
  assert.equal(rows[1]!.text!.length, long.length);
  assert.deepEqual(await readAll(path.join(dir, "none.jsonl")), []);
});

test("a malformed line in the middle is an error naming file:line; lenient mode reports and goes on", async () => {
  const f = path.join(tmp(), "bad.jsonl");
  fs.writeFileSync(f, '{"id":"1"}\n{"id": oops}\n{"id":"3"}\n');
  await assert.rejects(
    readAll(f),
    (e: unknown) => e instanceof MetajudgeError && e.reason === "badInput" && e.message.startsWith(`${f}:2:`),
  );
  const got: unknown[] = [];
  const s = await readJsonl(f, (v) => got.push(v), { strict: false });
  assert.equal(got.length, 2);
  assert.deepEqual(
    s.problems.map((p) => p.line),
    [2],
  );
  assert.equal(s.tornTail, false);
});

test("a torn last line is reported by the reader, not thrown", async () => {
  const f = path.join(tmp(), "torn.jsonl");
  fs.writeFileSync(f, '{"id":"1"}\n{"id":"2","te');
  const got: unknown[] = [];
  const s = await readJsonl(f, (v) => got.push(v));
  assert.equal(got.length, 1);
  assert.equal(s.tornTail, true);
});

test("repairTail moves a torn tail aside, byte for byte, and truncates at the last newline", async () => {
  const f = path.join(tmp(), "r.jsonl");
  fs.writeFileSync(f, '{"id":"1"}\n{"id":"2"}\n{"id":"3","text":"half');
  const r = repairTail(f);
  assert.ok(r);
  assert.equal(r.savedTo, `${f}.torn`);
  assert.equal(fs.readFileSync(f, "utf8"), '{"id":"1"}\n{"id":"2"}\n');
  assert.equal(fs.readFileSync(`${f}.torn`, "utf8"), '{"id":"3","text":"half\n');
  // Appending after the repair yields a parseable file.
  const a = new JsonlAppender(f);
  a.append([{ id: "3" }]);
  a.close();
  assert.deepEqual(await readAll(f), [{ id: "1" }, { id: "2" }, { id: "3" }]);
  // A second torn tail is appended to the sidecar, never overwriting the first.
  fs.appendFileSync(f, '{"id":"4"');
  repairTail(f);
  assert.equal(fs.readFileSync(`${f}.torn`, "utf8"), '{"id":"3","text":"half\n{"id":"4"\n');
});

test("repairTail keeps a complete last record that only lacks its newline", async () => {
  const f = path.join(tmp(), "n.jsonl");
  fs.writeFileSync(f, '{"id":"1"}\n{"id":"2"}');
  const r = repairTail(f);
  assert.deepEqual(r && { savedTo: r.savedTo }, { savedTo: null });
  assert.equal(fs.readFileSync(f, "utf8"), '{"id":"1"}\n{"id":"2"}\n');
  assert.equal(fs.existsSync(`${f}.torn`), false);
  assert.equal(repairTail(f), null, "a clean file needs nothing");
  assert.equal(repairTail(path.join(path.dirname(f), "missing.jsonl")), null);
});

test("repairTail on a file that is one torn line with no newline at all", () => {
  const f = path.join(tmp(), "one.jsonl");
  fs.writeFileSync(f, '{"id":');
  const r = repairTail(f);
  assert.equal(r?.savedTo, `${f}.torn`);
  assert.equal(fs.statSync(f).size, 0);
});

test("writeFileAtomic replaces a file whole and leaves no temporary behind", () => {
  const dir = tmp();
  const f = path.join(dir, "pairs.jsonl");
  fs.writeFileSync(f, "old\n");
  writeFileAtomic(f, "new\n");
  assert.equal(fs.readFileSync(f, "utf8"), "new\n");
  assert.deepEqual(fs.readdirSync(dir), ["pairs.jsonl"]);
});

test("annotations: latest event per target wins; a torn tail does not cost the next event", async () => {
  const f = path.join(tmp(), "annotations.jsonl");
  const at = (s: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
  appendAnnotation(f, { target_id: "j1", label: "suspicious", note: "always 5", created_at: at(1) });
  appendAnnotation(f, { target_id: "j2", label: "suspicious", note: "", created_at: at(2) });
  appendAnnotation(f, { target_id: "j2", label: "cleared", note: "looked again", created_at: at(3) });
  fs.appendFileSync(f, '{"target_id":"j3","lab');
  appendAnnotation(f, { target_id: "j4", label: "suspicious", note: "", created_at: at(4) });
  assert.deepEqual([...(await suspiciousIds(f))].sort(), ["j1", "j4"]);
  const { latest, problems } = await readAnnotations(f);
  assert.equal(latest.get("j2")?.label, "cleared");
  assert.deepEqual(problems, []);
  assert.match(fs.readFileSync(`${f}.torn`, "utf8"), /"j3"/);
});

test("record readers name the file and line of a record missing a required field", async () => {
  const f = path.join(tmp(), "judgements.jsonl");
  fs.writeFileSync(
    f,
    '{"id":"p:r0:j0","prompt_id":"p","response_id":"p:r0","index":0,"text":"Score: 4","score":4}\n' +
      '{"id":"p:r0:j1","prompt_id":"p","response_id":"p:r0","index":1,"text":"x","score":"4"}\n',
  );
  await assert.rejects(loadJudgements(f, false), /judgements\.jsonl:2: "score" must be a number or null/);
});

test("charLength counts code points", () => {
  assert.equal(charLength("abc"), 3);
  assert.equal(charLength("é🙂x"), 3);
  assert.equal(charLength(""), 0);
});
