// The byte-offset index: the fast field scanner against JSON.parse, offsets against the bytes on
// disk, appends (torn and whole), the saved index reused, and every way a saved index goes stale.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Fields, fieldsFromValue } from "../../src/core/store/fields.js";
import { IterationIndex, StringPool, type IndexedKind } from "../../src/core/store/index.js";
import { indexFileFor } from "../../src/core/store/index-file.js";
import { LineScanner } from "../../src/core/store/line-scan.js";
import { charLength } from "../../src/core/store/records.js";
import { MetajudgeError } from "../../src/core/errors.js";

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "mj-index-"));
const line = (r: unknown): string => JSON.stringify(r) + "\n";

/** An iteration folder (and a prompt file beside it) holding the given lines. */
function iteration(files: Partial<Record<"prompts" | "responses" | "judgements" | "meta", string>>): {
  iterDir: string;
  promptsFile: string;
} {
  const root = tmp();
  const iterDir = path.join(root, "iterations", "1");
  fs.mkdirSync(iterDir, { recursive: true });
  const promptsFile = path.join(root, "prompts.jsonl");
  if (files.prompts !== undefined) fs.writeFileSync(promptsFile, files.prompts);
  if (files.responses !== undefined) fs.writeFileSync(path.join(iterDir, "responses.jsonl"), files.responses);
  if (files.judgements !== undefined) fs.writeFileSync(path.join(iterDir, "judgements.jsonl"), files.judgements);
  if (files.meta !== undefined) fs.writeFileSync(path.join(iterDir, "meta_judgements.jsonl"), files.meta);
  return { iterDir, promptsFile };
}

const judgement = (i: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: `p0:r0:j${i}`,
  prompt_id: "p0",
  response_id: "p0:r0",
  index: i,
  text: `Judgement ${i} é 🙂\nScore: ${i % 6}`,
  score: i % 6,
  ...extra,
});

/** Everything the table holds about record r, by name, for comparing with what JSON.parse says. */
function row(idx: IterationIndex, kind: IndexedKind, r: number): Record<string, unknown> {
  const t = idx.tables[kind];
  const key = (k: number): string | null => (k >= 0 ? idx.pool.get(k) : null);
  const out: Record<string, unknown> = { id: key(t.id[r]!), line: t.line[r] };
  if (kind === "judgement")
    Object.assign(out, {
      response_id: key(t.response[r]!),
      index: t.index[r],
      score: Number.isNaN(t.score[r]!) ? null : t.score[r],
      length: t.textLength[r],
      parse_error: key(t.parseError[r]!),
    });
  return out;
}

// ---- the scanner agrees with JSON.parse -------------------------------------------------------------

const TRICKY: string[] = [
  line(judgement(1)),
  // Another tool's key order, spaces after separators, nested and unknown fields.
  `{"score": 4.75, "usage": {"prompt_tokens": 10, "nested": [1, {"a": "b\\"c"}, true, null]}, "text": "x", "index": 3, "response_id": "r", "prompt_id": "p", "id": "j"}`,
  // Escapes of every kind in the text: \\n, \\", \\\\, \\u00e9, a surrogate pair as escapes, a lone surrogate.
  `{"id":"j","prompt_id":"p","response_id":"r","index":0,"text":"a\\nb\\"c\\\\d\\u00e9\\ud83d\\ude00\\ud83d\\/e","score":null}`,
  // Raw astral characters and accents.
  line({ id: "j", prompt_id: "p", response_id: "r", index: 0, text: "𝒜𝒷 — naïve 🙂🙂", score: 0 }),
  // Escaped characters in an id.
  `{"id":"j\\u0041\\n","prompt_id":"p","response_id":"r","index":0,"text":"","score":1e0}`,
  // Numbers: negative zero, exponent, decimals that are not exact in binary.
  `{"id":"j","prompt_id":"p","response_id":"r","index":2,"text":"t","score":0.1}`,
  `{"id":"j","prompt_id":"p","response_id":"r","index":2,"text":"t","score":-0}`,
  `{"id":"j","prompt_id":"p","response_id":"r","index":2,"text":"t","score":3.3333333333333335}`,
  `{"id":"j","prompt_id":"p","response_id":"r","index":2,"text":"t","score":25e-1}`,
  // Duplicate keys: JSON.parse keeps the last.
  `{"id":"j","prompt_id":"p","response_id":"r","index":2,"text":"t","score":3,"score":null,"id":"k"}`,
  // Wrong types the contract rejects.
  `{"id":7,"prompt_id":"p","response_id":"r","index":2,"text":"t","score":3}`,
  `{"id":"j","prompt_id":"p","response_id":"r","index":-1,"text":"t","score":3}`,
  `{"id":"j","prompt_id":"p","response_id":"r","index":1.5,"text":"t","score":"4"}`,
  `{"id":"j","prompt_id":"p","response_id":"r","index":1,"text":5,"score":4}`,
  `{"id":"j","prompt_id":"p","response_id":"r","index":1,"text":"t"}`,
  // Tabs between tokens and a raw tab inside a string (valid for the former only).
  `{"id":"j",\t"prompt_id":"p","response_id":"r","index":1,"text":"t","score":4}`,
  `{"id":"j","prompt_id":"p","response_id":"r","index":1,"text":"a\tb","score":4}`,
  // Not JSON at all, or not an object.
  `{"id":"j","prompt_id":"p",}`,
  `{"id":"j","text":"\\x"}`,
  `[1,2]`,
  `{"id":"j","prompt_id":"p","response_id":"r","index":01,"text":"t","score":4}`,
  `{"id":"j","prompt_id":"p","response_id":"r","index":1,"text":"t","score":4} x`,
];

test("the byte scanner reads every line it accepts exactly as JSON.parse does, and declines the rest", () => {
  let accepted = 0;
  for (const text of TRICKY) {
    const bytes = Buffer.from(text.replace(/\n$/, ""), "utf8");
    const buf = Buffer.alloc(bytes.length + 8);
    bytes.copy(buf, 3); // an unaligned start exercises the word loop's edges
    const pool = new StringPool();
    const fast = new Fields();
    fast.reset();
    const ok = new LineScanner(buf, pool).scan(3, 3 + bytes.length, fast);
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString("utf8"));
    } catch {
      assert.equal(ok, false, `accepted invalid JSON: ${text}`);
      continue;
    }
    if (!ok) continue;
    accepted++;
    const slow = new Fields();
    fieldsFromValue(value, slow, pool);
    assert.deepEqual({ ...fast }, { ...slow }, text);
  }
  assert.ok(accepted >= 15, `only ${accepted} lines took the fast path`);
});

test("random records in random key order scan the same as JSON.parse", () => {
  let seed = 12345;
  const rand = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const ALPHABET = ["a", "Z", " ", "\n", '"', "\\", "/", "\t", "é", "—", "🙂", "\u0001", "\u2028", "\uD83D", "𝒜", "'"];
  const str = (n: number): string => Array.from({ length: n }, () => ALPHABET[Math.floor(rand() * ALPHABET.length)]!).join("");
  const pool = new StringPool();
  let accepted = 0;
  for (let i = 0; i < 2000; i++) {
    const rec: Record<string, unknown> = {
      id: str(1 + (i % 5)),
      prompt_id: `p${i}`,
      response_id: str(3),
      index: Math.floor(rand() * 20),
      text: str(Math.floor(rand() * 200)),
      score: rand() < 0.2 ? null : Math.round(rand() * 500) / 100,
      model: str(4),
      usage: { prompt_tokens: i, completion_tokens: [i, str(2)] },
    };
    const keys = Object.keys(rec).sort(() => rand() - 0.5);
    const text = JSON.stringify(Object.fromEntries(keys.map((k) => [k, rec[k]])), null, rand() < 0.1 ? " " : undefined).replace(
      /\n */g,
      " ",
    );
    const bytes = Buffer.from(text, "utf8");
    const buf = Buffer.alloc(bytes.length + 4);
    bytes.copy(buf, i % 4);
    const fast = new Fields();
    fast.reset();
    if (!new LineScanner(buf, pool).scan(i % 4, (i % 4) + bytes.length, fast)) continue;
    accepted++;
    const slow = new Fields();
    fieldsFromValue(JSON.parse(text), slow, pool);
    assert.deepEqual({ ...fast }, { ...slow }, text);
    assert.equal(fast.textLength, charLength(rec.text as string));
  }
  assert.ok(accepted > 1900, `only ${accepted} of 2000 took the fast path`);
});

// ---- offsets, lines, problems -----------------------------------------------------------------------

test("each record's offset and length read back exactly its line; lines count blank and broken ones", async () => {
  const lines = [
    line(judgement(0)),
    "\n",
    line(judgement(1)).replace("\n", "\r\n"),
    "{broken\n",
    line(judgement(2, { parse_error: "no 'Score: <number>' found", score: null })),
    line({ ...judgement(3), score: "high" }),
  ];
  const { iterDir, promptsFile } = iteration({ judgements: lines.join("") });
  const idx = await IterationIndex.open(iterDir, promptsFile);
  const t = idx.tables.judgement;
  assert.equal(t.n, 3);
  const file = fs.readFileSync(idx.file("judgement"));
  for (let r = 0; r < t.n; r++) {
    const rec = JSON.parse(file.toString("utf8", t.offset[r]!, t.offset[r]! + t.bytes[r]!)) as Record<string, unknown>;
    assert.equal(rec.id, idx.pool.get(t.id[r]!));
  }
  assert.deepEqual(row(idx, "judgement", 0), {
    id: "p0:r0:j0",
    line: 1,
    response_id: "p0:r0",
    index: 0,
    score: 0,
    length: charLength(judgement(0).text as string),
    parse_error: null,
  });
  assert.deepEqual([t.line[1], t.line[2]], [3, 5]);
  assert.equal(row(idx, "judgement", 2).parse_error, "no 'Score: <number>' found");
  assert.equal(row(idx, "judgement", 2).score, null);
  assert.deepEqual(
    t.problems.map((p) => [p.line, p.message.split(":")[0]]),
    [
      [4, "not valid JSON"],
      [6, '"score" must be a number or null'],
    ],
  );
  assert.equal(t.atLine(5), 2);
  assert.equal(t.atLine(4), -1);
});

test("a line longer than the read buffer is indexed whole", async () => {
  const long = judgement(0, { text: "λ".repeat(3 * 1024 * 1024) });
  const { iterDir, promptsFile } = iteration({ judgements: line(judgement(1)) + line(long) + line(judgement(2)) });
  const idx = await IterationIndex.open(iterDir, promptsFile);
  assert.deepEqual(Array.from(idx.tables.judgement.textLength.subarray(0, idx.tables.judgement.n)), [
    charLength(judgement(1).text as string),
    3 * 1024 * 1024,
    charLength(judgement(2).text as string),
  ]);
});

// ---- appends ----------------------------------------------------------------------------------------

test("refresh indexes only appended bytes; a torn tail waits until its line is complete", async () => {
  const { iterDir, promptsFile } = iteration({ judgements: line(judgement(0)) + line(judgement(1)) });
  const file = path.join(iterDir, "judgements.jsonl");
  const idx = await IterationIndex.open(iterDir, promptsFile);
  const before = idx.scannedBytes;
  const offsets = Array.from(idx.tables.judgement.offset.subarray(0, 2));

  const next = line(judgement(2));
  fs.appendFileSync(file, next);
  assert.deepEqual(await idx.refresh(), { appended: ["judgement"], rebuilt: [] });
  assert.equal(idx.scannedBytes - before, Buffer.byteLength(next));
  assert.deepEqual(Array.from(idx.tables.judgement.offset.subarray(0, 2)), offsets);

  const torn = line(judgement(3));
  fs.appendFileSync(file, torn.slice(0, 25));
  assert.deepEqual(await idx.refresh(), { appended: [], rebuilt: [] });
  assert.equal(idx.tables.judgement.n, 3);
  fs.appendFileSync(file, torn.slice(25));
  assert.deepEqual(await idx.refresh(), { appended: ["judgement"], rebuilt: [] });
  assert.deepEqual(row(idx, "judgement", 3), { ...row(idx, "judgement", 3), id: "p0:r0:j3", line: 4 });

  // A whole record still lacking its newline is indexed, and the newline that follows is not a new line.
  fs.appendFileSync(file, JSON.stringify(judgement(4)));
  await idx.refresh();
  assert.equal(idx.tables.judgement.n, 5);
  fs.appendFileSync(file, "\n" + line(judgement(5)));
  await idx.refresh();
  assert.deepEqual(Array.from(idx.tables.judgement.line.subarray(0, 6)), [1, 2, 3, 4, 5, 6]);
  const text = fs.readFileSync(file);
  const t = idx.tables.judgement;
  assert.equal(JSON.parse(text.toString("utf8", t.offset[5]!, t.offset[5]! + t.bytes[5]!)).id, "p0:r0:j5");
});

test("a file that shrank or whose start changed is indexed again from scratch", async () => {
  const { iterDir, promptsFile } = iteration({ judgements: line(judgement(0)) + line(judgement(1)) });
  const file = path.join(iterDir, "judgements.jsonl");
  const idx = await IterationIndex.open(iterDir, promptsFile);
  fs.writeFileSync(file, line(judgement(7)));
  assert.deepEqual((await idx.refresh()).rebuilt, ["judgement"]);
  assert.equal(idx.tables.judgement.n, 1);
  assert.equal(row(idx, "judgement", 0).id, "p0:r0:j7");
  // Longer, but not an append: same size class, different first bytes.
  fs.writeFileSync(file, line(judgement(8)) + line(judgement(9)));
  assert.deepEqual((await idx.refresh()).rebuilt, ["judgement"]);
  assert.deepEqual([row(idx, "judgement", 0).id, row(idx, "judgement", 1).id], ["p0:r0:j8", "p0:r0:j9"]);
  fs.rmSync(file);
  assert.deepEqual((await idx.refresh()).rebuilt, ["judgement"]);
  assert.equal(idx.tables.judgement.n, 0);
});

// ---- the saved index -------------------------------------------------------------------------------

test("the saved index is reused: a second open reads no record bytes and sees the same tables", async () => {
  const { iterDir, promptsFile } = iteration({
    prompts: line({ id: 1, prompt: "  What   is\n2+2? " }) + line({ id: "p2", prompt: "x".repeat(400) }),
    responses: line({ id: "p0:r0", prompt_id: "p0", index: 0, text: "four", duplicate_of: "p0:r9" }),
    judgements: line(judgement(0)) + line(judgement(1, { parse_error: "e", score: null })),
    meta: line({
      id: "m",
      prompt_id: "p0",
      response_id: "p0:r0",
      first_id: "p0:r0:j0",
      second_id: "p0:r0:j1",
      text: "Winner: A",
      winner: "first",
    }),
  });
  const first = await IterationIndex.open(iterDir, promptsFile);
  assert.ok(first.scannedBytes > 0);
  assert.ok(fs.existsSync(indexFileFor(iterDir)));
  assert.equal(fs.readFileSync(path.join(path.dirname(indexFileFor(iterDir)), ".gitignore"), "utf8"), "*\n");
  const second = await IterationIndex.open(iterDir, promptsFile);
  assert.equal(second.scannedBytes, 0);
  for (const kind of ["prompt", "response", "judgement", "meta_judgement"] as const) {
    for (const c of first.tables[kind].columns) {
      assert.deepEqual(
        Array.from(second.tables[kind].column(c).subarray(0, second.tables[kind].n)),
        Array.from(first.tables[kind].column(c).subarray(0, first.tables[kind].n)),
        `${kind}.${c}`,
      );
    }
  }
  assert.deepEqual(second.tables.prompt.previews, ["What is 2+2?", `${"x".repeat(160)}…`]);
  assert.equal(second.pool.get(second.tables.prompt.id[0]!), "1");
  assert.equal(second.pool.get(second.tables.response.duplicateOf[0]!), "p0:r9");
  // An append after reopening extends the reused index.
  fs.appendFileSync(path.join(iterDir, "judgements.jsonl"), line(judgement(2)));
  const third = await IterationIndex.open(iterDir, promptsFile);
  assert.equal(third.scannedBytes, Buffer.byteLength(line(judgement(2))));
  assert.equal(third.tables.judgement.n, 3);
});

test("a saved index that is stale or corrupt is rebuilt silently, never trusted", async () => {
  const { iterDir, promptsFile } = iteration({ judgements: line(judgement(0)) + line(judgement(1)) });
  const file = path.join(iterDir, "judgements.jsonl");
  await IterationIndex.open(iterDir, promptsFile);

  // Replaced by a file of the same size whose records differ.
  fs.writeFileSync(file, line(judgement(0, { text: "Judgement 0 e 🙂\nScore: 0" })) + line(judgement(1)));
  const stale = await IterationIndex.open(iterDir, promptsFile);
  assert.ok(stale.scannedBytes > 0);
  assert.equal(stale.tables.judgement.textLength[0], charLength("Judgement 0 e 🙂\nScore: 0"));

  // One flipped byte anywhere in the saved index.
  const cache = indexFileFor(iterDir);
  const bytes = fs.readFileSync(cache);
  for (const at of [3, 60, bytes.length - 5]) {
    const bad = Buffer.from(bytes);
    bad[at]! ^= 0x10;
    fs.writeFileSync(cache, bad);
    const again = await IterationIndex.open(iterDir, promptsFile);
    assert.ok(again.scannedBytes > 0, `flip at ${at} went unnoticed`);
    assert.equal(again.tables.judgement.n, 2);
  }
  fs.writeFileSync(cache, bytes.subarray(0, 100));
  assert.ok((await IterationIndex.open(iterDir, promptsFile)).scannedBytes > 0);
});

test("indexing reports progress and stops when cancelled", async () => {
  let text = "";
  for (let i = 0; i < 4000; i++) text += line(judgement(i, { text: "t".repeat(2000) }));
  const { iterDir, promptsFile } = iteration({ judgements: text });
  const seen: { file: string; bytes: number; total: number }[] = [];
  await IterationIndex.open(iterDir, promptsFile, { onProgress: (p) => seen.push(p) });
  const last = seen.at(-1)!;
  assert.equal(path.basename(last.file), "judgements.jsonl");
  assert.equal(last.bytes, last.total);
  assert.ok(seen.length > 1, "more than one chunk");
  fs.rmSync(indexFileFor(iterDir));

  const ac = new AbortController();
  await assert.rejects(
    IterationIndex.open(iterDir, promptsFile, { signal: ac.signal, onProgress: () => ac.abort() }),
    (e: unknown) => e instanceof MetajudgeError && e.reason === "cancelled",
  );
});
