// Tree nodes: plain data with a stable id, a namespaced contextValue and a parent link (so reveal
// works). Each kind's children and TreeItem live in its own module (nodes/<kind>.ts); index.ts lists
// them for the provider. The data types are here, together, because each names the union as parent.
import type * as vscode from "vscode";
import type {
  JudgementRow,
  PromptRow,
  PromptSort,
  ResponseRow,
  BattleRow,
  StageSummary,
  TrainingSummary,
} from "../../../core/view/types.js";
import type { Experiments } from "../../experiments.js";
import type { Services } from "../../services.js";

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

export type NodeKindName = Node["kind"];

/** What a node kind reads from the tree it is in: the model, the settings, and the view's filters. */
export interface TreeContext {
  readonly experiments: Experiments;
  readonly services: Services;
  readonly sort: PromptSort;
  readonly flaggedOnly: boolean;
  /** Keeps an iteration's node, so a change on disk refreshes that line and leaves the rest expanded. */
  remember(node: IterationNode): void;
}

/** One kind of node: its children (none when absent) and how it shows. */
export interface NodeKind<N extends Node> {
  children?(node: N, tree: TreeContext): Node[] | Promise<Node[]>;
  item(node: N, tree: TreeContext): vscode.TreeItem;
}

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
