// Pairs: both preference sets recomputed from the record files alone (plus annotations), no model
// calls. Streams the files and keeps only what selection reads, so a paper-scale iteration (385,000
// judgements, 550,000 battles) fits well under a GiB and costs little more than parsing it.
//
// Ids the pipeline made (`<response>:j<n>`, `<response>:m<a>-<b>`, see ids.ts) are kept as their
// numbers under their response instead of as strings: the same decisions, without a million strings
// and hash-set entries for the garbage collector to carry. Any other id is kept as it is, and the
// two kinds are checked against each other, so hand-written ids behave exactly as before.
import { FILES, type ActorPair, type IterationSettings, type JudgePair } from "../../schema.js";
import { pickBattleResponse, selectActorPair, selectJudgePair, type Battle } from "../../select.js";
import { isCancelled } from "../../errors.js";
import { readFlags } from "../../store/annotations.js";
import type { LineProblem } from "../../store/jsonl.js";
import { IterationStore } from "../../store/iteration.js";
import { toJsonl } from "../../store/jsonl.js";
import { PAIRS_COMMIT, writeFilesTogether } from "../../store/commit.js";
import { charLength, forEachBattle, forEachJudgement, loadResponses } from "../../store/records.js";

export interface PairsResult {
  actor: ActorPair[];
  judge: JudgePair[];
  counts: Record<string, number>;
  /** Annotation lines that could not be read: flags they may carry were not applied. */
  annotationProblems: LineProblem[];
}

// ---- compact ids ----------------------------------------------------------------------------------

/** Numbers in compact ids stay below this, so two of them and a verdict pack into one small integer. */
const LIMIT = 1 << 14;
const COLON = 0x3a;
const TAG_J = 0x6a; // "j"
const TAG_M = 0x6d; // "m"
/** Numbers below this are kept as bits (see Numbers). */
const SMALL = 1024;

/** The number written in s[from, to) when it is plain decimal (no sign, no leading zero) below LIMIT, else -1. */
function decimal(s: string, from: number, to: number): number {
  if (to <= from || to - from > 5 || (to - from > 1 && s.charCodeAt(from) === 0x30)) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n < LIMIT ? n : -1;
}

/**
 * n when `id` is exactly `${owner}:j${n}`, else -1. The part after the owner holds no colon, so an
 * id has at most one such reading (its owner is what precedes its last colon): equal ids with a
 * reading have equal owners and numbers, and the reverse.
 */
function judgementNumber(id: string, owner: string): number {
  const at = owner.length;
  if (id.charCodeAt(at) !== COLON || id.charCodeAt(at + 1) !== TAG_J || !id.startsWith(owner)) return -1;
  return decimal(id, at + 2, id.length);
}

/** A number for `id` when it is exactly `${owner}:m${a}-${b}` (one per (a, b); small when both are), else -1. Unique as above. */
function battleNumber(id: string, owner: string): number {
  const at = owner.length;
  if (id.charCodeAt(at) !== COLON || id.charCodeAt(at + 1) !== TAG_M || !id.startsWith(owner)) return -1;
  const dash = id.indexOf("-", at + 2);
  if (dash === -1) return -1;
  const a = decimal(id, at + 2, dash);
  const b = a === -1 ? -1 : decimal(id, dash + 1, id.length);
  if (b === -1) return -1;
  return a < 32 && b < 32 ? a * 32 + b : SMALL + a * LIMIT + b;
}

/** The owner an id names itself under (what precedes its last colon), or null. */
function ownerOf(id: string): string | null {
  const at = id.lastIndexOf(":");
  return at === -1 ? null : id.slice(0, at);
}

/** Non-negative integers: a bitset below SMALL (N = 11 judgements and their 110 battles fit), a Set above. */
class Numbers {
  private words: number[] = [];
  private more: Set<number> | null = null;

  has(n: number): boolean {
    if (n < SMALL) return ((this.words[n >>> 5] ?? 0) & (1 << (n & 31))) !== 0;
    return this.more?.has(n) === true;
  }

  add(n: number): void {
    if (n < SMALL) {
      const w = n >>> 5;
      while (this.words.length <= w) this.words.push(0);
      this.words[w]! |= 1 << (n & 31);
    } else {
      (this.more ??= new Set()).add(n);
    }
  }
}

/**
 * Ids seen so far, first occurrence wins, whatever their form: numbers in the `Numbers` of their
 * owner (its group) for ids in the pipeline's form, strings for the rest.
 */
class SeenIds {
  private readonly others = new Set<string>();
  constructor(
    private readonly number: (id: string, owner: string) => number,
    private readonly numbersOf: (owner: string) => Numbers | undefined,
  ) {}

  /** True for an id not seen before; `own` holds the numbers of the line's own owner. */
  add(id: string, owner: string, own: Numbers): boolean {
    const n = this.number(id, owner);
    if (n !== -1) {
      if (own.has(n) || (this.others.size > 0 && this.others.has(id))) return false;
      own.add(n);
      return true;
    }
    if (this.others.has(id)) return false;
    // The same string may have been seen in the pipeline's form, on a line of the owner it names.
    const named = ownerOf(id);
    if (named !== null) {
      const m = this.number(id, named);
      if (m !== -1 && this.numbersOf(named)?.has(m) === true) return false;
    }
    this.others.add(id);
    return true;
  }
}

// ---- the stage ------------------------------------------------------------------------------------

/**
 * A response's battles. Those between judgements in the pipeline's form are one integer each,
 * (first·LIMIT + second)·4 + verdict, so 550,000 battles are no objects at all; any other is kept
 * as it is. Their order is irrelevant: the battle matrix only counts them.
 */
interface BattleGroup {
  seen: Numbers;
  /** Whether it holds a kept battle, which is what puts a response in the judge-pair loop. */
  listed: boolean;
  packed: number[];
  other: Battle[];
}

const VERDICT_CODE = { first: 1, second: 2 } as const;
const VERDICTS = [null, "first", "second"] as const;

interface JudgementGroup {
  seen: Numbers;
  /** The prompt its last judgement line names, duplicates and flagged lines included. */
  promptId: string;
  /** Judgements kept (not a duplicate, not flagged); the mean is over the valid ones, summed in file order. */
  kept: number;
  valid: number;
  sum: number;
  /** Only for battled responses: what judge-pair selection reads. */
  rows: { id: string; score: number | null; length: number }[] | null;
}

export async function computePairs(iterDir: string, settings: Pick<IterationSettings, "rho" | "judgement_length_cap">, signal?: AbortSignal): Promise<PairsResult> {
  const store = new IterationStore(iterDir);
  const { flagged, problems: annotationProblems } = await readFlags(store.file("annotations"));
  const counts: Record<string, number> = { flagged_excluded: 0 };
  const bump = (k: string): void => {
    counts[k] = (counts[k] ?? 0) + 1;
  };

  const responses = await loadResponses(store.file("responses"), false, signal);

  // Battles are read before judgements, so that judgement lengths (a scan of every text) are taken
  // only for the battled responses. A broken judgement file is still the one reported when both
  // files are broken, as when they were read in the contract's order.
  const battleGroups = new Map<string, BattleGroup>();
  const battled: [string, BattleGroup][] = []; // in the order of each response's first kept battle
  const battleSeen = new SeenIds(battleNumber, (owner) => battleGroups.get(owner)?.seen);
  let battleError: unknown;
  try {
    await forEachBattle(
      store.file("metaJudgements"),
      (b) => {
        let group = battleGroups.get(b.response_id);
        if (group === undefined) battleGroups.set(b.response_id, (group = { seen: new Numbers(), listed: false, packed: [], other: [] }));
        if (!battleSeen.add(b.id, b.response_id, group.seen)) return;
        if (flagged.size > 0 && flagged.has(b.id)) {
          bump("flagged_excluded");
          return;
        }
        if (!group.listed) {
          group.listed = true;
          battled.push([b.response_id, group]);
        }
        const f = judgementNumber(b.first_id, b.response_id);
        const s = f === -1 ? -1 : judgementNumber(b.second_id, b.response_id);
        if (s !== -1) group.packed.push((f * LIMIT + s) * 4 + (b.winner === null ? 0 : VERDICT_CODE[b.winner]));
        else group.other.push({ first_id: b.first_id, second_id: b.second_id, winner: b.winner });
      },
      signal,
    );
  } catch (err) {
    if (isCancelled(err)) throw err;
    battleError = err;
  }

  // Judgements per response, flagged ones left out of both the mean and the battles.
  const byResponse = new Map<string, JudgementGroup>();
  const judgementSeen = new SeenIds(judgementNumber, (owner) => byResponse.get(owner)?.seen);
  await forEachJudgement(
    store.file("judgements"),
    (j) => {
      let group = byResponse.get(j.response_id);
      if (group === undefined) {
        const rows = battleGroups.get(j.response_id)?.listed === true ? [] : null;
        byResponse.set(j.response_id, (group = { seen: new Numbers(), promptId: j.prompt_id, kept: 0, valid: 0, sum: 0, rows }));
      }
      group.promptId = j.prompt_id;
      if (!judgementSeen.add(j.id, j.response_id, group.seen)) return;
      if (flagged.size > 0 && flagged.has(j.id)) {
        bump("flagged_excluded");
        return;
      }
      group.kept++;
      if (j.score !== null) {
        group.sum += j.score;
        group.valid++;
      }
      group.rows?.push({ id: j.id, score: j.score, length: charLength(j.text) });
    },
    signal,
  );
  if (battleError !== undefined) throw battleError;

  const byPrompt = new Map<string, { id: string; index: number; score: number | null; length: number }[]>();
  // Battled responses per prompt, in file order so that equal indexes fall to the first line.
  const battledByPrompt = new Map<string, { id: string; index: number; scores: (number | null)[] }[]>();
  const seenR = new Set<string>();
  for (const r of responses) {
    if (seenR.has(r.id)) continue;
    seenR.add(r.id);
    if (flagged.has(r.id)) {
      bump("flagged_excluded");
      continue;
    }
    const group = byResponse.get(r.id);
    if (!group || group.kept === 0) continue; // a duplicate, or not judged yet
    const cand = { id: r.id, index: r.index, score: group.valid > 0 ? group.sum / group.valid : null, length: r.length };
    const list = byPrompt.get(r.prompt_id);
    if (list) list.push(cand);
    else byPrompt.set(r.prompt_id, [cand]);
    if (group.rows !== null) {
      const scores = group.rows.map((row) => row.score);
      const battledList = battledByPrompt.get(r.prompt_id);
      if (battledList) battledList.push({ id: r.id, index: r.index, scores });
      else battledByPrompt.set(r.prompt_id, [{ id: r.id, index: r.index, scores }]);
    }
  }

  const actor: ActorPair[] = [];
  for (const [promptId, cands] of byPrompt) {
    const res = selectActorPair(promptId, cands, settings.rho);
    if ("pair" in res) actor.push(res.pair);
    else bump(`actor_skip_${res.skip}`);
  }

  // One judge pair per prompt, as the method makes: from the battled response whose valid, unflagged
  // scores vary most, and only from battles between its valid, unflagged judgements.
  const judge: JudgePair[] = [];
  const groupOfBattles = new Map(battled);
  for (const [promptId, cands] of battledByPrompt) {
    const responseId = pickBattleResponse(cands);
    if (responseId === null) {
      bump("judge_skip_no-score-variance");
      continue;
    }
    const fought = groupOfBattles.get(responseId)!;
    const rows = (byResponse.get(responseId)?.rows ?? []).filter((row) => row.score !== null);
    // Back to ids, reusing the judgements' own strings where the number names one of them.
    const idOf = new Map<number, string>();
    for (const row of rows) {
      const n = judgementNumber(row.id, responseId);
      if (n !== -1) idOf.set(n, row.id);
    }
    const id = (n: number): string => idOf.get(n) ?? `${responseId}:j${n}`;
    const verdicts: Battle[] = fought.other;
    for (const p of fought.packed) {
      const pair = p >> 2;
      verdicts.push({ first_id: id(Math.floor(pair / LIMIT)), second_id: id(pair % LIMIT), winner: VERDICTS[p & 3]! });
    }
    const res = selectJudgePair(promptId, responseId, rows, verdicts, settings.judgement_length_cap);
    if ("pair" in res) judge.push(res.pair);
    else bump(`judge_skip_${res.skip}`);
  }
  // Records arrive in completion order; sorted output makes reruns byte-identical.
  actor.sort((a, b) => cmp(a.prompt_id, b.prompt_id));
  judge.sort((a, b) => cmp(a.prompt_id, b.prompt_id));
  counts.actor_pairs = actor.length;
  counts.judge_pairs = judge.length;
  return { actor, judge, counts, annotationProblems };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Both pair files as one step: a kill between them never leaves one from this run and one from the last. */
export function writePairs(iterDir: string, result: PairsResult): void {
  writeFilesTogether(iterDir, PAIRS_COMMIT, [
    { target: FILES.actorPairs, data: toJsonl(result.actor) },
    { target: FILES.judgePairs, data: toJsonl(result.judge) },
  ]);
}
