// The inspector's view model: pure functions over InspectorData, free of the DOM so plain Node tests
// can pin them. Everything the page shows as a number or a derived fact is computed here.
import type {
  InspectorActorPair,
  InspectorBattle,
  InspectorBattles,
  InspectorData,
  InspectorResponse,
  TargetKind,
} from "../src/shared/view.js";

export const NO_VALUE = "—";

export type Mode = InspectorData["judgeMode"];

/**
 * The badge a judgement or battle gets for its mode: only when it differs from the page's, which the
 * head shows once, so an iteration whose mode changed midway shows which verdicts were read how.
 */
export function modeBadge(recordMode: Mode | undefined, pageMode: Mode | undefined): { text: string; title: string } | null {
  const mode = recordMode ?? "text";
  if (mode === (pageMode ?? "text")) return null;
  return mode === "json_schema"
    ? { text: "json_schema", title: "Read from the JSON answer a json_schema request asked for, unlike the rest of this page" }
    : { text: "text", title: "Read from free text (the last “Score:” / “Winner:”), unlike the rest of this page" };
}

/** Scores and Elo: at most `digits` decimals, trailing zeros dropped (4.5, 4.33, 5). */
export function fmtNum(n: number | null | undefined, digits = 2): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return NO_VALUE;
  const s = n.toFixed(digits);
  return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

/** Elo and weights: fixed decimals, so a column of them lines up. */
export function fmtFixed(n: number | null | undefined, digits = 2): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return NO_VALUE;
  return n.toFixed(digits).replace(/^-(?=0\.0*$)/, "");
}

/** Deterministic thousands separators, whatever the webview's locale. */
export function fmtCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

export interface TextParts {
  before: string;
  match: string;
  after: string;
}

/** Splits text around a [start, end) span; null when the span is absent or does not fit the text. */
export function splitAtSpan(text: string, span: readonly [number, number] | undefined): TextParts | null {
  if (!span) return null;
  const [start, end] = span;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > text.length || start >= end) return null;
  return { before: text.slice(0, start), match: text.slice(start, end), after: text.slice(end) };
}

// ---- the battle matrix --------------------------------------------------------------------------

export interface MatrixCell {
  battle: InspectorBattle;
  /** The two orders of this pair contradict each other. */
  inconsistent: boolean;
}

export interface BattleMatrix {
  /** Row i and column i are judgement ids[i]; rows are shown first, columns second. */
  ids: string[];
  cells: (MatrixCell | null)[][];
  /** Battles naming a judgement outside `ids` (a torn or foreign record): listed, never dropped silently. */
  stray: InspectorBattle[];
  inconsistentPairs: number;
}

const pairKey = (a: string, b: string): string => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);

export function buildMatrix(b: InspectorBattles): BattleMatrix {
  const ids = [...b.judgementIds];
  const pos = new Map(ids.map((id, i) => [id, i] as const));
  const inconsistent = new Set(b.inconsistent.map(([x, y]) => pairKey(x, y)));
  const cells: (MatrixCell | null)[][] = ids.map(() => ids.map(() => null));
  const stray: InspectorBattle[] = [];
  for (const battle of b.battles) {
    const r = pos.get(battle.firstId);
    const c = pos.get(battle.secondId);
    const row = r === undefined ? undefined : cells[r];
    if (row === undefined || c === undefined || r === c || row[c]) {
      stray.push(battle);
      continue;
    }
    row[c] = { battle, inconsistent: inconsistent.has(pairKey(battle.firstId, battle.secondId)) };
  }
  return { ids, cells, stray, inconsistentPairs: inconsistent.size };
}

export type Verdict = "first" | "second" | "none";
export const verdictOf = (battle: InspectorBattle): Verdict => battle.winner ?? "none";

export interface EloEntry {
  id: string;
  elo: number;
  role?: "chosen" | "rejected";
}

/** Highest Elo first; ties keep matrix order so the list is stable between renders. */
export function eloRanking(b: InspectorBattles): EloEntry[] {
  const order = new Map(b.judgementIds.map((id, i) => [id, i] as const));
  const rank = (id: string): number => order.get(id) ?? Number.MAX_SAFE_INTEGER;
  return Object.entries(b.elo)
    .filter(([, elo]) => Number.isFinite(elo))
    .sort(([a, ea], [c, ec]) => ec - ea || rank(a) - rank(c))
    .map(([id, elo]) => {
      const role = b.pair?.chosenId === id ? "chosen" : b.pair?.rejectedId === id ? "rejected" : undefined;
      return role ? { id, elo, role } : { id, elo };
    });
}

// ---- the actor pair -----------------------------------------------------------------------------

export interface TierBounds {
  upper: number;
  lower: number;
  /** "(1 − 0.3)·4.55 + 0.3·2.1 = 3.82" */
  upperFormula: string;
  lowerFormula: string;
}

export function tierBounds(p: InspectorActorPair): TierBounds | null {
  if (p.sMax === null || p.sMin === null) return null;
  const rho = p.rho;
  const upper = p.upper ?? (1 - rho) * p.sMax + rho * p.sMin;
  const lower = p.lower ?? (1 - rho) * p.sMin + rho * p.sMax;
  const formula = (a: number, b: number, v: number): string =>
    `(1 − ${fmtNum(rho, 3)})·${fmtNum(a)} + ${fmtNum(rho, 3)}·${fmtNum(b)} = ${fmtNum(v)}`;
  return { upper, lower, upperFormula: formula(p.sMax, p.sMin, upper), lowerFormula: formula(p.sMin, p.sMax, lower) };
}

/** Display rounding must not move a response across a bound it sits on. */
const EPS = 1e-9;

export interface TierCandidates {
  /** Scored responses with S ≥ upper, shortest first (chosen is the first). */
  high: InspectorResponse[];
  /** Scored responses with S ≤ lower, longest first (rejected is the first). */
  low: InspectorResponse[];
}

export function tierCandidates(responses: readonly InspectorResponse[], bounds: TierBounds): TierCandidates {
  // Duplicates and suspicious responses never enter pair selection.
  const scored = responses.filter((r) => r.meanScore !== null && r.duplicateOf === undefined && r.flag !== "suspicious");
  const high = scored.filter((r) => (r.meanScore as number) >= bounds.upper - EPS).sort((a, b) => a.length - b.length || a.index - b.index);
  const low = scored.filter((r) => (r.meanScore as number) <= bounds.lower + EPS).sort((a, b) => b.length - a.length || a.index - b.index);
  return { high, low };
}

// ---- keyboard navigation ------------------------------------------------------------------------

export type Area = "responses" | "battles";

export interface NavItem {
  id: string;
  kind: TargetKind;
  area: Area;
  col: number;
  row: number;
}

/** Reading order: each response followed by its judgements, column by column, then the battles row by row. */
export function navigationItems(data: InspectorData, matrix: BattleMatrix | null): NavItem[] {
  const out: NavItem[] = [];
  data.responses.forEach((r, col) => {
    out.push({ id: r.id, kind: "response", area: "responses", col, row: 0 });
    r.judgementList.forEach((j, i) => out.push({ id: j.id, kind: "judgement", area: "responses", col, row: i + 1 }));
  });
  matrix?.cells.forEach((cells, row) =>
    cells.forEach((cell, col) => {
      if (cell) out.push({ id: cell.battle.id, kind: "meta_judgement", area: "battles", col, row });
    }),
  );
  return out;
}

export type Move = "next" | "previous" | "left" | "right" | "up" | "down";

/**
 * The item a key moves to, or the current one when nothing lies that way. Across response columns
 * the nearest column wins and a shorter column clamps to its last judgement; every other move stays
 * on its row or column, stepping over gaps such as the matrix's empty diagonal.
 */
export function move(items: readonly NavItem[], currentId: string | undefined, m: Move): NavItem | undefined {
  const i = items.findIndex((x) => x.id === currentId);
  if (i < 0) return m === "previous" ? items[items.length - 1] : items[0];
  const cur = items[i]!;
  if (m === "next") return items[Math.min(items.length - 1, i + 1)];
  if (m === "previous") return items[Math.max(0, i - 1)];
  const horizontal = m === "left" || m === "right";
  const sign = m === "right" || m === "down" ? 1 : -1;
  const acrossColumns = cur.area === "responses" && horizontal;
  let best: NavItem | undefined;
  let bestKey: [number, number] | undefined;
  for (const it of items) {
    if (it.area !== cur.area) continue;
    const along = horizontal ? (it.col - cur.col) * sign : (it.row - cur.row) * sign;
    const across = Math.abs(horizontal ? it.row - cur.row : it.col - cur.col);
    if (along <= 0 || (!acrossColumns && across !== 0)) continue;
    const key: [number, number] = [along, across];
    if (!bestKey || key[0] < bestKey[0] || (key[0] === bestKey[0] && key[1] < bestKey[1])) {
      best = it;
      bestKey = key;
    }
  }
  return best ?? cur;
}

// ---- pairs out of date --------------------------------------------------------------------------

/**
 * A pair member flagged suspicious. Pair selection leaves flagged items out, so a flagged item that
 * still holds a role was flagged after the pairs were computed: the stored pair is out of date until
 * Recompute Pairs runs, and the page must say so rather than keep calling it chosen.
 */
export interface StaleMember {
  id: string;
  role: "chosen" | "rejected";
  pair: "actor" | "judge";
}

export function staleMembers(data: InspectorData): StaleMember[] {
  const out: StaleMember[] = [];
  for (const r of data.responses) {
    if (r.pairRole && r.flag === "suspicious") out.push({ id: r.id, role: r.pairRole, pair: "actor" });
    for (const j of r.judgementList) if (j.pairRole && j.flag === "suspicious") out.push({ id: j.id, role: j.pairRole, pair: "judge" });
  }
  // Judge pairs first, then actor pairs, each in page order: stable between repaints.
  return out.sort((a, b) => (a.pair === b.pair ? 0 : a.pair === "judge" ? -1 : 1));
}

export function staleNotice(members: readonly StaleMember[], label: (id: string) => string): string | null {
  if (members.length === 0) return null;
  const named = members.map((m) => `${label(m.id)} (${m.role}, ${m.pair} pair)`);
  const list = named.length === 1 ? named[0]! : `${named.slice(0, -1).join(", ")} and ${named.at(-1)!}`;
  const lead = members.length === 1 ? "Pairs not recomputed since this flag" : "Pairs not recomputed since these flags";
  const verb = members.length === 1 ? "is" : "are";
  return `${lead}: ${list} ${verb} flagged but still in the stored pairs. Run Metajudge: Recompute Pairs to select without ${members.length === 1 ? "it" : "them"}.`;
}
