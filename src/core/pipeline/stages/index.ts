// The stages of an iteration as one table, in run order. A model stage plans requests from what is
// on disk and runLlmStage sends them (live, or as a batch file or job); a derived stage computes its
// file from the others. The runner, batch files, batch jobs and `status` all read this table, so a new
// stage is its module, its name in STAGES (schema.ts: the manifest's shape) and one entry here.
import { STAGES, type Role, type StageName } from "../../schema.js";
import type { RunContext } from "../context.js";
import type { LlmPlan } from "../llm-stage.js";
import { runExport, runPairs } from "./derived.js";
import { planGenerate } from "./generate.js";
import { planJudge } from "./judge.js";
import { planMetajudge } from "./metajudge.js";

export interface ModelStage<N extends string = string> {
  name: N;
  kind: "model";
  /** The role whose endpoint answers this stage's requests. */
  role: Role;
  /** The requests the stage still needs, from what is on disk. */
  plan(ctx: RunContext): Promise<LlmPlan>;
}

export interface DerivedStage<N extends string = string> {
  name: N;
  kind: "derived";
  /** Computes the stage's output from the files and returns its counts for the manifest. */
  run(ctx: RunContext): Promise<Record<string, number>>;
}

export type StageDef<N extends string = string> = ModelStage<N> | DerivedStage<N>;
export type StageTable = readonly StageDef[];

const DEFS = {
  generate: { name: "generate", kind: "model", role: "actor", plan: planGenerate },
  judge: { name: "judge", kind: "model", role: "judge", plan: planJudge },
  metajudge: { name: "metajudge", kind: "model", role: "meta_judge", plan: planMetajudge },
  pairs: { name: "pairs", kind: "derived", run: runPairs },
  export: { name: "export", kind: "derived", run: runExport },
} as const satisfies { [K in StageName]: StageDef<K> };

/** The built-in stages, in the order of STAGES. */
export const STAGE_TABLE: readonly StageDef<StageName>[] = STAGES.map((name) => DEFS[name]);

/** The stages that call a model, the ones a batch file or a batch job can carry. */
export type LlmStageName = { [K in StageName]: (typeof DEFS)[K]["kind"] extends "model" ? K : never }[StageName];
export const LLM_STAGES: readonly LlmStageName[] = STAGE_TABLE.filter((s): s is ModelStage<LlmStageName> => s.kind === "model").map(
  (s) => s.name,
);

export function modelStage(name: LlmStageName): ModelStage<LlmStageName> {
  return DEFS[name];
}

/** The requests a model-calling stage still needs, from what is on disk. */
export function planLlmStage(ctx: RunContext, stage: LlmStageName): Promise<LlmPlan> {
  return modelStage(stage).plan(ctx);
}
