// Lookups over one prompt's InspectorData, shared by the panel and its tests (no editor API here).
import type {
  AnnotationLabel,
  InspectorBattle,
  InspectorData,
  InspectorJudgement,
  InspectorResponse,
  TargetKind,
} from "../../core/view/types.js";

export type InspectorRecord =
  | { kind: "response"; record: InspectorResponse }
  | { kind: "judgement"; record: InspectorJudgement }
  | { kind: "meta_judgement"; record: InspectorBattle };

export function findRecord(data: InspectorData, id: string): InspectorRecord | undefined {
  for (const r of data.responses) {
    if (r.id === id) return { kind: "response", record: r };
    const j = r.judgementList.find((x) => x.id === id);
    if (j) return { kind: "judgement", record: j };
  }
  const b = data.battles?.battles.find((x) => x.id === id);
  return b ? { kind: "meta_judgement", record: b } : undefined;
}

export function kindOf(data: InspectorData, id: string): TargetKind | undefined {
  return findRecord(data, id)?.kind;
}

/** Mirrors an annotation into loaded data, so a later re-send of the page shows it without a reload. */
export function applyAnnotation(data: InspectorData, id: string, label: AnnotationLabel | null, note: string | undefined): boolean {
  const found = findRecord(data, id);
  if (!found) return false;
  found.record.flag = label === null || label === "cleared" ? undefined : label;
  if (found.kind !== "meta_judgement") found.record.note = note || undefined;
  return true;
}
