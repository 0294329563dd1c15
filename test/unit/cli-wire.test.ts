// The guard on the CLI's --json lines: what the editor reads is checked, never cast.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseWireLine, readWireLine } from "../../src/shared/cli-wire.js";

test("declared lines parse, typed by their discriminant", () => {
  const p = parseWireLine(
    JSON.stringify({
      type: "progress",
      stage: "judge",
      done: 3,
      total: 10,
      inFlight: 2,
      promptTokens: 5,
      completionTokens: 7,
      elapsedMs: 100,
    }),
  );
  assert.equal(p?.type, "progress");
  const j = parseWireLine(
    JSON.stringify({ type: "job", job: { id: "it1-gen-a", state: "running", host: "gpu", kind: "train", extra: 1 } }),
  );
  assert.ok(j?.type === "job" && j.job.state === "running");
  assert.equal(parseWireLine(JSON.stringify({ type: "error", reason: "auth", message: "401" }))?.type, "error");
  assert.equal(
    parseWireLine(
      JSON.stringify({
        type: "launched",
        what: "training",
        iteration: 1,
        job: { id: "a", state: "succeeded", host: "h", kind: "train" },
        checkpoint: null,
      }),
    )?.type,
    "launched",
  );
});

test("an undeclared type, a missing or wrong field, or a non-object is refused with the reason", () => {
  assert.deepEqual(readWireLine("plain text"), { ok: false, reason: "not JSON" });
  assert.deepEqual(readWireLine("[1]"), { ok: false, reason: "not a JSON object" });
  assert.deepEqual(readWireLine('{"type":"surprise"}'), { ok: false, reason: 'unknown line type "surprise"' });
  assert.deepEqual(readWireLine('{"type":"constructor"}'), { ok: false, reason: 'unknown line type "constructor"' });
  assert.match((readWireLine('{"type":"stage-start","stage":"judge","total":4}') as { reason: string }).reason, /"done" is missing/);
  assert.match(
    (readWireLine('{"type":"stage-start","stage":"cooking","total":4,"done":0}') as { reason: string }).reason,
    /"stage" is wrong/,
  );
  assert.match((readWireLine('{"type":"error","reason":"oops","message":"x"}') as { reason: string }).reason, /"reason" is wrong/);
  assert.match(
    (readWireLine('{"type":"job","job":{"id":"a","state":"dancing","host":"h","kind":"k"}}') as { reason: string }).reason,
    /"job" is wrong/,
  );
  assert.match(
    (readWireLine('{"type":"launched","what":"lunch","iteration":1}') as { reason: string }).reason,
    /not generation or training/,
  );
});
