// Meta-judge: per prompt, the response whose judgements disagree most; every ordered pair of its
// valid judgements is put to the meta-judge, in both orders.
import { parseWinner } from "../../parse.js";
import type { MetaJudgementRecord } from "../../schema.js";
import { battlePlan, pickBattleResponse } from "../../select.js";
import { groupBy, forEachBattle, loadJudgements, loadResponses, type JudgementRow } from "../../store/records.js";
import { renderTemplate } from "../../templates.js";
import type { RunContext } from "../context.js";
import { battleId, deriveSeed } from "../ids.js";
import { cutNote, samplingBody, type LlmPlan, type LlmTask } from "../llm-stage.js";
import { repeatWarning } from "./repeats.js";

interface Battle {
  promptId: string;
  responseId: string;
  first: JudgementRow;
  second: JudgementRow;
}

/** Which battles the iteration holds, from the judgements on disk. Pure: the same files give the same plan. */
export function planBattles(
  judgements: readonly JudgementRow[],
  responseIndex: ReadonlyMap<string, number>,
): { battles: Battle[]; skipped: number } {
  const battles: Battle[] = [];
  let skipped = 0;
  const byResponse = groupBy(judgements, (j) => j.response_id);
  const byPrompt = groupBy(byResponse.keys(), (rid) => byResponse.get(rid)![0]!.prompt_id);
  for (const [promptId, rids] of byPrompt) {
    const candidates = rids.map((rid) => ({
      id: rid,
      index: responseIndex.get(rid) ?? 0,
      scores: byResponse.get(rid)!.map((j) => j.score),
    }));
    const chosen = pickBattleResponse(candidates);
    if (chosen === null) {
      skipped++;
      continue;
    }
    const js = byResponse.get(chosen)!;
    const byId = new Map(js.map((j) => [j.id, j]));
    for (const b of battlePlan(js))
      battles.push({ promptId, responseId: chosen, first: byId.get(b.first_id)!, second: byId.get(b.second_id)! });
  }
  return { battles, skipped };
}

export async function planMetajudge(ctx: RunContext): Promise<LlmPlan> {
  const base = ctx.config.roles.meta_judge.sampling.seed;
  const mode = ctx.config.roles.meta_judge.mode;
  const promptText = new Map(ctx.prompts.prompts.map((p) => [p.id, p.prompt]));
  // Every loader keeps the first record of an id, so a line written twice cannot battle a judgement
  // against itself or plan a battle twice.
  const responses = await loadResponses(ctx.store.file("responses"), true, ctx.signal);
  const responseById = new Map(responses.map((r) => [r.id, r]));
  const index = new Map(responses.map((r) => [r.id, r.index]));

  // First pass without texts: choosing the battled responses needs only scores.
  const judgementRepeats = repeatWarning(ctx, ctx.store.file("judgements"));
  const { battles, skipped } = planBattles(
    await loadJudgements(ctx.store.file("judgements"), false, ctx.signal, judgementRepeats.onRepeat),
    index,
  );
  judgementRepeats.flush();
  const need = new Set<string>();
  for (const b of battles) need.add(b.first.id).add(b.second.id);
  const texts = new Map<string, string>();
  for (const j of await loadJudgements(ctx.store.file("judgements"), need, ctx.signal)) if (j.text !== undefined) texts.set(j.id, j.text);

  const have = new Set<string>();
  const counts = { prompts_without_battle: skipped, decisive: 0, no_verdict: 0 };
  const battleRepeats = repeatWarning(ctx, ctx.store.file("metaJudgements"));
  await forEachBattle(
    ctx.store.file("metaJudgements"),
    (b, line) => {
      if (have.has(b.id)) {
        battleRepeats.onRepeat(b.id, line);
        return;
      }
      have.add(b.id);
      if (b.winner === null) counts.no_verdict++;
      else counts.decisive++;
    },
    ctx.signal,
  );
  battleRepeats.flush();

  const tasks: LlmTask[] = [];
  let done = 0;
  for (const b of battles) {
    const id = battleId(b.responseId, b.first.index, b.second.index);
    if (have.has(id)) {
      done++;
      continue;
    }
    const prompt = promptText.get(b.promptId) ?? "";
    const response = responseById.get(b.responseId)?.text ?? "";
    const seed = deriveSeed(base, id);
    const content = renderTemplate(ctx.templates.meta_judge.template, {
      prompt,
      response,
      judgement_a: texts.get(b.first.id) ?? "",
      judgement_b: texts.get(b.second.id) ?? "",
    });
    tasks.push({
      id: `metajudge:${id}`,
      body: samplingBody(ctx, "meta_judge", content, 1, seed),
      records: 1,
      accept(result) {
        const c = result.choices[0];
        if (!c) return [];
        const parsed = parseWinner(c.text, mode);
        const rec: MetaJudgementRecord = {
          id,
          prompt_id: b.promptId,
          response_id: b.responseId,
          first_id: b.first.id,
          second_id: b.second.id,
          text: c.text,
          winner: parsed.winner === "A" ? "first" : parsed.winner === "B" ? "second" : null,
          finish_reason: c.finish_reason,
          model: result.model,
          ...(seed === undefined ? {} : { seed }),
          ...(mode === "text" ? {} : { mode }),
        };
        if (parsed.error) rec.parse_error = cutNote(parsed.error, mode, c.finish_reason);
        return [rec];
      },
    });
  }
  return {
    stage: "metajudge",
    role: "meta_judge",
    file: "metaJudgements",
    tasks,
    total: battles.length,
    done,
    counts,
    count(rec) {
      if ((rec as MetaJudgementRecord).winner === null) counts.no_verdict++;
      else counts.decisive++;
    },
  };
}
