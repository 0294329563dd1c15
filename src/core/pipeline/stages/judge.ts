// Judge: N judgements per distinct response, one request with n = N. Exact duplicate responses of a
// prompt are judged once (the lowest index stands for them), as the method drops them.
import { parseScore } from "../../parse.js";
import type { JudgementRecord } from "../../schema.js";
import { renderTemplate } from "../../templates.js";
import { groupBy, loadJudgements, loadResponses, type ResponseRow } from "../../store/records.js";
import type { RunContext } from "../context.js";
import { deriveSeed, judgementId } from "../ids.js";
import { cutNote, samplingBody, type LlmPlan, type LlmTask } from "../llm-stage.js";
import { repeatWarning } from "./repeats.js";

/** Responses to judge: per prompt, in index order, the first of each distinct text. */
export function distinctResponses(rows: readonly ResponseRow[]): { keep: ResponseRow[]; duplicates: number } {
  const keep: ResponseRow[] = [];
  let duplicates = 0;
  for (const list of groupBy(rows, (r) => r.prompt_id).values()) {
    list.sort((a, b) => a.index - b.index);
    const seen = new Set<string>();
    for (const r of list) {
      const text = r.text ?? "";
      if (seen.has(text)) {
        duplicates++;
        continue;
      }
      seen.add(text);
      keep.push(r);
    }
  }
  return { keep, duplicates };
}

export async function planJudge(ctx: RunContext): Promise<LlmPlan> {
  const n = ctx.config.roles.judge.sampling.n;
  const base = ctx.config.roles.judge.sampling.seed;
  const mode = ctx.config.roles.judge.mode;
  const promptText = new Map(ctx.prompts.prompts.map((p) => [p.id, p.prompt]));
  const responseRepeats = repeatWarning(ctx, ctx.store.file("responses"));
  const { keep, duplicates } = distinctResponses(
    await loadResponses(ctx.store.file("responses"), true, ctx.signal, responseRepeats.onRepeat),
  );
  responseRepeats.flush();
  const counts = { duplicates_skipped: duplicates, parse_failures: 0, scored: 0 };

  const have = new Map<string, Set<number>>();
  let done = 0;
  const judgementRepeats = repeatWarning(ctx, ctx.store.file("judgements"));
  const judged = await loadJudgements(ctx.store.file("judgements"), false, ctx.signal, judgementRepeats.onRepeat);
  judgementRepeats.flush();
  for (const j of judged) {
    let s = have.get(j.response_id);
    if (!s) have.set(j.response_id, (s = new Set()));
    if (j.index < n && !s.has(j.index)) {
      s.add(j.index);
      done++;
      if (j.score === null) counts.parse_failures++;
      else counts.scored++;
    }
  }

  const tasks: LlmTask[] = [];
  let total = 0;
  for (const r of keep) {
    const prompt = promptText.get(r.prompt_id);
    if (prompt === undefined) {
      ctx.emit({ type: "warning", message: `response ${r.id} names prompt ${r.prompt_id}, which is not in the prompt set; not judged` });
      continue;
    }
    total += n;
    const got = have.get(r.id);
    const missing: number[] = [];
    for (let i = 0; i < n; i++) if (!got?.has(i)) missing.push(i);
    if (missing.length === 0) continue;
    const seed = deriveSeed(base, r.id);
    const content = renderTemplate(ctx.templates.judge.template, { prompt, response: r.text ?? "" });
    tasks.push({
      id: `judge:${r.id}`,
      body: samplingBody(ctx, "judge", content, n, seed),
      records: missing.length,
      accept(result) {
        const out: JudgementRecord[] = [];
        for (const i of missing) {
          const c = result.choices[i];
          if (!c) continue;
          const parsed = parseScore(c.text, mode);
          const rec: JudgementRecord = {
            id: judgementId(r.id, i),
            prompt_id: r.prompt_id,
            response_id: r.id,
            index: i,
            text: c.text,
            score: parsed.score,
            finish_reason: c.finish_reason,
            model: result.model,
            ...(seed === undefined ? {} : { seed }),
            ...(mode === "text" ? {} : { mode }),
          };
          if (parsed.error) rec.parse_error = cutNote(parsed.error, mode, c.finish_reason);
          out.push(rec);
        }
        return out;
      },
    });
  }
  return {
    stage: "judge",
    role: "judge",
    file: "judgements",
    tasks,
    total,
    done,
    counts,
    count(rec) {
      if ((rec as JudgementRecord).score === null) counts.parse_failures++;
      else counts.scored++;
    },
  };
}
