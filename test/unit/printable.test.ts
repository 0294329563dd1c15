// Text a server, a host or a record wrote reaches a terminal only through printable(): escape
// sequences and bidi overrides are shown, never acted on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { printable } from "../../src/core/printable.js";

const cases: [string, string, string][] = [
  ["plain text and Unicode pass", "score 4.5 — naïve 日本語 🙂", "score 4.5 — naïve 日本語 🙂"],
  ["newline and tab are kept", "a\tb\nc", "a\tb\nc"],
  ["CRLF becomes LF", "a\r\nb", "a\nb"],
  ["a lone CR starts a new line instead of overwriting this one", "10%\r20%", "10%\n20%"],
  ["CSI colour", "\x1b[31mred\x1b[0m", "\\u001b[31mred\\u001b[0m"],
  ["OSC title ended by BEL", "\x1b]0;pwned\x07", "\\u001b]0;pwned\\u0007"],
  ["OSC 52 clipboard write", "\x1b]52;c;ZWNobyBoaQ==\x1b\\", "\\u001b]52;c;ZWNobyBoaQ==\\u001b\\"],
  ["C1 CSI", "\u009b2J", "\\u009b2J"],
  ["NUL, backspace, DEL", "a\x00b\x08c\x7f", "a\\u0000b\\u0008c\\u007f"],
  ["bidi override and isolates", "\u202eevil\u202c \u2066x\u2069", "\\u202eevil\\u202c \\u2066x\\u2069"],
];

for (const [name, input, expected] of cases) {
  test(`printable: ${name}`, () => assert.equal(printable(input), expected));
}

test("printable output holds no character a terminal acts on, and printing twice changes nothing", () => {
  let all = "";
  for (let c = 0; c < 0x250; c++) all += String.fromCharCode(c);
  all += "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069";
  const once = printable(all);
  assert.doesNotMatch(once, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
  assert.equal(printable(once), once);
});

test("inside a JSON string the escapes mean the same text", () => {
  const line = JSON.stringify({ message: "\x1b[31m\u009b\u202eend" });
  assert.deepEqual(JSON.parse(printable(line)), { message: "\x1b[31m\u009b\u202eend" });
  assert.doesNotMatch(printable(line), /[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/);
});
