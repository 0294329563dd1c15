// Record files seen line by line, for the editor: which record a line holds, and what the hints
// show beside it. Only the requested range is looked at, found by binary search on line numbers.
import { WINNER_FIRST, WINNER_NULL, type IndexedKind } from "../store/index.js";
import { judgePair, labelOf, type ViewData } from "./rows.js";
import type { LineInfo, TargetKind } from "./types.js";

function targetKind(v: ViewData, file: string): (IndexedKind & TargetKind) | null {
  const kind = v.index.kindOfFile(file);
  return kind === null || kind === "prompt" ? null : kind;
}

export function recordAtLine(v: ViewData, file: string, line: number): { id: string; kind: TargetKind } | null {
  const kind = targetKind(v, file);
  if (kind === null) return null;
  const t = v.tables[kind];
  const r = t.atLine(line);
  return r < 0 ? null : { id: v.index.pool.get(t.id[r]!), kind };
}

export function lineInfo(v: ViewData, file: string, fromLine: number, toLine: number): LineInfo[] {
  const kind = targetKind(v, file);
  if (kind === null) return [];
  const { pool } = v.index;
  const tables = v.tables;
  const t = tables[kind];
  const out: LineInfo[] = [];
  for (let r = t.firstAtOrAfter(fromLine); r < t.n && t.line[r]! <= toLine; r++) {
    const id = pool.get(t.id[r]!);
    const info: LineInfo = { line: t.line[r]!, id, kind };
    if (kind === "response") {
      // Repeats of an id take no part in anything; only the first line of an id carries its numbers.
      const first = v.graph.record("response", t.id[r]!);
      info.meanScore = first === r ? v.agg.mean(r) : null;
    } else if (kind === "judgement") {
      const s = t.score[r]!;
      info.score = Number.isNaN(s) ? null : s;
      const elo = judgePair(v, t.response[r]!)?.elo?.[id];
      if (elo !== undefined && v.graph.record("judgement", t.id[r]!) === r) info.elo = elo;
    } else {
      const w = t.winner[r]!;
      info.winner = w === WINNER_NULL ? null : w === WINNER_FIRST ? "first" : "second";
    }
    if (kind !== "response" && t.parseError[r]! >= 0) info.parseError = pool.get(t.parseError[r]!);
    const flag = labelOf(v, id);
    if (flag) info.flag = flag;
    out.push(info);
  }
  return out;
}
