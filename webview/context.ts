// What every part of the page is rendered with: the data, the selection, labels, annotation hooks.
import type { InspectorBattle, InspectorData, InspectorJudgement, InspectorResponse } from "../src/shared/view.js";
import type { WebviewMessage } from "../src/shared/protocol.js";
import type { Selection } from "./selection.js";

export type Annotatable = InspectorResponse | InspectorJudgement | InspectorBattle;

export interface RenderContext {
  data: InspectorData;
  selection: Selection;
  /** r3, j7, j2▸j5: the indexes the record ids carry, short enough for badges and matrix headers. */
  label(id: string): string;
  record(id: string): Annotatable | undefined;
  /** Re-run `paint` whenever this item's annotation changes; it runs once now. A later painter with the same `slot` replaces it. */
  painter(id: string, paint: () => void, slot?: string): void;
  post(message: WebviewMessage): void;
}

export function indexRecords(data: InspectorData): { labels: Map<string, string>; records: Map<string, Annotatable> } {
  const labels = new Map<string, string>();
  const records = new Map<string, Annotatable>();
  for (const r of data.responses) {
    labels.set(r.id, `r${r.index}`);
    records.set(r.id, r);
    for (const j of r.judgementList) {
      labels.set(j.id, `j${j.index}`);
      records.set(j.id, j);
    }
  }
  for (const b of data.battles?.battles ?? []) {
    labels.set(b.id, `${labels.get(b.firstId) ?? b.firstId}▸${labels.get(b.secondId) ?? b.secondId}`);
    records.set(b.id, b);
  }
  return { labels, records };
}
