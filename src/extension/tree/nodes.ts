// Tree nodes: plain data with a stable id, a namespaced contextValue and a parent link (so
// reveal works). Building the TreeItem is the provider's job.
import type { JudgementRow, PromptRow, ResponseRow, BattleRow, StageSummary, TrainingSummary } from "../../core/view/types.js";

interface Base {
  id: string;
  parent: Node | undefined;
}

export interface ExperimentNode extends Base {
  kind: "experiment";
  dir: string;
  name: string;
}
export interface IterationNode extends Base {
  kind: "iteration";
  dir: string;
  iteration: number;
}
export interface StageNode extends Base {
  kind: "stage";
  dir: string;
  iteration: number;
  stage: StageSummary;
}
export interface TrainingNode extends Base {
  kind: "training";
  dir: string;
  iteration: number;
  training: TrainingSummary;
}
export interface PromptsNode extends Base {
  kind: "prompts";
  dir: string;
  iteration: number;
  total: number;
}
export interface PageNode extends Base {
  kind: "page";
  dir: string;
  iteration: number;
  offset: number;
  limit: number;
  total: number;
}
export interface PromptNode extends Base {
  kind: "prompt";
  dir: string;
  iteration: number;
  row: PromptRow;
}
export interface ResponseNode extends Base {
  kind: "response";
  dir: string;
  iteration: number;
  row: ResponseRow;
}
export interface JudgementNode extends Base {
  kind: "judgement";
  dir: string;
  iteration: number;
  row: JudgementRow;
}
export interface BattlesNode extends Base {
  kind: "battles";
  dir: string;
  iteration: number;
  responseId: string;
  count: number;
}
export interface BattleNode extends Base {
  kind: "battle";
  dir: string;
  iteration: number;
  row: BattleRow;
}
export interface MessageNode extends Base {
  kind: "message";
  text: string;
  detail?: string;
}

export type Node =
  | ExperimentNode
  | IterationNode
  | StageNode
  | TrainingNode
  | PromptsNode
  | PageNode
  | PromptNode
  | ResponseNode
  | JudgementNode
  | BattlesNode
  | BattleNode
  | MessageNode;

/** Nodes that name one record of the data contract, and so can be annotated. */
export type RecordNode = ResponseNode | JudgementNode | BattleNode;

export function isRecordNode(n: unknown): n is RecordNode {
  const k = (n as { kind?: unknown } | undefined)?.kind;
  return k === "response" || k === "judgement" || k === "battle";
}

export function targetKindOf(n: RecordNode): "response" | "judgement" | "meta_judgement" {
  return n.kind === "battle" ? "meta_judgement" : n.kind;
}

/** Short, readable name of a record from its id (p42:r3:j7 → j7), keeping the full id in tooltips. */
export function shortName(id: string): string {
  const i = id.lastIndexOf(":");
  return i === -1 ? id : id.slice(i + 1);
}
