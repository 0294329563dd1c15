// Typed readers for the three record files. They check the contract's required fields by hand (a
// schema library per line would cost more than the parse itself on a million records) and keep only
// what the caller asks for, so a paper-scale iteration fits in memory.
//
// A line repeating an id already read (a record appended twice by hand, a bad merge, two runs on one
// folder) changes nothing: the loaders keep the first record of an id, as `metajudge pairs` and the
// workbench do, and tell `onRepeat` about the others so a stage can say so.
import { MetajudgeError } from "../errors.js";
import { readJsonl } from "./jsonl.js";

const ASTRAL = /[\uD800-\uDBFF]/;

/** Length in Unicode code points (what Python's len() says), cheap for the common all-BMP text. */
export function charLength(text: string): number {
  if (!ASTRAL.test(text)) return text.length;
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function bad(file: string, line: number, what: string): never {
  throw new MetajudgeError("badInput", `${file}:${line}: ${what}; fix or remove that line (records are never rewritten by Metajudge)`, {
    file,
    line,
  });
}

function obj(value: unknown, file: string, line: number): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) bad(file, line, "not a JSON object");
  return value as Record<string, unknown>;
}

function str(r: Record<string, unknown>, k: string, file: string, line: number): string {
  const v = r[k];
  if (typeof v !== "string") bad(file, line, `"${k}" must be a string`);
  return v;
}

function int(r: Record<string, unknown>, k: string, file: string, line: number): number {
  const v = r[k];
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) bad(file, line, `"${k}" must be a non-negative integer`);
  return v;
}

export interface ResponseRow {
  id: string;
  prompt_id: string;
  index: number;
  length: number;
  text?: string;
}

/** Told of each line whose id an earlier line of the same file already holds (that line is skipped). */
export type OnRepeat = (id: string, line: number) => void;

export async function loadResponses(file: string, keepText: boolean, signal?: AbortSignal, onRepeat?: OnRepeat): Promise<ResponseRow[]> {
  const rows: ResponseRow[] = [];
  const seen = new Set<string>();
  await readJsonl(
    file,
    (v, line) => {
      const r = obj(v, file, line);
      const text = str(r, "text", file, line);
      const id = str(r, "id", file, line);
      if (seen.has(id)) {
        onRepeat?.(id, line);
        return;
      }
      seen.add(id);
      const row: ResponseRow = {
        id,
        prompt_id: str(r, "prompt_id", file, line),
        index: int(r, "index", file, line),
        length: charLength(text),
      };
      if (keepText) row.text = text;
      rows.push(row);
    },
    { signal },
  );
  return rows;
}

export interface JudgementRow {
  id: string;
  prompt_id: string;
  response_id: string;
  index: number;
  score: number | null;
  length: number;
  text?: string;
}

/** A judgement line as checked against the contract, text included. */
export interface JudgementLine {
  id: string;
  prompt_id: string;
  response_id: string;
  index: number;
  score: number | null;
  text: string;
}

/**
 * Streams the judgement file through `fn` without keeping rows: a paper-scale iteration has 385,000.
 * Every line comes through, repeats included (`line` says where): a caller keeps the first of an id
 * in whatever form is cheapest for it (pairs.ts keeps numbers, not strings).
 */
export async function forEachJudgement(file: string, fn: (j: JudgementLine, line: number) => void, signal?: AbortSignal): Promise<void> {
  await readJsonl(
    file,
    (v, line) => {
      const r = obj(v, file, line);
      const id = str(r, "id", file, line);
      const text = str(r, "text", file, line);
      const score = r.score;
      if (score !== null && typeof score !== "number") bad(file, line, `"score" must be a number or null`);
      fn(
        {
          id,
          prompt_id: str(r, "prompt_id", file, line),
          response_id: str(r, "response_id", file, line),
          index: int(r, "index", file, line),
          score,
          text,
        },
        line,
      );
    },
    { signal },
  );
}

/** `keepText` decides per record whether its text is kept (all, none, or the ids in a set). */
export async function loadJudgements(
  file: string,
  keepText: boolean | ReadonlySet<string>,
  signal?: AbortSignal,
  onRepeat?: OnRepeat,
): Promise<JudgementRow[]> {
  const rows: JudgementRow[] = [];
  const seen = new Set<string>();
  await forEachJudgement(
    file,
    (j, line) => {
      if (seen.has(j.id)) {
        onRepeat?.(j.id, line);
        return;
      }
      seen.add(j.id);
      const row: JudgementRow = {
        id: j.id,
        prompt_id: j.prompt_id,
        response_id: j.response_id,
        index: j.index,
        score: j.score,
        length: charLength(j.text),
      };
      if (keepText === true || (keepText !== false && keepText.has(j.id))) row.text = j.text;
      rows.push(row);
    },
    signal,
  );
  return rows;
}

export interface BattleRow {
  id: string;
  prompt_id: string;
  response_id: string;
  first_id: string;
  second_id: string;
  winner: "first" | "second" | null;
}

/** Streams the battle file through `fn`, repeats included, as forEachJudgement does. */
export async function forEachBattle(file: string, fn: (b: BattleRow, line: number) => void, signal?: AbortSignal): Promise<void> {
  await readJsonl(
    file,
    (v, line) => {
      const r = obj(v, file, line);
      const w = r.winner;
      if (w !== null && w !== "first" && w !== "second") bad(file, line, `"winner" must be "first", "second" or null`);
      str(r, "text", file, line);
      fn(
        {
          id: str(r, "id", file, line),
          prompt_id: str(r, "prompt_id", file, line),
          response_id: str(r, "response_id", file, line),
          first_id: str(r, "first_id", file, line),
          second_id: str(r, "second_id", file, line),
          winner: w,
        },
        line,
      );
    },
    { signal },
  );
}

export function groupBy<T, K>(items: Iterable<T>, key: (t: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}
