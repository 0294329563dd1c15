// Reading verdicts out of free-form model text: the judge's score and the meta-judge's winner.
// Both run once per generation (about a million calls per iteration), so the patterns are compiled
// once and built so that every quantifier is followed by something it cannot consume: the engine
// never has two ways to split the same characters, hence no catastrophic backtracking.
//
// Shared rule: the LAST well-formed verdict counts, because models restate the format or reason
// aloud before concluding. Text that only echoes the format ("Score: <total points>",
// "Winner: [Judgement A | Judgement B]") is not a verdict and is skipped, so an earlier real one
// can still be the last.

export interface ScoreResult {
  score: number | null;
  error?: string;
  /** [start, end) in UTF-16 units of the last "Score: X" read, valid or not, for highlighting. */
  span?: [number, number];
}

export interface WinnerResult {
  winner: "A" | "B" | null;
  error?: string;
  /** [start, end) in UTF-16 units of the verdict that counted. */
  span?: [number, number];
}

export const SCORE_MIN = 0;
export const SCORE_MAX = 5;

// Markdown emphasis and blanks may sit anywhere between the label and its value; one line break is
// allowed ("**Score:**\n4") but not a blank line, which would reach into a numbered list below.
const gap = (fill: string): string => String.raw`[${fill}]*(?:\r?\n[${fill}]*)?`;
const EMPHASIS = String.raw` \t*_`;
// A label must start a word ("Final score:" yes, "Subscore:" no) and may carry emphasis before its
// colon ("__Score__:"); the full-width colon comes from models answering in CJK contexts.
const label = (word: string): string => String.raw`(?<![a-z0-9])${word}[ \t*_]*[:\uFF1A]`;

// 1: the number (sign kept so "-1" is reported as out of range rather than read as 1).
// 2: an optional denominator after "/" or "out of"; 5 is the only one that keeps the score valid.
// 3: the upper end of a hedge such as "3-4", which is no single score.
const SCORE_RE = new RegExp(
  label("score") +
    gap(EMPHASIS) +
    String.raw`(-?\d+(?:\.\d+)?)` +
    String.raw`(?:[ \t*_]*(?:/|out\s+of)[ \t*_]*(\d+(?:\.\d+)?)|[ \t]*[-\u2013][ \t]*(\d+(?:\.\d+)?))?`,
  "gi",
);

export function parseScore(text: string): ScoreResult {
  SCORE_RE.lastIndex = 0;
  let last: RegExpExecArray | null = null;
  for (let m = SCORE_RE.exec(text); m !== null; m = SCORE_RE.exec(text)) last = m;
  if (last === null) return { score: null, error: "no 'Score: <number>' found" };

  const raw = last[1] ?? "";
  const value = Number(raw);
  const denominator = last[2];
  const span: [number, number] = [last.index, last.index + last[0].length];
  if (last[3] !== undefined) return { score: null, error: `score ${raw}-${last[3]} is a range, expected one number`, span };
  if (denominator !== undefined && Number(denominator) !== SCORE_MAX) {
    return { score: null, error: `score ${raw} is out of ${denominator}, expected out of ${SCORE_MAX}`, span };
  }
  if (!(value >= SCORE_MIN && value <= SCORE_MAX)) {
    return { score: null, error: `score ${raw} is outside ${SCORE_MIN}..${SCORE_MAX}`, span };
  }
  // "-0" would otherwise be stored as -0, which JSON prints as 0 but Object.is tells apart.
  return { score: value === 0 ? 0 : value, span };
}

// 1: the word Judgement/Judgment when present, 2: the letter.
// Opening brackets join the emphasis class ("[Judgement B]") rather than getting their own optional
// slot: two adjacent runs of the same class could split a long run of "*" in quadratically many ways.
// The letter must end the word ("Winner: Both ..." is not B), and a verdict immediately followed by
// a second one ("A | Judgement B", "A or B") is the format echo or a hedge, never a decision.
const WINNER_RE = new RegExp(
  label("winner") +
    gap(EMPHASIS + String.raw`\[(`) +
    String.raw`(?:(judge?ment)[ \t*_]*)?([ab])(?![a-z0-9])` +
    String.raw`(?![ \t*_\])]*(?:[|/&]|(?:or|and|vs\.?)[ \t]+(?:judge?ment[ \t]*)?[ab](?![a-z0-9])))`,
  "gi",
);

export function parseWinner(text: string): WinnerResult {
  WINNER_RE.lastIndex = 0;
  let winner: "A" | "B" | null = null;
  let span: [number, number] = [0, 0];
  for (let m = WINNER_RE.exec(text); m !== null; m = WINNER_RE.exec(text)) {
    const letter = m[2] ?? "";
    // A bare lower-case letter is an English article ("Winner: a close call"), not a verdict;
    // after the word Judgement any case is clearly a label.
    if (m[1] === undefined && letter !== "A" && letter !== "B") continue;
    winner = letter === "A" || letter === "a" ? "A" : "B";
    span = [m.index, m.index + m[0].length];
  }
  if (winner !== null) return { winner, span };
  return { winner: null, error: hasLabel(text) ? "'Winner:' not followed by a single Judgement A or B" : "no 'Winner: Judgement A|B' found" };
}

const WINNER_LABEL_RE = new RegExp(label("winner"), "i");

function hasLabel(text: string): boolean {
  return WINNER_LABEL_RE.test(text);
}
