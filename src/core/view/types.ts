// The workbench's view data is defined in src/shared (the webview reads it too); core code keeps
// importing it from here. The checks below keep the shared copies of the schema's unions honest.
import type * as schema from "../schema.js";
import type * as shared from "../../shared/view.js";

export * from "../../shared/view.js";

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameUnions: [
  Same<schema.StageName, shared.StageName>,
  Same<schema.StageState, shared.StageState>,
  Same<schema.VerdictMode, shared.VerdictMode>,
] = [true, true, true];
void sameUnions;
