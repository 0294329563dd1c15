// One record file as columns: a typed array per small field, one slot per record in file order. A
// table never holds texts, only where each line is, so a million records cost tens of megabytes and
// nothing for the garbage collector to walk.
import { ABSENT, Nullable, type Fields } from "./fields.js";

export type IndexedKind = "prompt" | "response" | "judgement" | "meta_judgement";
export const INDEXED_KINDS: readonly IndexedKind[] = ["prompt", "response", "judgement", "meta_judgement"];

type Column = Float64Array | Uint32Array | Int32Array | Int8Array;
type ColumnType = "f64" | "u32" | "i32" | "i8";

const TYPES = {
  offset: "f64",
  bytes: "u32",
  line: "u32",
  id: "i32",
  prompt: "i32",
  response: "i32",
  index: "i32",
  textLength: "i32",
  score: "f64",
  first: "i32",
  second: "i32",
  winner: "i8",
  duplicateOf: "i32",
  parseError: "i32",
} as const satisfies Record<string, ColumnType>;
export type ColumnName = keyof typeof TYPES;

const BASE: ColumnName[] = ["offset", "bytes", "line", "id"];
/** The columns each kind keeps; the rest stay empty. */
export const COLUMNS: Record<IndexedKind, readonly ColumnName[]> = {
  prompt: BASE,
  response: [...BASE, "prompt", "index", "textLength", "duplicateOf"],
  judgement: [...BASE, "prompt", "response", "index", "textLength", "score", "parseError"],
  meta_judgement: [...BASE, "prompt", "response", "first", "second", "winner", "parseError"],
};

export function columnType(name: ColumnName): ColumnType {
  return TYPES[name];
}

function allocate(type: ColumnType, n: number): Column {
  switch (type) {
    case "f64":
      return new Float64Array(n);
    case "u32":
      return new Uint32Array(n);
    case "i32":
      return new Int32Array(n);
    case "i8":
      return new Int8Array(n);
  }
}

/** Winner codes in the `winner` column. */
export const WINNER_NULL = 0;
export const WINNER_FIRST = 1;
export const WINNER_SECOND = 2;

export interface TableProblem {
  line: number;
  message: string;
}

/** Problems kept per file: enough to show what is wrong, bounded however broken the file is. */
const MAX_PROBLEMS = 100;

export class RecordTable {
  n = 0;
  offset = new Float64Array(0);
  bytes = new Uint32Array(0);
  line = new Uint32Array(0);
  id = new Int32Array(0);
  prompt = new Int32Array(0);
  response = new Int32Array(0);
  index = new Int32Array(0);
  textLength = new Int32Array(0);
  /** NaN for a null score. */
  score = new Float64Array(0);
  first = new Int32Array(0);
  second = new Int32Array(0);
  winner = new Int8Array(0);
  /** Pool keys, or -1. */
  duplicateOf = new Int32Array(0);
  parseError = new Int32Array(0);
  /** Prompt tables only: the first characters of each prompt, on one line. */
  previews: string[] = [];
  problems: TableProblem[] = [];
  problemCount = 0;

  constructor(readonly kind: IndexedKind) {}

  get columns(): readonly ColumnName[] {
    return COLUMNS[this.kind];
  }

  column(name: ColumnName): Column {
    return this[name];
  }

  setColumn(name: ColumnName, data: Column): void {
    (this as unknown as Record<ColumnName, Column>)[name] = data;
  }

  problem(line: number, message: string): void {
    this.problemCount++;
    if (this.problems.length < MAX_PROBLEMS) this.problems.push({ line, message });
  }

  /** Adds the record described by `f`, or notes why the line is not one (the contract's checks, as the loaders make them). */
  add(f: Fields, offset: number, bytes: number, line: number): void {
    const why = this.check(f);
    if (why !== null) {
      this.problem(line, why);
      return;
    }
    const r = this.slot(offset, bytes, line, f.id);
    switch (this.kind) {
      case "response":
        this.prompt[r] = f.prompt;
        this.index[r] = f.index;
        this.textLength[r] = f.textLength;
        this.duplicateOf[r] = f.duplicateOf >= 0 ? f.duplicateOf : -1;
        break;
      case "judgement":
        this.prompt[r] = f.prompt;
        this.response[r] = f.response;
        this.index[r] = f.index;
        this.textLength[r] = f.textLength;
        this.score[r] = f.scoreState === Nullable.Value ? f.score : NaN;
        this.parseError[r] = f.parseError >= 0 ? f.parseError : -1;
        break;
      case "meta_judgement":
        this.prompt[r] = f.prompt;
        this.response[r] = f.response;
        this.first[r] = f.first;
        this.second[r] = f.second;
        this.winner[r] = f.winnerState === Nullable.Value ? f.winner : WINNER_NULL;
        this.parseError[r] = f.parseError >= 0 ? f.parseError : -1;
        break;
      case "prompt":
        break;
    }
  }

  addPrompt(id: number, preview: string, offset: number, bytes: number, line: number): void {
    this.slot(offset, bytes, line, id);
    this.previews.push(preview);
  }

  /** The record on a 1-based line, or -1. */
  atLine(line: number): number {
    let lo = 0;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const l = this.line[mid]!;
      if (l === line) return mid;
      if (l < line) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** First record on or after a 1-based line. */
  firstAtOrAfter(line: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.line[mid]! < line) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private slot(offset: number, bytes: number, line: number, id: number): number {
    if (this.n === this.offset.length) this.grow(Math.max(1024, Math.ceil(this.n * 1.5)));
    const r = this.n++;
    this.offset[r] = offset;
    this.bytes[r] = bytes;
    this.line[r] = line;
    this.id[r] = id;
    return r;
  }

  /** Reallocates every column to `capacity` slots (never fewer than `n`). */
  grow(capacity: number): void {
    for (const name of this.columns) {
      const old = this[name];
      const next = allocate(TYPES[name], Math.max(capacity, this.n));
      next.set(old.subarray(0, this.n) as never);
      this.setColumn(name, next);
    }
  }

  private check(f: Fields): string | null {
    const common = need(f.id, "id") ?? (this.kind === "prompt" ? null : need(f.prompt, "prompt_id")) ?? need(f.textLength, "text");
    if (common !== null) return common;
    switch (this.kind) {
      case "response":
        return f.index < 0 ? `"index" must be a non-negative integer` : null;
      case "judgement":
        return (
          need(f.response, "response_id") ??
          (f.index < 0 ? `"index" must be a non-negative integer` : null) ??
          (f.scoreState === Nullable.Null || f.scoreState === Nullable.Value ? null : `"score" must be a number or null`)
        );
      case "meta_judgement":
        return (
          need(f.response, "response_id") ??
          need(f.first, "first_id") ??
          need(f.second, "second_id") ??
          (f.winnerState === Nullable.Null || f.winnerState === Nullable.Value ? null : `"winner" must be "first", "second" or null`)
        );
      case "prompt":
        return null;
    }
  }
}

/** A string field (or the text's length) that is missing or of another type. */
function need(k: number, name: string): string | null {
  return k >= 0 ? null : k === ABSENT ? `"${name}" is missing` : `"${name}" must be a string`;
}
