// Reading verdicts out of model output: the judge's score and the meta-judge's winner, from free
// text ("text" mode, below) or from the JSON a schema asked for ("json_schema" mode, at the end).
// Both run once per generation (about a million calls per iteration), so the patterns are compiled
// once and built so that every quantifier is followed by something it cannot consume: the engine
// never has two ways to split the same characters, hence no catastrophic backtracking.
//
// Shared rule: the LAST well-formed verdict counts, because models restate the format or reason
// aloud before concluding. Text that only echoes the format ("Score: <total points>",
// "Winner: [Judgement A | Judgement B]") is not a verdict and is skipped, so an earlier real one
// can still be the last.

import type { VerdictMode } from "./schema.js";

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

export function parseScore(text: string, mode: VerdictMode = "text"): ScoreResult {
  if (mode === "json_schema") return parseJsonScore(text);
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

export function parseWinner(text: string, mode: VerdictMode = "text"): WinnerResult {
  if (mode === "json_schema") return parseJsonWinner(text);
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
  return {
    winner: null,
    error: hasLabel(text) ? "'Winner:' not followed by a single Judgement A or B" : "no 'Winner: Judgement A|B' found",
  };
}

const WINNER_LABEL_RE = new RegExp(label("winner"), "i");

function hasLabel(text: string): boolean {
  return WINNER_LABEL_RE.test(text);
}

// ---- json_schema mode ----------------------------------------------------------------------------
//
// The request carries a JSON Schema (jsonVerdictFormat) and the answer is read against that same
// schema, so the keys live here, once. The mode is a promise the user asked for: an answer that
// breaks it is no verdict, even when its text happens to hold a readable "Score: X".

export type VerdictKey = "score" | "winner";

/** The `response_format` of a json_schema request: OpenAI's chat-completions shape, which vLLM, SGLang and llama.cpp server accept too. */
export function jsonVerdictFormat(key: VerdictKey, reasonMaxLength: number | null): Record<string, unknown> {
  const reason: Record<string, unknown> = { type: "string" };
  if (reasonMaxLength !== null) reason.maxLength = reasonMaxLength;
  // The reason comes first so the model justifies before it commits, as the rubrics ask in text mode.
  const verdict = key === "score" ? { type: "number", minimum: SCORE_MIN, maximum: SCORE_MAX } : { type: "string", enum: ["A", "B"] };
  return {
    type: "json_schema",
    json_schema: {
      name: key === "score" ? "judgement" : "meta_judgement",
      strict: true,
      schema: { type: "object", properties: { reason, [key]: verdict }, required: ["reason", key], additionalProperties: false },
    },
  };
}

interface JsonVerdict {
  value?: unknown;
  error?: string;
  span?: [number, number];
}

function readJsonVerdict(text: string, key: VerdictKey): JsonVerdict {
  const body = jsonBody(text);
  if (body.start === body.end) return { error: "empty answer, expected a JSON object" };
  let obj: unknown;
  try {
    obj = JSON.parse(text.slice(body.start, body.end));
  } catch {
    const why = unclosed(text, body.start, body.end) ? "the answer ends before its JSON is complete" : "the answer is not valid JSON";
    const echo = key === "score" ? parseScore(text).score !== null : parseWinner(text).winner !== null;
    const label = key === "score" ? "Score: X" : "Winner: Judgement A|B";
    return { error: echo ? `${why}; its "${label}" is not read in json_schema mode` : why };
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    return { error: `the answer is ${jsonType(obj)}, expected a JSON object` };
  }
  const rec = obj as Record<string, unknown>;
  if (!(key in rec)) return { error: `no "${key}" in the JSON answer` };
  const span = memberSpan(text, body.start, body.end, key);
  const out: JsonVerdict = { value: rec[key] };
  if (span) out.span = span;
  if (typeof rec.reason !== "string") out.error = `"reason" is ${"reason" in rec ? jsonType(rec.reason) : "missing"}, expected a string`;
  const extra = Object.keys(rec).find((k) => k !== key && k !== "reason");
  if (!out.error && extra !== undefined) out.error = `unexpected key ${JSON.stringify(extra)} in the JSON answer`;
  return out;
}

function parseJsonScore(text: string): ScoreResult {
  const v = readJsonVerdict(text, "score");
  const withSpan = (r: ScoreResult): ScoreResult => (v.span ? { ...r, span: v.span } : r);
  if (!("value" in v)) return { score: null, error: v.error ?? "no score" };
  if (typeof v.value !== "number") return withSpan({ score: null, error: `"score" is ${jsonType(v.value)}, expected a number` });
  if (!(v.value >= SCORE_MIN && v.value <= SCORE_MAX))
    return withSpan({ score: null, error: `score ${v.value} is outside ${SCORE_MIN}..${SCORE_MAX}` });
  if (v.error) return withSpan({ score: null, error: v.error });
  return withSpan({ score: v.value === 0 ? 0 : v.value });
}

function parseJsonWinner(text: string): WinnerResult {
  const v = readJsonVerdict(text, "winner");
  const withSpan = (r: WinnerResult): WinnerResult => (v.span ? { ...r, span: v.span } : r);
  if (!("value" in v)) return { winner: null, error: v.error ?? "no winner" };
  if (v.value !== "A" && v.value !== "B") {
    const got = typeof v.value === "string" ? JSON.stringify(v.value) : jsonType(v.value);
    return { winner: null, error: `"winner" is ${got}, expected "A" or "B"` };
  }
  if (v.error) return { winner: null, error: v.error };
  return withSpan({ winner: v.value });
}

function jsonType(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** [start, end) of the JSON in an answer: blanks around it and one ``` or ```json fence are tolerated, as servers without constrained decoding add them. */
function jsonBody(text: string): { start: number; end: number } {
  let start = 0;
  let end = text.length;
  while (start < end && isBlank(text.charCodeAt(start))) start++;
  while (end > start && isBlank(text.charCodeAt(end - 1))) end--;
  if (text.startsWith("```", start)) {
    const nl = text.indexOf("\n", start);
    const info = nl < 0 ? "" : text.slice(start + 3, nl).trim();
    if (nl >= 0 && (info === "" || info.toLowerCase() === "json") && end - nl > 3 && text.startsWith("```", end - 3)) {
      start = nl + 1;
      end -= 3;
      while (start < end && isBlank(text.charCodeAt(start))) start++;
      while (end > start && isBlank(text.charCodeAt(end - 1))) end--;
    }
  }
  return { start, end };
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** True when JSON that starts as an object or array ends inside a string or before its last bracket closes: cut short, not malformed. */
function unclosed(text: string, start: number, end: number): boolean {
  if (text[start] !== "{" && text[start] !== "[") return false;
  let depth = 0;
  for (let i = start; i < end; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < end && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (j >= end) return true;
      i = j;
    } else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
  }
  return depth > 0;
}

/**
 * [start, end) of the top-level member `"key": value` in valid JSON text, for highlighting; the last
 * one when a key repeats, as JSON.parse keeps the last. Strings are skipped whole, so a key quoted
 * inside the reason is never taken for the member.
 */
function memberSpan(text: string, start: number, end: number, key: string): [number, number] | undefined {
  let depth = 0;
  let expectKey = false;
  let name: string | null = null;
  let keyStart = -1;
  let valueStart = -1;
  let found: [number, number] | undefined;
  const close = (at: number): void => {
    if (name === key && valueStart >= 0) {
      let e = at;
      while (e > valueStart && isBlank(text.charCodeAt(e - 1))) e--;
      found = [keyStart, e];
    }
    name = null;
    valueStart = -1;
  };
  for (let i = start; i < end; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < end && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) {
        name = JSON.parse(text.slice(i, j + 1)) as string;
        keyStart = i;
        expectKey = false;
      }
      i = j;
    } else if (c === "{" || c === "[") {
      depth++;
      if (depth === 1) expectKey = c === "{";
    } else if (c === "}" || c === "]") {
      if (depth === 1) close(i);
      depth--;
    } else if (depth === 1 && c === ":") valueStart = i + 1;
    else if (depth === 1 && c === ",") {
      close(i);
      expectKey = true;
    }
  }
  return found;
}
