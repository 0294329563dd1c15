// The workbench reads an iteration whose record files repeat ids (a line appended twice, an edited
// copy): every view keeps the first record of an id, as `metajudge pairs` does.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { defaultConfig } from "../../src/core/experiment.js";
import { IterationModel } from "../../src/core/view/model.js";

const line = (r: unknown): string => JSON.stringify(r) + "\n";

test("views, inspector and line hints keep the first record of a repeated id", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mj-view-first-"));
  fs.writeFileSync(path.join(dir, "metajudge.json"), JSON.stringify(defaultConfig(), null, 2));
  fs.writeFileSync(path.join(dir, "prompts.jsonl"), line({ id: "p", prompt: "Question?" }));
  const iter = path.join(dir, "iterations", "1");
  fs.mkdirSync(iter, { recursive: true });
  const r = (i: number, text: string): object => ({ id: `p:r${i}`, prompt_id: "p", index: i, text });
  const j = (ri: number, k: number, score: number): object => ({
    id: `p:r${ri}:j${k}`,
    prompt_id: "p",
    response_id: `p:r${ri}`,
    index: k,
    text: `ok\nScore: ${score}`,
    score,
  });
  const b = (f: number, s: number, winner: "first" | "second"): object => ({
    id: `p:r0:m${f}-${s}`,
    prompt_id: "p",
    response_id: "p:r0",
    first_id: `p:r0:j${f}`,
    second_id: `p:r0:j${s}`,
    text: "Winner: Judgement A",
    winner,
  });
  fs.writeFileSync(
    path.join(iter, "responses.jsonl"),
    line(r(0, "short")) + line(r(1, "a bit longer")) + line(r(0, "an edited copy, far longer than the first")) + line(r(1, "a bit longer")),
  );
  fs.writeFileSync(
    path.join(iter, "judgements.jsonl"),
    line(j(0, 0, 1)) + line(j(0, 1, 5)) + line(j(1, 0, 3)) + line(j(0, 0, 4)) + line(j(0, 1, 5)),
  );
  fs.writeFileSync(path.join(iter, "meta_judgements.jsonl"), line(b(0, 1, "second")) + line(b(1, 0, "first")) + line(b(0, 1, "first")));

  const m = await IterationModel.open(dir, 1);
  try {
    const responses = m.responses("p");
    assert.deepEqual(
      responses.map((x) => [x.id, x.length]),
      [
        ["p:r0", 5],
        ["p:r1", 12],
      ],
    );
    assert.deepEqual(
      m.judgements("p:r0").map((x) => [x.id, x.score]),
      [
        ["p:r0:j0", 1],
        ["p:r0:j1", 5],
      ],
    );
    assert.equal(responses[0]!.meanScore, 3, "mean of the first records' scores");
    assert.deepEqual(
      m.battles("p:r0").map((x) => [x.id, x.winner]),
      [
        ["p:r0:m0-1", "second"],
        ["p:r0:m1-0", "first"],
      ],
    );
    const row = m.prompts({ offset: 0, limit: 10, sort: "id" }).rows[0]!;
    assert.equal(row.responses, 2);
    assert.equal(row.judgements, 3);
    assert.equal((await m.readRecord("p:r0"))?.text, "short");
    assert.equal(m.locate("p:r0")?.line, 1);
    const ins = await m.inspector("p");
    assert.deepEqual(
      ins.responses.map((x) => x.text),
      ["short", "a bit longer"],
    );
  } finally {
    m.dispose();
  }
});
