// The inspector page. It announces itself at once (`ready` with the state it had before a reload),
// then draws whatever prompt the host sends and reports the selection back.
import "@vscode-elements/elements/dist/vscode-badge/index.js";
import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-collapsible/index.js";
import "./inspector.css";
import type { AnnotationLabel, InspectorData } from "../src/shared/view.js";
import type { HostMessage, InspectorState, WebviewMessage } from "../src/shared/protocol.js";
import { indexRecords, type Annotatable, type RenderContext } from "./context.js";
import { button, h, replaceChildren } from "./dom.js";
import { navigationItems, staleMembers, staleNotice } from "./model.js";
import { renderBattles } from "./render-battles.js";
import { renderActorPair, renderHead, renderPrompt } from "./render-prompt.js";
import { renderResponses, revealMarks } from "./render-responses.js";
import { Selection, type Selectable } from "./selection.js";
import { parseState } from "./state.js";

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): unknown;
  setState(state: InspectorState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
let state: InspectorState | null = parseState(vscode.getState());
let data: InspectorData | undefined;
let records = new Map<string, Annotatable>();
let painters = new Map<string, Map<string, () => void>>();
let painterSeq = 0;

const post = (m: WebviewMessage): void => vscode.postMessage(m);

// ---- the page frame ------------------------------------------------------------------------------

const headInfo = h("div", { class: "head-info" }, h("span", { class: "muted" }, "Metajudge inspector"));
const navButtons = h(
  "div",
  { class: "head-nav" },
  button("Previous prompt", () => openAdjacent("previous"), { secondary: true, id: "prev-prompt" }),
  button("Next prompt", () => openAdjacent("next"), { secondary: true, id: "next-prompt" }),
);
const status = h("div", { id: "status", role: "status", "data-testid": "status" });
// Says when a flag has left the stored pairs behind; repainted on every render and annotation.
const pairsNotice = h("div", { id: "pairs-stale", role: "status", "data-testid": "pairs-stale" });
let labelOf: (id: string) => string = (id) => id;
const content = h("main", { id: "content" });
const keysHint = h("p", { class: "keys muted" }, "j / k: next / previous item · arrows: move in a column or the matrix · Tab: next area");
document.body.append(h("header", { class: "page-head" }, headInfo, navButtons), status, pairsNotice, content);

function paintPairsNotice(): void {
  const text = data ? staleNotice(staleMembers(data), labelOf) : null;
  replaceChildren(pairsNotice, text ? h("p", { class: "stale-pairs" }, text) : null);
}

function currentAnnotatable(): Selectable | undefined {
  return selection.current();
}

function annotate(label: AnnotationLabel): void {
  const item = currentAnnotatable();
  if (item) post({ type: "annotateInteractive", targetId: item.id, targetKind: item.kind, label });
}

const actions = h(
  "div",
  { class: "item-actions", role: "toolbar", "aria-label": "Actions on the selected item" },
  button("Flag as Suspicious", () => annotate("suspicious"), { id: "action-flag" }),
  button("Confirm", () => annotate("confirmed"), { secondary: true, id: "action-confirm" }),
  button(
    "Note",
    () => {
      const item = currentAnnotatable();
      if (item) post({ type: "noteInteractive", targetId: item.id, targetKind: item.kind });
    },
    { secondary: true, id: "action-note" },
  ),
  button(
    "Reveal in file",
    () => {
      const item = currentAnnotatable();
      if (item) post({ type: "reveal", targetId: item.id });
    },
    { secondary: true, id: "action-reveal" },
  ),
);

const selection = new Selection(actions, {
  didSelect(item) {
    highlightMatrixHeaders(item);
    // The item left behind shrinks back to a few lines: bring its marked score into view again.
    requestAnimationFrame(() => revealMarks(content));
    if (state) {
      state = { ...state, selectedId: item.id };
      vscode.setState(state);
    }
    // A restored selection is reported too, so the host always knows the kind of what is selected.
    post({ type: "selected", targetId: item.id, targetKind: item.kind });
  },
});

function openAdjacent(direction: "next" | "previous"): void {
  if (data) post({ type: "openPrompt", promptId: data.prompt.id, direction });
}

function highlightMatrixHeaders(item: Selectable): void {
  for (const th of content.querySelectorAll(".matrix th.hl")) th.classList.remove("hl");
  const battle = item.kind === "meta_judgement" ? data?.battles?.battles.find((b) => b.id === item.id) : undefined;
  const rowId = battle ? battle.firstId : item.kind === "judgement" ? item.id : undefined;
  const colId = battle ? battle.secondId : rowId;
  if (rowId) content.querySelector(`.matrix th[data-row-id="${CSS.escape(rowId)}"]`)?.classList.add("hl");
  if (colId) content.querySelector(`.matrix th[data-col-id="${CSS.escape(colId)}"]`)?.classList.add("hl");
}

// ---- rendering -------------------------------------------------------------------------------------

function section(id: string, heading: string, description: string, body: Node): HTMLElement {
  const c = document.createElement("vscode-collapsible");
  c.id = id;
  c.heading = heading;
  c.description = description;
  c.open = true;
  c.append(body);
  return c;
}

function render(next: InspectorData, selectedId: string | undefined): void {
  const samePrompt = data?.prompt.id === next.prompt.id && data.iteration === next.iteration && data.experimentDir === next.experimentDir;
  const columnsScroll = samePrompt ? (content.querySelector("#responses")?.scrollLeft ?? 0) : 0;
  data = next;
  const index = indexRecords(next);
  records = index.records;
  labelOf = (id) => index.labels.get(id) ?? id;
  painters = new Map();
  selection.reset();
  const ctx: RenderContext = {
    data: next,
    selection,
    label: (id) => index.labels.get(id) ?? id,
    record: (id) => records.get(id),
    painter(id, paint, slot) {
      const forId = painters.get(id) ?? new Map<string, () => void>();
      painters.set(id, forId);
      forId.set(slot ?? `#${painterSeq++}`, paint);
      paint();
    },
    post,
  };

  replaceChildren(headInfo, renderHead(ctx));
  const battled = next.responses.find((r) => r.id === next.battles?.responseId);
  const battleView = next.battles ? renderBattles(ctx, next.battles) : null;
  replaceChildren(
    content,
    section("prompt", "Prompt", "", renderPrompt(ctx)),
    section("actor-pair-section", "Actor pair", `ρ = ${next.actorPair.rho}`, renderActorPair(ctx)),
    section(
      "responses-section",
      "Responses and judgements",
      `${next.responses.length} side by side`,
      h("div", {}, keysHint, renderResponses(ctx)),
    ),
    section(
      "meta-judge",
      "Meta-judge battles",
      battled ? `judgements of r${battled.index}` : "",
      battleView?.root ??
        h(
          "p",
          { class: "muted", id: "no-battles" },
          "No battles for this prompt: the meta-judge needs a response with at least two valid judgements whose scores differ.",
        ),
    ),
  );
  selection.setOrder(navigationItems(next, battleView?.matrix ?? null));
  paintPairsNotice();
  status.replaceChildren();
  content.removeAttribute("aria-busy");

  state = { experimentDir: next.experimentDir, iteration: next.iteration, promptId: next.prompt.id };
  vscode.setState(state);
  if (selection.has(selectedId)) selection.select(selectedId);
  requestAnimationFrame(() => {
    revealMarks(content);
    const cols = content.querySelector("#responses");
    if (cols) cols.scrollLeft = columnsScroll;
    // A reload of the same prompt keeps the reader's place; another prompt starts at its top.
    if (!samePrompt) window.scrollTo(0, 0);
    selection.current()?.el.scrollIntoView({ block: "nearest", inline: "nearest" });
  });
}

function applyAnnotation(targetId: string, label: AnnotationLabel | null, note: string | undefined): void {
  const rec = records.get(targetId);
  if (!rec) return;
  rec.flag = label === null || label === "cleared" ? undefined : label;
  // Battles carry no note; responses and judgements do.
  if ("judgementList" in rec || "responseId" in rec) rec.note = note;
  for (const paint of painters.get(targetId)?.values() ?? []) paint();
  paintPairsNotice();
}

function setStatus(text: string, kind: "loading" | "error"): void {
  replaceChildren(status, h("p", { class: kind === "error" ? "error" : "muted", role: kind === "error" ? "alert" : undefined }, text));
  if (kind === "loading") content.setAttribute("aria-busy", "true");
}

window.addEventListener("message", (event: MessageEvent<unknown>) => {
  const m = event.data as HostMessage | null;
  if (typeof m !== "object" || m === null || typeof m.type !== "string") return;
  switch (m.type) {
    case "show":
      render(m.data, m.selectedId);
      break;
    case "loading":
      setStatus(`Loading prompt ${m.promptId}…`, "loading");
      break;
    case "error":
      setStatus(m.message, "error");
      break;
    case "annotation":
      applyAnnotation(m.targetId, m.label, m.note);
      break;
    case "select":
      selection.step(m.direction);
      break;
    case "reply":
      break;
  }
});
document.addEventListener("keydown", (e) => selection.handleKey(e));

post({ type: "ready", state });
