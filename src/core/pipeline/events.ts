// Progress events: what the CLI prints with --json (one object a line) and the extension listens to.
// Declared in src/shared/cli-wire.ts, the contract both sides build on; the checks below keep the
// core's own vocabularies and the wire's the same.
import type { ProgressEvent, WireErrorReason, WireStage, WireStageState } from "../../shared/cli-wire.js";
import type { ErrorReason } from "../errors.js";
import type { StageName, StageState } from "../schema.js";

export type { ProgressEvent } from "../../shared/cli-wire.js";

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameVocabulary: [Same<StageName, WireStage>, Same<StageState, WireStageState>, Same<ErrorReason, WireErrorReason>] = [
  true,
  true,
  true,
];
void sameVocabulary;

export type EventSink = (e: ProgressEvent) => void;
