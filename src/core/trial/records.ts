// Real records to fill a template with, read from an experiment's files. Reads stop as soon as they
// have what they need: a paper-scale judgements.jsonl is hundreds of megabytes, and the first lines
// are as real as any.
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import { resolveIn } from "../config.js";
import { listIterations } from "../experiment.js";
import { FILES, type Config } from "../schema.js";
import { iterationDir } from "../store/iteration.js";
import type { BattleRow } from "../store/records.js";

type Row = Record<string, unknown>;

/**
 * Calls `visit` with each JSON object of a JSONL file, in order, until it returns true. A missing
 * file reads as empty; a line that does not parse (a torn last write) is skipped.
 */
export async function scanJsonl(file: string, visit: (row: Row) => boolean | void): Promise<void> {
  let stream: fs.ReadStream;
  try {
    await fs.promises.access(file);
    stream = fs.createReadStream(file, { encoding: "utf8" });
  } catch {
    return;
  }
  const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line.trim() === "") continue;
      let value: unknown;
      try {
        value = JSON.parse(line.charCodeAt(0) === 0xfeff ? line.slice(1) : line); // a BOM a person's editor saved
      } catch {
        continue;
      }
      if (typeof value === "object" && value !== null && !Array.isArray(value) && visit(value as Row) === true) return;
    }
  } finally {
    lines.close();
    stream.destroy();
  }
}

const text = (row: Row, key: string): string | undefined => (typeof row[key] === "string" ? (row[key] as string) : undefined);

export interface Experiment {
  dir: string;
  config: Config;
}

export function recordFile(exp: Experiment, t: number, key: keyof typeof FILES): string {
  return path.join(iterationDir(exp.dir, t), FILES[key]);
}

/** Iterations on disk, newest first. */
export function iterationsNewestFirst(exp: Experiment): number[] {
  return listIterations(exp.dir).reverse();
}

export interface PromptRow {
  id: string;
  prompt: string;
}

/** The first prompt of the prompt set, or the prompts with the given ids (integer ids read as strings, as the core does). */
export async function readPrompts(exp: Experiment, ids?: ReadonlySet<string>): Promise<Map<string, PromptRow>> {
  const out = new Map<string, PromptRow>();
  await scanJsonl(resolveIn(exp.dir, exp.config.prompts), (row) => {
    const id = typeof row.id === "number" && Number.isInteger(row.id) ? String(row.id) : text(row, "id");
    const prompt = text(row, "prompt");
    if (id === undefined || prompt === undefined || (ids !== undefined && !ids.has(id))) return false;
    out.set(id, { id, prompt });
    return ids === undefined || out.size === ids.size;
  });
  return out;
}

export interface ResponseRow {
  id: string;
  prompt_id: string;
  text: string;
}

export interface JudgementRow {
  id: string;
  response_id: string;
  index: number;
  text: string;
  score: number | null;
}

export type { BattleRow };

function asResponse(row: Row): ResponseRow | undefined {
  const [id, prompt_id, t] = [text(row, "id"), text(row, "prompt_id"), text(row, "text")];
  // A response marked as the duplicate of another is never judged: it is no sample of the judge's work.
  if (id === undefined || prompt_id === undefined || t === undefined || row.duplicate_of !== undefined) return undefined;
  return { id, prompt_id, text: t };
}

function asJudgement(row: Row): JudgementRow | undefined {
  const [id, response_id, t] = [text(row, "id"), text(row, "response_id"), text(row, "text")];
  if (id === undefined || response_id === undefined || t === undefined) return undefined;
  const score = typeof row.score === "number" ? row.score : null;
  return { id, response_id, index: typeof row.index === "number" ? row.index : 0, text: t, score };
}

function asBattle(row: Row): BattleRow | undefined {
  const [id, prompt_id, response_id, first_id, second_id] = ["id", "prompt_id", "response_id", "first_id", "second_id"].map((k) =>
    text(row, k),
  );
  if (id === undefined || prompt_id === undefined || response_id === undefined || first_id === undefined || second_id === undefined)
    return undefined;
  const winner = row.winner === "first" || row.winner === "second" ? row.winner : null;
  return { id, prompt_id, response_id, first_id, second_id, winner };
}

/** The first responses on disk, at most one per prompt so a sample spans several prompts. */
export async function firstResponses(file: string, count: number): Promise<ResponseRow[]> {
  const out: ResponseRow[] = [];
  const prompts = new Set<string>();
  await scanJsonl(file, (row) => {
    const r = asResponse(row);
    if (r === undefined || prompts.has(r.prompt_id)) return false;
    prompts.add(r.prompt_id);
    out.push(r);
    return out.length >= count;
  });
  return out;
}

export async function responsesById(file: string, ids: ReadonlySet<string>): Promise<Map<string, ResponseRow>> {
  const out = new Map<string, ResponseRow>();
  if (ids.size === 0) return out;
  await scanJsonl(file, (row) => {
    const id = text(row, "id");
    const t = text(row, "text");
    const prompt_id = text(row, "prompt_id");
    if (id === undefined || t === undefined || prompt_id === undefined || !ids.has(id)) return false;
    out.set(id, { id, prompt_id, text: t });
    return out.size === ids.size;
  });
  return out;
}

/** Judgements of the given responses; stops once each has `perResponse` of them. */
export async function judgementsOf(
  file: string,
  responseIds: ReadonlySet<string>,
  perResponse: number,
): Promise<Map<string, JudgementRow[]>> {
  const out = new Map<string, JudgementRow[]>();
  let complete = 0;
  await scanJsonl(file, (row) => {
    const j = asJudgement(row);
    if (j === undefined || !responseIds.has(j.response_id)) return false;
    const list = out.get(j.response_id) ?? [];
    if (list.some((k) => k.id === j.id)) return false; // a resumed run may have written it twice
    list.push(j);
    out.set(j.response_id, list);
    if (list.length === perResponse) complete++;
    return complete === responseIds.size;
  });
  return out;
}

export async function judgementsById(file: string, ids: ReadonlySet<string>): Promise<Map<string, JudgementRow>> {
  const out = new Map<string, JudgementRow>();
  if (ids.size === 0) return out;
  await scanJsonl(file, (row) => {
    const j = asJudgement(row);
    if (j === undefined || !ids.has(j.id)) return false;
    out.set(j.id, j);
    return out.size === ids.size;
  });
  return out;
}

/** The first responses that have judgements on disk, one per prompt, in the order they were judged. */
export async function firstJudgedResponses(file: string, count: number): Promise<string[]> {
  const out: string[] = [];
  const prompts = new Set<string>();
  await scanJsonl(file, (row) => {
    const rid = text(row, "response_id");
    const pid = text(row, "prompt_id");
    if (rid === undefined || pid === undefined || prompts.has(pid)) return false;
    prompts.add(pid);
    out.push(rid);
    return out.length >= count;
  });
  return out;
}

/** Two judgements of one response: the first response on disk that has two. */
export async function firstJudgementPair(file: string): Promise<[JudgementRow, JudgementRow] | undefined> {
  const seen = new Map<string, JudgementRow>();
  let pair: [JudgementRow, JudgementRow] | undefined;
  await scanJsonl(file, (row) => {
    const j = asJudgement(row);
    if (j === undefined) return false;
    const other = seen.get(j.response_id);
    if (other === undefined) {
      seen.set(j.response_id, j);
      return false;
    }
    if (other.id === j.id) return false;
    pair = [other, j];
    return true;
  });
  return pair;
}

/** The first battles on disk, one per response while there are enough responses, so a sample spans several. */
export async function firstBattles(file: string, count: number): Promise<BattleRow[]> {
  const spread: BattleRow[] = [];
  const rest: BattleRow[] = [];
  const ids = new Set<string>();
  const responses = new Set<string>();
  await scanJsonl(file, (row) => {
    const b = asBattle(row);
    if (b === undefined || ids.has(b.id)) return false;
    ids.add(b.id);
    if (responses.has(b.response_id)) {
      if (rest.length < count) rest.push(b);
      return false;
    }
    responses.add(b.response_id);
    spread.push(b);
    return spread.length >= count;
  });
  return [...spread, ...rest].slice(0, count);
}
