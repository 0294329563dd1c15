// Actor: K responses per prompt, one request with n = K. A prompt whose responses are partly on disk
// (a kill mid-write) is asked again with the same seed and only its missing choices are written.
import { renderTemplate } from "../../templates.js";
import type { ResponseRecord } from "../../schema.js";
import { loadResponses } from "../../store/records.js";
import type { RunContext } from "../context.js";
import { deriveSeed, responseId } from "../ids.js";
import { repeatWarning } from "./repeats.js";
import { samplingBody, type LlmPlan, type LlmTask } from "../llm-stage.js";

export async function planGenerate(ctx: RunContext): Promise<LlmPlan> {
  const k = ctx.config.roles.actor.sampling.n;
  const base = ctx.config.roles.actor.sampling.seed;
  const have = new Map<string, Set<number>>();
  let done = 0;
  const repeats = repeatWarning(ctx, ctx.store.file("responses"));
  const rows = await loadResponses(ctx.store.file("responses"), false, ctx.signal, repeats.onRepeat);
  repeats.flush();
  for (const r of rows) {
    let s = have.get(r.prompt_id);
    if (!s) have.set(r.prompt_id, (s = new Set()));
    if (r.index < k && !s.has(r.index)) {
      s.add(r.index);
      done++;
    }
  }
  const tasks: LlmTask[] = [];
  const counts = { length_cut: 0, empty: 0 };
  for (const p of ctx.prompts.prompts) {
    const got = have.get(p.id);
    const missing: number[] = [];
    for (let i = 0; i < k; i++) if (!got?.has(i)) missing.push(i);
    if (missing.length === 0) continue;
    const seed = deriveSeed(base, p.id);
    const body = samplingBody(ctx, "actor", renderTemplate(ctx.templates.actor.template, { prompt: p.prompt }), k, seed);
    tasks.push({
      id: `generate:${p.id}`,
      body,
      records: missing.length,
      accept(result) {
        const out: ResponseRecord[] = [];
        for (const i of missing) {
          const c = result.choices[i];
          if (!c) continue;
          out.push({
            id: responseId(p.id, i),
            prompt_id: p.id,
            index: i,
            text: c.text,
            finish_reason: c.finish_reason,
            model: result.model,
            ...(seed === undefined ? {} : { seed }),
          });
        }
        return out;
      },
    });
  }
  return {
    stage: "generate",
    role: "actor",
    file: "responses",
    tasks,
    total: ctx.prompts.prompts.length * k,
    done,
    counts,
    count(r) {
      const rec = r as ResponseRecord;
      if (rec.finish_reason === "length") counts.length_cut++;
      if (rec.text.trim() === "") counts.empty++;
    },
  };
}
