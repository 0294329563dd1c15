// Pairs: both preference sets recomputed from the record files alone (plus annotations), no model
// calls. Streams the files and keeps only ids, scores, lengths and verdicts, so a paper-scale
// iteration fits well under a GiB.
import type { ActorPair, IterationSettings, JudgePair } from "../../schema.js";
import { selectActorPair, selectJudgePair } from "../../select.js";
import { suspiciousIds } from "../../store/annotations.js";
import { IterationStore } from "../../store/iteration.js";
import { toJsonl, writeFileAtomic } from "../../store/jsonl.js";
import { forEachBattle, loadJudgements, loadResponses } from "../../store/records.js";

export interface PairsResult {
  actor: ActorPair[];
  judge: JudgePair[];
  counts: Record<string, number>;
}

type Verdict = { first_id: string; second_id: string; winner: "first" | "second" | null };

export async function computePairs(iterDir: string, settings: Pick<IterationSettings, "rho" | "judgement_length_cap">, signal?: AbortSignal): Promise<PairsResult> {
  const store = new IterationStore(iterDir);
  const flagged = await suspiciousIds(store.file("annotations"));
  const counts: Record<string, number> = { flagged_excluded: 0 };
  const bump = (k: string): void => {
    counts[k] = (counts[k] ?? 0) + 1;
  };

  const responses = await loadResponses(store.file("responses"), false, signal);
  const judgements = await loadJudgements(store.file("judgements"), false, signal);
  const battles = new Map<string, Verdict[]>();
  const battleSeen = new Set<string>();
  await forEachBattle(
    store.file("metaJudgements"),
    (b) => {
      if (battleSeen.has(b.id)) return;
      battleSeen.add(b.id);
      if (flagged.has(b.id)) {
        bump("flagged_excluded");
        return;
      }
      const v: Verdict = { first_id: b.first_id, second_id: b.second_id, winner: b.winner };
      const list = battles.get(b.response_id);
      if (list) list.push(v);
      else battles.set(b.response_id, [v]);
    },
    signal,
  );

  // Judgements per response, flagged ones left out of both the mean and the battles.
  const byResponse = new Map<string, { id: string; score: number | null; length: number }[]>();
  const seenJ = new Set<string>();
  for (const j of judgements) {
    if (seenJ.has(j.id)) continue;
    seenJ.add(j.id);
    if (flagged.has(j.id)) {
      bump("flagged_excluded");
      continue;
    }
    const list = byResponse.get(j.response_id);
    const row = { id: j.id, score: j.score, length: j.length };
    if (list) list.push(row);
    else byResponse.set(j.response_id, [row]);
  }

  const byPrompt = new Map<string, { id: string; index: number; score: number | null; length: number }[]>();
  const seenR = new Set<string>();
  for (const r of responses) {
    if (seenR.has(r.id)) continue;
    seenR.add(r.id);
    if (flagged.has(r.id)) {
      bump("flagged_excluded");
      continue;
    }
    const js = byResponse.get(r.id);
    if (!js) continue; // a duplicate, or not judged yet
    let sum = 0;
    let n = 0;
    for (const j of js) {
      if (j.score !== null) {
        sum += j.score;
        n++;
      }
    }
    const cand = { id: r.id, index: r.index, score: n > 0 ? sum / n : null, length: r.length };
    const list = byPrompt.get(r.prompt_id);
    if (list) list.push(cand);
    else byPrompt.set(r.prompt_id, [cand]);
  }

  const actor: ActorPair[] = [];
  for (const [promptId, cands] of byPrompt) {
    const res = selectActorPair(promptId, cands, settings.rho);
    if ("pair" in res) actor.push(res.pair);
    else bump(`actor_skip_${res.skip}`);
  }

  const judge: JudgePair[] = [];
  const promptOf = new Map<string, string>();
  for (const j of judgements) promptOf.set(j.response_id, j.prompt_id);
  for (const [responseId, verdicts] of battles) {
    const promptId = promptOf.get(responseId) ?? "";
    const js = byResponse.get(responseId) ?? [];
    const res = selectJudgePair(promptId, responseId, js, verdicts, settings.judgement_length_cap);
    if ("pair" in res) judge.push(res.pair);
    else bump(`judge_skip_${res.skip}`);
  }
  // Records arrive in completion order; sorted output makes reruns byte-identical.
  actor.sort((a, b) => cmp(a.prompt_id, b.prompt_id));
  judge.sort((a, b) => cmp(a.prompt_id, b.prompt_id));
  counts.actor_pairs = actor.length;
  counts.judge_pairs = judge.length;
  return { actor, judge, counts };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function writePairs(iterDir: string, result: PairsResult): void {
  const store = new IterationStore(iterDir);
  writeFileAtomic(store.file("actorPairs"), toJsonl(result.actor));
  writeFileAtomic(store.file("judgePairs"), toJsonl(result.judge));
}
