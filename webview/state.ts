// What getState hands back is whatever an earlier version of this page stored: check it before use.
import type { InspectorState } from "../src/shared/protocol.js";

export function parseState(raw: unknown): InspectorState | null {
  if (typeof raw !== "object" || raw === null) return null;
  const s = raw as Record<string, unknown>;
  if (typeof s.experimentDir !== "string" || typeof s.iteration !== "number" || typeof s.promptId !== "string") return null;
  const out: InspectorState = { experimentDir: s.experimentDir, iteration: s.iteration, promptId: s.promptId };
  if (typeof s.selectedId === "string") out.selectedId = s.selectedId;
  return out;
}
