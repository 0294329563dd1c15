// The page head, the prompt, and why the actor pair is what it is.
import type { InspectorResponse } from "../src/shared/view.js";
import type { RenderContext } from "./context.js";
import { badge, h, modelText, roleBadge, skipDetail, skipLine } from "./dom.js";
import { fmtCount, fmtNum, tierBounds, tierCandidates } from "./model.js";

const JUDGE_MODES: Record<string, string> = {
  text: "Scores parsed from the last “Score: X” in each judgement's text",
  json_schema: "Scores read from structured (JSON schema) judge output",
};
const META_JUDGE_MODES: Record<string, string> = {
  text: "Verdicts parsed from the last “Winner: Judgement A|B” in each battle's text",
  json_schema: "Verdicts read from structured (JSON schema) meta-judge output",
};

/** A link-like button that moves the selection to a record elsewhere on the page. */
export function ref(ctx: RenderContext, id: string, text = ctx.label(id)): HTMLButtonElement {
  const b = h("button", { class: "ref", type: "button", title: `Go to ${id}` }, text);
  b.addEventListener("click", (e) => {
    e.stopPropagation();
    ctx.selection.select(id, { focus: true });
  });
  return b;
}

export function renderHead(ctx: RenderContext): HTMLElement {
  const d = ctx.data;
  const judgements = d.responses.reduce((n, r) => n + r.judgementList.length, 0);
  return h(
    "div",
    { class: "head-info" },
    h("h1", { id: "prompt-id", title: d.prompt.id }, "Prompt ", h("code", {}, d.prompt.id)),
    h("span", { class: "muted" }, `iteration ${d.iteration}`),
    badge(`judge mode: ${d.judgeMode}`, "info", JUDGE_MODES[d.judgeMode]),
    // Shown only when it differs, so the usual page (both roles alike) keeps one badge.
    d.metaJudgeMode !== undefined && d.metaJudgeMode !== d.judgeMode
      ? badge(`meta-judge mode: ${d.metaJudgeMode}`, "info", META_JUDGE_MODES[d.metaJudgeMode])
      : null,
    h(
      "span",
      { class: "muted" },
      `${d.responses.length} responses · ${fmtCount(judgements)} judgements · ${fmtCount(d.battles?.battles.length ?? 0)} battles`,
    ),
  );
}

export function renderPrompt(ctx: RenderContext): HTMLElement {
  return modelText(ctx.data.prompt.text, undefined, "prompt-text", undefined, "prompt-text");
}

/** Why the pick beat the other eligible responses: it is shorter (chosen) or longer (rejected) than each. */
function candidateList(ctx: RenderContext, list: InspectorResponse[], pickedId: string | null, role: "chosen" | "rejected"): HTMLElement {
  const others = list.filter((r) => r.id !== pickedId);
  if (pickedId === null) return h("span");
  if (others.length === 0) return h("span", { class: "muted" }, "— the only one in its tier");
  const out = h("span", { class: "muted" }, role === "chosen" ? "— shorter than " : "— longer than ");
  others.forEach((r, i) => {
    if (i > 0) out.append(", ");
    out.append(ref(ctx, r.id), ` (${fmtCount(r.length)} ch, S ${fmtNum(r.meanScore)})`);
  });
  return out;
}

function picked(ctx: RenderContext, id: string | null, role: "chosen" | "rejected"): HTMLElement {
  const r = ctx.data.responses.find((x) => x.id === id);
  if (!r) return h("span", { class: "muted" }, "none qualifies");
  return h(
    "span",
    { class: "picked" },
    roleBadge(role, "response"),
    " ",
    ref(ctx, r.id),
    ` · ${fmtCount(r.length)} chars · S ${fmtNum(r.meanScore)}`,
  );
}

const scoreHolders = (rs: InspectorResponse[], s: number): string =>
  rs
    .filter((r) => r.meanScore !== null && Math.abs(r.meanScore - s) < 1e-9)
    .map((r) => `r${r.index}`)
    .join(", ");

export function renderActorPair(ctx: RenderContext): HTMLElement {
  const p = ctx.data.actorPair;
  const bounds = tierBounds(p);
  const root = h("div", { id: "actor-pair", "data-testid": "actor-pair", class: "actor-pair" });
  const facts = h("dl", { class: "facts" });
  const fact = (name: Node | string, value: string, hint?: string): void => {
    facts.append(h("div", {}, h("dt", {}, name), h("dd", {}, value, hint ? h("span", { class: "muted" }, ` (${hint})`) : null)));
  };
  const sub = (base: string, s: string): HTMLElement => h("span", {}, base, h("sub", {}, s));
  fact(sub("S", "max"), fmtNum(p.sMax), p.sMax === null ? undefined : scoreHolders(ctx.data.responses, p.sMax));
  fact(sub("S", "min"), fmtNum(p.sMin), p.sMin === null ? undefined : scoreHolders(ctx.data.responses, p.sMin));
  fact("ρ", fmtNum(p.rho, 3), p.rho === 0 ? "best vs worst" : "length control");
  root.append(facts);

  // A skipped prompt's bounds pick nothing; the reason says why instead.
  if (bounds && !p.skip) {
    const c = tierCandidates(ctx.data.responses, bounds);
    const row = (name: string, formula: string, rule: string, pick: HTMLElement, over: HTMLElement): HTMLElement =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, name),
        h("td", { class: "formula" }, formula),
        h("td", { class: "rule" }, rule),
        h("td", {}, pick, " ", over),
      );
    root.append(
      h(
        "table",
        { class: "tiers", "data-testid": "tier-bounds" },
        row(
          "upper",
          bounds.upperFormula,
          "chosen = shortest with S ≥ upper",
          picked(ctx, p.chosenId, "chosen"),
          candidateList(ctx, c.high, p.chosenId, "chosen"),
        ),
        row(
          "lower",
          bounds.lowerFormula,
          "rejected = longest with S ≤ lower",
          picked(ctx, p.rejectedId, "rejected"),
          candidateList(ctx, c.low, p.rejectedId, "rejected"),
        ),
      ),
    );
  }
  if (p.skip) root.append(skipLine(p.skip, skipDetail(p), "actor-skip"));
  return root;
}
