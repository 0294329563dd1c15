// One real record per role to show what a template becomes: the values of its variables and where
// they came from.
import * as path from "node:path";
import type { Role } from "../schema.js";
import {
  firstBattles,
  firstJudgementPair,
  firstResponses,
  iterationsNewestFirst,
  judgementsById,
  readPrompts,
  recordFile,
  responsesById,
  type Experiment,
  type JudgementRow,
} from "./records.js";

export interface Filling {
  vars: Record<string, string>;
  /** Where the values came from, for a reader. */
  from: string;
}

/** No record fills every variable: what is known, and what to run to get the rest. */
export interface NoFilling {
  vars: Record<string, string>;
  why: string;
}

export async function fillingFor(role: Role, exp: Experiment): Promise<Filling | NoFilling> {
  const [first] = (await readPrompts(exp)).values();
  const promptsFile = path.basename(exp.config.prompts);
  if (first === undefined) return { vars: {}, why: `The prompt set ${exp.config.prompts} holds no prompt to fill {{prompt}} with.` };
  if (role === "actor") return { vars: { prompt: first.prompt }, from: `prompt ${first.id} of ${promptsFile}` };

  for (const t of iterationsNewestFirst(exp)) {
    const found = role === "judge" ? await judgeFilling(exp, t) : await metaJudgeFilling(exp, t);
    if (found) return found;
  }
  const run = (stage: string): string =>
    `run the ${stage} stage of an iteration (Metajudge: Run Iteration, or \`metajudge run ${exp.dir} --iteration 1 --until ${stage}\`)`;
  return role === "judge"
    ? { vars: { prompt: first.prompt }, why: `No response on disk to fill {{response}} with: ${run("generate")}.` }
    : {
        vars: { prompt: first.prompt },
        why: `No two judgements of one response on disk to fill {{judgement_a}} and {{judgement_b}} with: ${run("judge")}.`,
      };
}

async function judgeFilling(exp: Experiment, t: number): Promise<Filling | undefined> {
  const [response] = await firstResponses(recordFile(exp, t, "responses"), 1);
  if (response === undefined) return undefined;
  const prompt = await promptOf(exp, response.prompt_id);
  return { vars: { prompt, response: response.text }, from: `response ${response.id} of iteration ${t} and its prompt` };
}

async function metaJudgeFilling(exp: Experiment, t: number): Promise<Filling | undefined> {
  const judgements = recordFile(exp, t, "judgements");
  const [battle] = await firstBattles(recordFile(exp, t, "metaJudgements"), 1);
  let a: JudgementRow | undefined;
  let b: JudgementRow | undefined;
  let from: string;
  if (battle) {
    const byId = await judgementsById(judgements, new Set([battle.first_id, battle.second_id]));
    [a, b] = [byId.get(battle.first_id), byId.get(battle.second_id)];
    from = `battle ${battle.id} of iteration ${t}`;
  } else {
    [a, b] = (await firstJudgementPair(judgements)) ?? [];
    from = `judgements ${a?.id ?? ""} and ${b?.id ?? ""} of iteration ${t}`;
  }
  if (a === undefined || b === undefined) return undefined;
  const response = (await responsesById(recordFile(exp, t, "responses"), new Set([a.response_id]))).get(a.response_id);
  if (response === undefined) return undefined;
  const prompt = await promptOf(exp, response.prompt_id);
  return { vars: { prompt, response: response.text, judgement_a: a.text, judgement_b: b.text }, from };
}

export async function promptOf(exp: Experiment, id: string): Promise<string> {
  return (await readPrompts(exp, new Set([id]))).get(id)?.prompt ?? `(prompt ${id} is not in ${exp.config.prompts})`;
}
