// Export: the pairs as TRL conversational preference data (dpo.jsonl). Actor pairs train the answer
// to the rendered actor prompt; judge pairs train the judgement of (x, y) under the judge rubric.
import type { DpoRecord, IterationSettings, PromptRecord } from "../../schema.js";
import { IterationStore } from "../../store/iteration.js";
import { readJsonl, toJsonl, writeFileAtomic } from "../../store/jsonl.js";
import { loadJudgements, loadResponses } from "../../store/records.js";
import { renderTemplate, type Template } from "../../templates.js";
import { ActorPairSchema, JudgePairSchema, type ActorPair, type JudgePair } from "../../schema.js";
import { MetajudgeError } from "../../errors.js";

export interface ExportInput {
  iterDir: string;
  prompts: readonly PromptRecord[];
  actorTemplate: Template;
  judgeTemplate: Template;
  settings: Pick<IterationSettings, "train_judge_pairs">;
  signal?: AbortSignal;
}

async function readPairs<T>(file: string, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { message: string; path: PropertyKey[] }[] } } }): Promise<T[]> {
  const out: T[] = [];
  await readJsonl(file, (v, line) => {
    const r = schema.safeParse(v);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new MetajudgeError("badInput", `${file}:${line}: ${issue.path.join(".")}: ${issue.message}; recompute it with \`metajudge pairs\``, { file, line });
    }
    out.push(r.data);
  });
  return out;
}

export async function buildDpo(input: ExportInput): Promise<{ records: DpoRecord[]; counts: Record<string, number> }> {
  const store = new IterationStore(input.iterDir);
  const actorPairs = await readPairs<ActorPair>(store.file("actorPairs"), ActorPairSchema);
  const judgePairs = input.settings.train_judge_pairs ? await readPairs<JudgePair>(store.file("judgePairs"), JudgePairSchema) : [];

  const needResponses = new Set<string>();
  for (const p of actorPairs) needResponses.add(p.chosen_id).add(p.rejected_id);
  for (const p of judgePairs) needResponses.add(p.response_id);
  const needJudgements = new Set<string>();
  for (const p of judgePairs) needJudgements.add(p.chosen_id).add(p.rejected_id);

  const responseText = new Map<string, string>();
  for (const r of await loadResponses(store.file("responses"), true, input.signal)) if (needResponses.has(r.id)) responseText.set(r.id, r.text!);
  const judgementText = new Map<string, string>();
  for (const j of await loadJudgements(store.file("judgements"), needJudgements, input.signal)) if (j.text !== undefined) judgementText.set(j.id, j.text);
  const promptText = new Map(input.prompts.map((p) => [p.id, p.prompt]));

  const text = (m: Map<string, string>, id: string, what: string): string => {
    const t = m.get(id);
    if (t === undefined) {
      throw new MetajudgeError("badInput", `${what} ${id} is named by a pair but missing from the records; recompute pairs with \`metajudge pairs ${input.iterDir}\``);
    }
    return t;
  };

  const records: DpoRecord[] = [];
  for (const p of actorPairs) {
    const prompt = text(promptText, p.prompt_id, "prompt");
    records.push({
      prompt: [{ role: "user", content: renderTemplate(input.actorTemplate, { prompt }) }],
      chosen: [{ role: "assistant", content: text(responseText, p.chosen_id, "response") }],
      rejected: [{ role: "assistant", content: text(responseText, p.rejected_id, "response") }],
      kind: "actor",
      source_ids: { prompt_id: p.prompt_id, chosen_id: p.chosen_id, rejected_id: p.rejected_id },
    });
  }
  for (const p of judgePairs) {
    const prompt = text(promptText, p.prompt_id, "prompt");
    const response = text(responseText, p.response_id, "response");
    records.push({
      prompt: [{ role: "user", content: renderTemplate(input.judgeTemplate, { prompt, response }) }],
      chosen: [{ role: "assistant", content: text(judgementText, p.chosen_id, "judgement") }],
      rejected: [{ role: "assistant", content: text(judgementText, p.rejected_id, "judgement") }],
      kind: "judge",
      source_ids: { prompt_id: p.prompt_id, response_id: p.response_id, chosen_id: p.chosen_id, rejected_id: p.rejected_id },
    });
  }
  return { records, counts: { actor: actorPairs.length, judge: judgePairs.length, total: records.length } };
}

export function writeDpo(iterDir: string, records: readonly DpoRecord[]): void {
  writeFileAtomic(new IterationStore(iterDir).file("dpo"), toJsonl(records));
}
