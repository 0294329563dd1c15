// The CLI's guard on stdout and stderr, on plain writable streams: what passes, what is escaped,
// and what a write error (the reader gone) does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { EXIT_OUTPUT_CLOSED, guardTerminal, writeControl } from "../../src/cli/output.js";

function sink(): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  });
  return { stream: w as unknown as NodeJS.WriteStream, text: () => Buffer.concat(chunks).toString("utf8") };
}

test("strings and piped bytes are escaped; a character split across chunks arrives whole", () => {
  const out = sink();
  guardTerminal([out.stream], () => assert.fail("no exit"));
  out.stream.write("error: \x1b[31mred\u202e\n");
  const bytes = Buffer.from("log 🙂 \x1b]0;t\x07\n", "utf8");
  const cut = bytes.indexOf(0xf0) + 2; // inside the emoji's four bytes
  out.stream.write(bytes.subarray(0, cut));
  out.stream.write(bytes.subarray(cut));
  assert.equal(out.text(), "error: \\u001b[31mred\\u202e\nlog 🙂 \\u001b]0;t\\u0007\n");
});

test("the CLI's own cursor controls go through writeControl untouched", () => {
  const out = sink();
  guardTerminal([out.stream], () => assert.fail("no exit"));
  writeControl(out.stream, "\r\x1b[2Kbar");
  assert.equal(out.text(), "\r\x1b[2Kbar");
});

test("a write error ends an unclaimed command with 141; a claimed one is told through `closed` instead", () => {
  const exits: number[] = [];
  const a = sink();
  const unclaimed = guardTerminal([a.stream], (c) => exits.push(c));
  a.stream.emit("error", Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
  assert.deepEqual(exits, [EXIT_OUTPUT_CLOSED]);
  assert.equal(unclaimed.closed.aborted, true);

  const b = sink();
  const claimed = guardTerminal([b.stream], (c) => exits.push(c));
  const release = claimed.claim();
  b.stream.emit("error", Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
  assert.equal(claimed.closed.aborted, true);
  assert.deepEqual(exits, [EXIT_OUTPUT_CLOSED], "no exit while claimed");
  b.stream.write("dropped\n");
  assert.equal(b.text(), "", "nothing more is written to a closed output");
  release();
});
