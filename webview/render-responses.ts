// The responses side by side, each above its judgements; the parsed score is marked inside the text.
import type { InspectorJudgement, InspectorResponse } from "../src/shared/view.js";
import type { RenderContext } from "./context.js";
import { badge, flagBadge, h, modeBadgeOf, modelText, replaceChildren, roleBadge } from "./dom.js";
import { fmtCount, fmtFixed, fmtNum } from "./model.js";

function noteLine(note: string | undefined): HTMLElement | null {
  return note ? h("p", { class: "note", title: "Note" }, h("span", { class: "note-label" }, "Note: "), note) : null;
}

/** Badges and the note change with annotations; everything else about an item is fixed per render. */
function paintedBadges(ctx: RenderContext, id: string, statics: () => (HTMLElement | null)[], noteHost: HTMLElement): HTMLElement {
  const box = h("span", { class: "badges" });
  const noteSlot = h("div", { class: "note-slot" });
  noteHost.append(noteSlot);
  ctx.painter(id, () => {
    const rec = ctx.record(id);
    replaceChildren(box, ...statics(), flagBadge(rec?.flag));
    replaceChildren(noteSlot, noteLine(rec && "note" in rec ? rec.note : undefined));
  });
  return box;
}

function judgementItem(ctx: RenderContext, j: InspectorJudgement): HTMLElement {
  const item = h("li", {
    class: "item judgement",
    "data-judgement-id": j.id,
    "data-testid": "judgement",
    "aria-label": `Judgement ${ctx.label(j.id)}`,
  });
  const elo = j.elo ?? ctx.data.battles?.elo[j.id];
  const score =
    j.score === null
      ? h("span", { class: "score missing", title: "No valid score: excluded from the mean" }, "no score")
      : h(
          "span",
          { class: "score", title: "Parsed score (marked in the text)" },
          h("span", { class: "score-label" }, "score "),
          fmtNum(j.score),
        );
  const badges = paintedBadges(
    ctx,
    j.id,
    () => [
      roleBadge(j.pairRole, "judgement (judge pair)", ctx.record(j.id)?.flag),
      j.score === null ? badge("parse failed", "error", j.parseError ?? "No score found") : null,
      modeBadgeOf(j.mode, ctx.data.judgeMode),
    ],
    item,
  );
  const head = h(
    "div",
    { class: "item-head" },
    h("span", { class: "item-label" }, ctx.label(j.id)),
    score,
    elo === undefined ? null : h("span", { class: "elo", title: "Elo from the meta-judge battles" }, `Elo ${fmtFixed(elo)}`),
    h("span", { class: "muted" }, `${fmtCount(j.length)} ch`),
    badges,
  );
  item.prepend(head, h("div", { class: "actions-slot" }));
  if (j.parseError) item.append(h("p", { class: "parse-error", "data-testid": "parse-error" }, j.parseError));
  item.append(modelText(j.text, j.scoreSpan, "judgement-text", "The parsed score"));
  // Keep the painted note below the text, where the eye lands after reading.
  const noteSlot = item.querySelector(":scope > .note-slot");
  if (noteSlot) item.append(noteSlot);
  ctx.selection.register({ id: j.id, kind: "judgement", el: item, actionsSlot: () => item.querySelector(":scope > .actions-slot") });
  return item;
}

function responseColumn(ctx: RenderContext, r: InspectorResponse): HTMLElement {
  const card = h("article", {
    class: "item response",
    "data-response-id": r.id,
    "data-testid": "response",
    "aria-label": `Response ${ctx.label(r.id)}`,
  });
  const battled = ctx.data.battles?.responseId === r.id;
  const badges = paintedBadges(
    ctx,
    r.id,
    () => [
      roleBadge(r.pairRole, "response (actor pair)", ctx.record(r.id)?.flag),
      r.duplicateOf ? badge(`duplicate of ${ctx.label(r.duplicateOf)}`, "warning", `Exact duplicate of ${r.duplicateOf}: dropped`) : null,
      battled ? badge("battled", "info", "Highest score variance: its judgements met in meta-judge battles") : null,
    ],
    card,
  );
  const head = h(
    "div",
    { class: "item-head" },
    h("span", { class: "item-label" }, ctx.label(r.id)),
    h("span", { class: "score mean", title: "S: mean of the valid judgement scores" }, `S ${fmtNum(r.meanScore)}`),
    badges,
  );
  const meta = h(
    "div",
    { class: "meta muted" },
    `${fmtCount(r.length)} chars · ${r.validJudgements}/${r.judgements} scored · var ${fmtNum(r.variance)}`,
  );
  card.prepend(head, meta, h("div", { class: "actions-slot" }));
  card.append(modelText(r.text, undefined, "response-text"));
  const noteSlot = card.querySelector(":scope > .note-slot");
  if (noteSlot) card.append(noteSlot);
  ctx.selection.register({ id: r.id, kind: "response", el: card, actionsSlot: () => card.querySelector(":scope > .actions-slot") });

  const list = h("ol", { class: "judgements", "aria-label": `Judgements of ${ctx.label(r.id)}` });
  for (const j of r.judgementList) list.append(judgementItem(ctx, j));
  const col = h("section", { class: `column${battled ? " battled" : ""}`, "data-column": r.id }, card, list);
  if (r.judgementList.length === 0) col.append(h("p", { class: "muted empty" }, "No judgements yet."));
  return col;
}

export function renderResponses(ctx: RenderContext): HTMLElement {
  const row = h("div", { id: "responses", class: "columns", "data-testid": "responses" });
  for (const r of ctx.data.responses) row.append(responseColumn(ctx, r));
  if (ctx.data.responses.length === 0) row.append(h("p", { class: "muted empty" }, "No responses yet."));
  return row;
}

/**
 * Judgement boxes are short; scroll each so its marked score sits on the last visible line, with the
 * lines above it whole, so the score can be checked in context without opening the judgement.
 */
export function revealMarks(root: ParentNode): void {
  for (const pre of root.querySelectorAll<HTMLElement>("pre.judgement-text")) {
    const mark = pre.querySelector<HTMLElement>("mark");
    if (!mark || pre.scrollHeight <= pre.clientHeight) continue;
    const css = getComputedStyle(pre);
    const line = parseFloat(css.lineHeight);
    const padTop = parseFloat(css.paddingTop);
    const padBottom = parseFloat(css.paddingBottom);
    if (!(line > 0)) continue;
    const overflow = mark.offsetTop + mark.offsetHeight + padBottom - pre.clientHeight;
    if (overflow > 0) pre.scrollTop = Math.ceil((overflow - padTop) / line) * line + padTop;
  }
}
