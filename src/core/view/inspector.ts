// Everything about one prompt for the inspector: texts read by offset (a prompt's few hundred lines,
// never a file), the battle matrix with its Elo, contradicting verdict pairs, and both pair
// selections recomputed under the current annotations and settings.
import { MetajudgeError } from "../errors.js";
import type { VerdictMode } from "../schema.js";
import { parseScore, parseWinner } from "../parse.js";
import type { ActorPairResult, JudgePairResult } from "../select.js";
import type { IndexedKind } from "../store/index.js";
import {
  actorPair,
  battleRecords,
  battleRow,
  judgePair,
  judgeResponse,
  judgementRecords,
  judgementRow,
  responseRecords,
  responseRow,
  type ViewData,
} from "./rows.js";
import { readObjects, type Slice } from "./texts.js";
import type {
  InspectorActorPair,
  InspectorBattle,
  InspectorBattles,
  InspectorData,
  InspectorJudgement,
  InspectorResponse,
} from "./types.js";

export async function buildInspector(v: ViewData, experimentDir: string, iteration: number, promptId: string): Promise<InspectorData> {
  const { pool } = v.index;
  const tables = v.tables;
  const promptKey = pool.find(promptId);
  const promptRec = promptKey < 0 ? -1 : v.graph.record("prompt", promptKey);
  const responses = promptKey < 0 ? [] : responseRecords(v, promptKey);
  if (promptRec < 0 && responses.length === 0) {
    throw new MetajudgeError("badInput", `prompt ${JSON.stringify(promptId)} is neither in the prompt set nor in iteration ${iteration}`);
  }
  const judgementsOf = responses.map((r) => judgementRecords(v, tables.response.id[r]!));
  const battledKey = battledResponse(v, promptKey, responses);
  const battles = battledKey < 0 ? [] : battleRecords(v, battledKey);

  // Every text this prompt needs, in one pass per file, before any await can see the index change.
  const slice = (kind: IndexedKind, r: number): Slice => ({ offset: tables[kind].offset[r]!, bytes: tables[kind].bytes[r]! });
  const [promptObjs, responseObjs, judgementObjs, battleObjs] = await Promise.all([
    readObjects(v.index.file("prompt"), promptRec < 0 ? [] : [slice("prompt", promptRec)]),
    readObjects(
      v.index.file("response"),
      responses.map((r) => slice("response", r)),
    ),
    readObjects(
      v.index.file("judgement"),
      judgementsOf.flat().map((j) => slice("judgement", j)),
    ),
    readObjects(
      v.index.file("meta_judgement"),
      battles.map((b) => slice("meta_judgement", b)),
    ),
  ]);
  const text = (o: Record<string, unknown> | null | undefined, key = "text"): string =>
    typeof o?.[key] === "string" ? (o[key] as string) : "";
  const modes = v.settings.modes;
  const judgeModes = new Set<VerdictMode>();

  let k = 0;
  const out: InspectorResponse[] = responses.map((r, i) => {
    const key = tables.response.id[r]!;
    const pair = v.agg.battles[r]! > 0 ? judgePair(v, key) : null;
    const judgementList: InspectorJudgement[] = judgementsOf[i]!.map((j) => {
      const obj = judgementObjs[k++];
      const t = text(obj);
      const mode = recordMode(obj);
      judgeModes.add(mode);
      const row: InspectorJudgement = { ...judgementRow(v, j, pair?.elo), text: t };
      if (mode !== "text") row.mode = mode;
      const span = parseScore(t, mode).span;
      if (span) row.scoreSpan = span;
      const note = v.annotations.get(row.id)?.note;
      if (note) row.note = note;
      return row;
    });
    const scores = judgementList.filter((j) => !isFlagged(v, j.id)).map((j) => j.score);
    const row: InspectorResponse = { ...responseRow(v, r), text: text(responseObjs[i]), scores, judgementList };
    const note = v.annotations.get(row.id)?.note;
    if (note) row.note = note;
    return row;
  });

  const actor = promptKey < 0 ? null : actorPair(v, promptKey);
  const battleModes = new Set(battleObjs.map(recordMode));
  return {
    experimentDir,
    iteration,
    prompt: { id: promptId, text: text(promptObjs[0], "prompt") },
    responses: out,
    battles:
      battledKey < 0
        ? null
        : inspectBattles(
            v,
            battledKey,
            battles,
            battleObjs.map((o) => text(o)),
            battleObjs.map(recordMode),
          ),
    actorPair: actor ? inspectActorPair(actor.result, actor.candidates, v.settings.rho) : emptyActorPair(v.settings.rho),
    judgeMode: commonMode(judgeModes, modes.judge),
    metaJudgeMode: commonMode(battleModes, modes.meta_judge),
  };
}

/** A record says how it was read only when it was read as JSON. */
function recordMode(o: Record<string, unknown> | null | undefined): VerdictMode {
  return o?.mode === "json_schema" ? "json_schema" : "text";
}

/** The records' mode when they agree; with none on disk yet, or a mix, the iteration's. */
function commonMode(seen: ReadonlySet<VerdictMode>, iteration: VerdictMode): VerdictMode {
  return seen.size === 1 ? [...seen][0]! : iteration;
}

function isFlagged(v: ViewData, id: string): boolean {
  return v.annotations.get(id)?.label === "suspicious";
}

/** The prompt's response whose battles are shown: the one holding its judge pair, else the first with battles on disk. */
function battledResponse(v: ViewData, promptKey: number, responses: number[]): number {
  const picked = promptKey < 0 ? -1 : judgeResponse(v, promptKey);
  if (picked >= 0) return picked;
  for (const r of responses) if (v.agg.battles[r]! > 0) return v.tables.response.id[r]!;
  return -1;
}

function inspectBattles(v: ViewData, responseKey: number, records: number[], texts: string[], modes: VerdictMode[]): InspectorBattles {
  const { pool } = v.index;
  const tables = v.tables;
  const J = tables.judgement;
  const battles: InspectorBattle[] = records.map((b, i) => {
    const t = texts[i] ?? "";
    const mode = modes[i] ?? "text";
    const row: InspectorBattle = { ...battleRow(v, b), text: t };
    if (mode !== "text") row.mode = mode;
    if (row.winner !== null) {
      const span = parseWinner(t, mode).span;
      if (span) row.winnerSpan = span;
    }
    return row;
  });

  const fought = new Set<string>();
  for (const b of battles) fought.add(b.firstId).add(b.secondId);
  const judgementIds = judgementRecords(v, responseKey)
    .map((j) => pool.get(J.id[j]!))
    .filter((id) => fought.has(id));
  const rank = new Map(judgementIds.map((id, i) => [id, i]));

  const res: JudgePairResult | null = judgePair(v, responseKey);
  const out: InspectorBattles = {
    responseId: pool.get(responseKey),
    judgementIds,
    battles,
    inconsistent: inconsistentPairs(
      battles.filter((b) => !isFlagged(v, b.id)),
      (id) => rank.get(id) ?? Number.MAX_SAFE_INTEGER,
    ),
    elo: res?.elo ?? {},
    stats: res?.stats ?? null,
    pair: res && "pair" in res ? { chosenId: res.pair.chosen_id, rejectedId: res.pair.rejected_id } : null,
  };
  if (res && "skip" in res) {
    out.skip = res.skip;
    if (res.detail) out.skipDetail = res.detail;
  }
  return out;
}

/**
 * Unordered pairs {a, b} whose two orders contradict each other: the same position won both times
 * (a first won and b first won, or both second), so the verdicts disagree about a versus b. Only
 * decisive verdicts count; the first battle of an ordered pair is the one used.
 */
export function inconsistentPairs(
  battles: readonly { firstId: string; secondId: string; winner: "first" | "second" | null }[],
  order: (id: string) => number,
): [string, string][] {
  const verdict = new Map<string, "first" | "second">();
  const key = (a: string, b: string): string => JSON.stringify([a, b]);
  for (const b of battles) {
    if (b.winner === null || b.firstId === b.secondId) continue;
    const k = key(b.firstId, b.secondId);
    if (!verdict.has(k)) verdict.set(k, b.winner);
  }
  const out: [string, string][] = [];
  const done = new Set<string>();
  for (const b of battles) {
    const [a, c] = order(b.firstId) <= order(b.secondId) ? [b.firstId, b.secondId] : [b.secondId, b.firstId];
    const pk = key(a, c);
    if (a === c || done.has(pk)) continue;
    done.add(pk);
    const ac = verdict.get(key(a, c));
    const ca = verdict.get(key(c, a));
    if (ac !== undefined && ac === ca) out.push([a, c]);
  }
  return out.sort((x, y) => order(x[0]) - order(y[0]) || order(x[1]) - order(y[1]));
}

function emptyActorPair(rho: number): InspectorActorPair {
  return {
    chosenId: null,
    rejectedId: null,
    rho,
    upper: null,
    lower: null,
    sMax: null,
    sMin: null,
    skip: "too-few-scored",
    skipDetail: "0 scored response(s)",
  };
}

/** The tiers are shown even when no pair comes out, so a researcher sees how close the prompt came. */
export function inspectActorPair(res: ActorPairResult, candidates: readonly { score: number | null }[], rho: number): InspectorActorPair {
  let sMax = -Infinity;
  let sMin = Infinity;
  for (const c of candidates) {
    if (c.score === null) continue;
    sMax = Math.max(sMax, c.score);
    sMin = Math.min(sMin, c.score);
  }
  const scored = sMax >= sMin;
  const out: InspectorActorPair = {
    chosenId: null,
    rejectedId: null,
    rho,
    upper: scored ? (1 - rho) * sMax + rho * sMin : null,
    lower: scored ? (1 - rho) * sMin + rho * sMax : null,
    sMax: scored ? sMax : null,
    sMin: scored ? sMin : null,
  };
  if ("pair" in res) {
    out.chosenId = res.pair.chosen_id;
    out.rejectedId = res.pair.rejected_id;
    if (res.pair.upper_bound !== undefined) out.upper = res.pair.upper_bound;
    if (res.pair.lower_bound !== undefined) out.lower = res.pair.lower_bound;
  } else {
    out.skip = res.skip;
    if (res.detail) out.skipDetail = res.detail;
  }
  return out;
}
