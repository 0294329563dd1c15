import { test } from "node:test";
import assert from "node:assert/strict";
import { parseScore, parseWinner } from "../../src/core/parse.js";

const JUSTIFICATION =
  "The response is relevant and addresses most of the user's question. It explains the main idea " +
  "clearly, though it omits an example that would have helped. It is written from an AI Assistant's " +
  "perspective and is well organized. ";

// [name, judge output, expected score, expected error fragment when the score is null]
const SCORES: [string, string, number | null, string?][] = [
  ["plain", "The answer is fine.\nScore: 4", 4],
  ["bold label with colon inside", "Solid answer.\n**Score:** 4", 4],
  ["bold label and value", "**Score: 3**", 3],
  ["bold value only", "Score: **4**", 4],
  ["underscore label", "__Score__: 4", 4],
  ["italic label, decimal", "*Score*: 3.5", 3.5],
  ["heading", "## Score: 2\n", 2],
  ["trailing /5", "Score: 4/5", 4],
  ["trailing / 5 with blanks and bold", "**Score: 4 / 5**", 4],
  ["bold value then /5", "Score: **5**/5", 5],
  ["out of 5", "Score: 3 out of 5", 3],
  ["out of 5 with period", "Score: 3 out of 5.", 3],
  ["last of several wins", "Score: 2\nOn reflection the response is better.\nScore: 4", 4],
  ["decimal 4.5", "Score: 4.5", 4.5],
  ["decimal 4.75", "Final Score: 4.75", 4.75],
  ["zero is valid", "Score: 0", 0],
  ["five is valid", "Score: 5", 5],
  ["above range", "Score: 6", null, "outside 0..5"],
  ["negative", "Score: -1", null, "outside 0..5"],
  ["out of 10", "Score: 8/10", null, "out of 10"],
  ["out of 10 in words", "Score: 8 out of 10", null, "out of 10"],
  ["last out of range beats an earlier valid one", "Score: 4\nScore: 7", null, "outside"],
  ["none", "The response is good but I will not grade it.", null, "no 'Score: <number>' found"],
  ["empty", "", null, "no 'Score: <number>' found"],
  ["only the format echo", "Conclude with the score using the format: “Score: <total points>”", null, "no 'Score: <number>' found"],
  ["format echo after a real score", "Score: 3\nI used the format “Score: <total points>” as asked.", 3],
  ["lowercase", "score: 2", 2],
  ["upper case", "SCORE: 1", 1],
  ["one line break after the colon", "**Score:**\n4", 4],
  ["a blank line is too far", "Score:\n\n1. The response is relevant.", null, "no 'Score: <number>' found"],
  ["text after the score", "Score: 4. The response could be more concise.", 4],
  ["text after the score, same line", "Score: 3 points, because it misses the second question.", 3],
  ["score inside a long justification", JUSTIFICATION.repeat(20) + "Score: 4\n" + JUSTIFICATION.repeat(5), 4],
  ["word must start at a boundary", "Subscore: 2", null, "no 'Score: <number>' found"],
  ["qualified label", "Total score: 3", 3],
  ["full-width colon", "Score：4", 4],
  ["no blank after colon", "Score:4", 4],
  ["range is a hedge", "Score: 3-4", null, "range"],
  ["dash after the score is prose", "Score: 4 - well written", 4],
  ["CRLF line ends", "Good.\r\n**Score:**\r\n4\r\n", 4],
];

for (const [name, text, score, error] of SCORES) {
  test(`parseScore: ${name}`, () => {
    const got = parseScore(text);
    assert.equal(got.score, score);
    if (score === null) {
      assert.ok(got.error, "a null score carries an error");
      if (error !== undefined)
        assert.ok(got.error.includes(error), `error ${JSON.stringify(got.error)} should mention ${JSON.stringify(error)}`);
    } else {
      assert.equal(got.error, undefined);
    }
  });
}

test("parseScore: zero is +0, not -0", () => {
  assert.ok(Object.is(parseScore("Score: -0").score, 0));
});

test("parseScore: errors are short human strings", () => {
  assert.equal(parseScore("Score: 6").error, "score 6 is outside 0..5");
  assert.equal(parseScore("Score: 8/10").error, "score 8 is out of 10, expected out of 5");
});

const WINNER_ECHO = "Conclude with a clear statement using the format: “Winner: [Judgement A | Judgement B]”";

// [name, meta-judge output, expected winner]
const WINNERS: [string, string, "A" | "B" | null][] = [
  ["plain Judgement", "Judgement A applies the rubric correctly.\nWinner: Judgement A", "A"],
  ["American spelling", "Winner: Judgment B", "B"],
  ["bare letter", "Winner: B", "B"],
  ["bold label, bracketed verdict", "**Winner:** [Judgment B]", "B"],
  ["bold verdict", "Winner: **Judgement A**", "A"],
  ["all bold", "**Winner: Judgement B**", "B"],
  ["brackets without emphasis", "Winner: [Judgement A]", "A"],
  ["parenthesised", "Winner: (B)", "B"],
  ["trailing period", "Winner: Judgement A.", "A"],
  ["last of several wins", "At first, Winner: Judgement A.\nBut on reflection:\nWinner: Judgement B", "B"],
  ["the format echo alone is no verdict", WINNER_ECHO, null],
  ["echo after a verdict leaves the verdict", "Winner: Judgement B\n\n(" + WINNER_ECHO + ")", "B"],
  ["echo with American spelling", "Winner: [Judgment A | Judgment B]", null],
  ["hedge with or", "Winner: Judgement A or Judgement B", null],
  ["lowercase after the word", "winner: judgement a", "A"],
  ["lowercase label, upper letter", "winner: B", "B"],
  ["lowercase bare letter is an article", "Winner: a close call, neither is clearly better.", null],
  ["Both is not B", "Winner: Both judgements are equally accurate.", null],
  ["unknown letter", "Winner: Judgement C", null],
  ["none", "Both judgements are reasonable.", null],
  ["one line break after the colon", "**Winner:**\nJudgement A", "A"],
  ["verdict followed by reasoning", "Winner: Judgement B, because it notices the missing example.", "B"],
  ["full-width colon", "Winner：Judgement A", "A"],
];

for (const [name, text, winner] of WINNERS) {
  test(`parseWinner: ${name}`, () => {
    const got = parseWinner(text);
    assert.equal(got.winner, winner);
    if (winner === null) assert.ok(got.error, "no verdict carries an error");
    else assert.equal(got.error, undefined);
  });
}

test("parseWinner: the error tells a missing label from an unusable one", () => {
  assert.equal(parseWinner("no verdict here").error, "no 'Winner: Judgement A|B' found");
  assert.equal(parseWinner(WINNER_ECHO).error, "'Winner:' not followed by a single Judgement A or B");
});

test("parsers stay linear on degenerate output", () => {
  const junk = ["Score:" + " *".repeat(50_000), "Winner:" + "*".repeat(100_000), "score ".repeat(50_000), "Winner: [".repeat(20_000)];
  const started = process.hrtime.bigint();
  for (const text of junk) {
    parseScore(text);
    parseWinner(text);
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(ms < 1000, `took ${ms} ms`);
});
