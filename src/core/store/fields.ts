// The small fields of one record, as an index keeps them: strings as pool keys, numbers as numbers,
// and for each whether it was there and of the right type. Filled by the byte scanner (line-scan.ts)
// or, for lines it declines, from JSON.parse's value; both must agree exactly.
import { charLength } from "./records.js";
import type { StringPool } from "./string-pool.js";

/** A string field that was not in the record. */
export const ABSENT = -1;
/** A field present with the wrong JSON type. */
export const WRONG = -2;

/** The state of a field that may hold a value, null, nothing, or something of the wrong type. */
export const Nullable = { Absent: 0, Null: 1, Value: 2, Wrong: 3 } as const;
export type Nullable = (typeof Nullable)[keyof typeof Nullable];

/** The fields of one record, as pool keys and numbers; reused from line to line. */
export class Fields {
  id = ABSENT;
  prompt = ABSENT;
  response = ABSENT;
  first = ABSENT;
  second = ABSENT;
  duplicateOf = ABSENT;
  parseError = ABSENT;
  /** Non-negative integer, ABSENT or WRONG. */
  index = ABSENT;
  /** Code points of "text", ABSENT or WRONG. */
  textLength = ABSENT;
  score = NaN;
  scoreState: Nullable = Nullable.Absent;
  /** 1 first, 2 second, when winnerState is Value. */
  winner = 0;
  winnerState: Nullable = Nullable.Absent;

  reset(): void {
    this.id = this.prompt = this.response = this.first = this.second = this.duplicateOf = this.parseError = ABSENT;
    this.index = this.textLength = ABSENT;
    this.score = NaN;
    this.scoreState = Nullable.Absent;
    this.winner = 0;
    this.winnerState = Nullable.Absent;
  }
}

/** The same fields from a value JSON.parse produced: the slow path, and the reference for the fast one. */
export function fieldsFromValue(v: unknown, f: Fields, pool: StringPool): void {
  f.reset();
  if (typeof v !== "object" || v === null || Array.isArray(v)) return;
  const r = v as Record<string, unknown>;
  const str = (k: string): number => {
    if (!(k in r)) return ABSENT;
    const s = r[k];
    return typeof s === "string" ? pool.internString(s) : WRONG;
  };
  f.id = str("id");
  f.prompt = str("prompt_id");
  f.response = str("response_id");
  f.first = str("first_id");
  f.second = str("second_id");
  f.duplicateOf = str("duplicate_of");
  f.parseError = str("parse_error");
  if ("index" in r) f.index = typeof r.index === "number" && Number.isInteger(r.index) && r.index >= 0 ? r.index : WRONG;
  if ("text" in r) f.textLength = typeof r.text === "string" ? charLength(r.text) : WRONG;
  if ("score" in r) {
    if (r.score === null) f.scoreState = Nullable.Null;
    else if (typeof r.score === "number") {
      f.scoreState = Nullable.Value;
      f.score = r.score;
    } else f.scoreState = Nullable.Wrong;
  }
  if ("winner" in r) {
    if (r.winner === null) f.winnerState = Nullable.Null;
    else if (r.winner === "first" || r.winner === "second") {
      f.winnerState = Nullable.Value;
      f.winner = r.winner === "first" ? 1 : 2;
    } else f.winnerState = Nullable.Wrong;
  }
}
