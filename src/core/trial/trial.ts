// "Try on sample": a template as edited (in the editor or a file), sent to the role's endpoint on a few real
// records, each answer parsed as a run would parse it, beside what the run stored.
import { roleEndpoint, type ResolvedEndpoint } from "../config.js";
import { isCancelled } from "../errors.js";
import type { ChatRequest, LlmClient } from "../llm/client.js";
import { parseScore, parseWinner } from "../parse.js";
import { deriveSeed } from "../pipeline/ids.js";
import { requestBody } from "../pipeline/llm-stage.js";
import type { Role, VerdictMode } from "../schema.js";
import { renderTemplate, type Template } from "../templates.js";
import {
  firstBattles,
  firstJudgedResponses,
  firstResponses,
  iterationsNewestFirst,
  judgementsById,
  judgementsOf,
  readPrompts,
  recordFile,
  responsesById,
  type Experiment,
  type ResponseRow,
} from "./records.js";

export type TrialRole = Extract<Role, "judge" | "meta_judge">;

/** The experiment has nothing of the kind to try the template on yet. */
export class NoRecordsError extends Error {
  override readonly name = "NoRecordsError";
}

export interface JudgeCase {
  id: string; // the response
  vars: Record<string, string>;
  stored: (number | null)[];
}

export interface BattleCase {
  id: string; // the battle
  vars: Record<string, string>;
  stored: "first" | "second" | null;
}

export interface TrialPlan {
  role: TrialRole;
  iteration: number;
  endpoint: ResolvedEndpoint;
  /** Samples per case: the judge's n, so new and stored means average as many judgements; one verdict per battle. */
  n: number;
  /** How verdicts are asked for and read: the role's mode in metajudge.json, as a run would now use it. */
  mode: VerdictMode;
  cases: (JudgeCase | BattleCase)[];
}

export interface Answer {
  text: string;
  score?: number | null;
  winner?: "first" | "second" | null;
  parseError?: string;
}

export interface Outcome {
  id: string;
  answers: Answer[];
  error?: unknown;
  ms: number;
}

/** A sample of the newest iteration that has records of the kind, or of `iteration` when given. */
export async function planTrial(role: TrialRole, exp: Experiment, sampleSize: number, iteration?: number): Promise<TrialPlan> {
  for (const t of iteration === undefined ? iterationsNewestFirst(exp) : [iteration]) {
    const cases = role === "judge" ? await judgeCases(exp, t, sampleSize) : await battleCases(exp, t, sampleSize);
    if (cases.length === 0) continue;
    const settings = exp.config.iterations[t - 1];
    const endpoint = roleEndpoint(exp.config, role, settings);
    const n = role === "judge" ? exp.config.roles.judge.sampling.n : 1;
    return { role, iteration: t, endpoint, n, mode: exp.config.roles[role].mode, cases };
  }
  const where = iteration === undefined ? "" : ` in iteration ${iteration}`;
  throw new NoRecordsError(
    role === "judge"
      ? `No response on disk${where} to try the judge template on: run the generate and judge stages of an iteration first.`
      : `No battle on disk${where} to try the meta-judge template on: run an iteration up to its metajudge stage first.`,
  );
}

async function judgeCases(exp: Experiment, t: number, size: number): Promise<JudgeCase[]> {
  const judgements = recordFile(exp, t, "judgements");
  const responsesFile = recordFile(exp, t, "responses");
  // Responses that were judged come first: they have stored scores to compare with.
  const judged = await firstJudgedResponses(judgements, size);
  let responses: ResponseRow[];
  if (judged.length > 0) {
    const byId = await responsesById(responsesFile, new Set(judged));
    responses = judged.map((id) => byId.get(id)).filter((r): r is ResponseRow => r !== undefined);
  } else {
    responses = await firstResponses(responsesFile, size);
  }
  if (responses.length === 0) return [];
  const stored = await judgementsOf(judgements, new Set(responses.map((r) => r.id)), exp.config.roles.judge.sampling.n);
  const prompts = await readPrompts(exp, new Set(responses.map((r) => r.prompt_id)));
  return responses.map((r) => ({
    id: r.id,
    vars: { prompt: prompts.get(r.prompt_id)?.prompt ?? "", response: r.text },
    stored: (stored.get(r.id) ?? []).sort((a, b) => a.index - b.index).map((j) => j.score),
  }));
}

async function battleCases(exp: Experiment, t: number, size: number): Promise<BattleCase[]> {
  const battles = await firstBattles(recordFile(exp, t, "metaJudgements"), size);
  if (battles.length === 0) return [];
  const judgements = await judgementsById(recordFile(exp, t, "judgements"), new Set(battles.flatMap((b) => [b.first_id, b.second_id])));
  const responses = await responsesById(recordFile(exp, t, "responses"), new Set(battles.map((b) => b.response_id)));
  const prompts = await readPrompts(exp, new Set(battles.map((b) => b.prompt_id)));
  return battles.map((b) => ({
    id: b.id,
    vars: {
      prompt: prompts.get(b.prompt_id)?.prompt ?? "",
      response: responses.get(b.response_id)?.text ?? "",
      judgement_a: judgements.get(b.first_id)?.text ?? "",
      judgement_b: judgements.get(b.second_id)?.text ?? "",
    },
    stored: b.winner,
  }));
}

/** The request a run would send for this case: same model, sampling, seed and response format, so only the template differs. */
export function trialRequest(plan: TrialPlan, exp: Experiment, template: Template, c: JudgeCase | BattleCase): ChatRequest {
  const seed = deriveSeed(exp.config.roles[plan.role].sampling.seed, c.id);
  return requestBody(exp.config, plan.role, plan.endpoint.model, renderTemplate(template, c.vars), plan.n, seed);
}

/** Every case at once (the client caps concurrency); a failed case is reported, a cancellation ends all. */
export async function runTrial(
  plan: TrialPlan,
  exp: Experiment,
  template: Template,
  client: LlmClient,
  signal: AbortSignal,
  onDone: (o: Outcome) => void,
): Promise<Outcome[]> {
  return Promise.all(
    plan.cases.map(async (c) => {
      const started = Date.now();
      let outcome: Outcome;
      try {
        const result = await client.complete(trialRequest(plan, exp, template, c), signal);
        outcome = { id: c.id, answers: result.choices.map((ch) => parseAnswer(plan.role, plan.mode, ch.text)), ms: Date.now() - started };
      } catch (err) {
        if (isCancelled(err)) throw err;
        outcome = { id: c.id, answers: [], error: err, ms: Date.now() - started };
      }
      onDone(outcome);
      return outcome;
    }),
  );
}

function parseAnswer(role: TrialRole, mode: VerdictMode, text: string): Answer {
  if (role === "judge") {
    const { score, error } = parseScore(text, mode);
    return error === undefined ? { text, score } : { text, score, parseError: error };
  }
  const { winner, error } = parseWinner(text, mode);
  const side = winner === "A" ? "first" : winner === "B" ? "second" : null;
  return error === undefined ? { text, winner: side } : { text, winner: side, parseError: error };
}

/** Mean of the valid scores, or null when none is valid. */
export function meanScore(scores: readonly (number | null | undefined)[]): number | null {
  const valid = scores.filter((s): s is number => typeof s === "number");
  return valid.length === 0 ? null : valid.reduce((a, b) => a + b, 0) / valid.length;
}
