// Every kind of node in the Iterations view, by the `kind` its data carries. A new kind is its data
// type in types.ts, its module here beside the others, and one entry in NODE_KINDS.
import { battleKind } from "./battle.js";
import { battlesKind } from "./battles.js";
import { experimentKind } from "./experiment.js";
import { iterationKind } from "./iteration.js";
import { judgementKind } from "./judgement.js";
import { messageKind } from "./message.js";
import { pageKind } from "./page.js";
import { promptKind } from "./prompt.js";
import { promptsKind } from "./prompts.js";
import { responseKind } from "./response.js";
import { stageKind } from "./stage.js";
import { trainingKind } from "./training.js";
import type { Node, NodeKind, NodeKindName } from "./types.js";

export * from "./types.js";

export const NODE_KINDS: { readonly [K in NodeKindName]: NodeKind<Extract<Node, { kind: K }>> } = {
  experiment: experimentKind,
  iteration: iterationKind,
  stage: stageKind,
  training: trainingKind,
  prompts: promptsKind,
  page: pageKind,
  prompt: promptKind,
  response: responseKind,
  judgement: judgementKind,
  battles: battlesKind,
  battle: battleKind,
  message: messageKind,
};

/** The kind module of a node, typed for that node (the compiler cannot tie a kind to its entry by itself). */
export function kindOf<N extends Node>(node: N): NodeKind<N> {
  return NODE_KINDS[node.kind] as unknown as NodeKind<N>;
}
