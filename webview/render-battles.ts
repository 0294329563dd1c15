// The meta-judge battles of the battled response: the ordered-verdict matrix, the battle under the
// cursor, the Elo ranking, the judge pair and the position-bias weights.
import type { InspectorBattle, InspectorBattles } from "../src/shared/view.js";
import type { RenderContext } from "./context.js";
import { badge, flagBadge, h, modeBadgeOf, modelText, replaceChildren, roleBadge, skipDetail, skipLine } from "./dom.js";
import { buildMatrix, eloRanking, fmtCount, fmtFixed, fmtNum, verdictOf, type BattleMatrix, type Verdict } from "./model.js";
import { ref } from "./render-prompt.js";

const VERDICT_TEXT: Record<Verdict, string> = { first: "1st", second: "2nd", none: "–" };
const VERDICT_WORDS: Record<Verdict, string> = { first: "first won", second: "second won", none: "no verdict" };

export interface BattleView {
  root: HTMLElement;
  matrix: BattleMatrix;
}

function matrixTable(
  ctx: RenderContext,
  b: InspectorBattles,
  m: BattleMatrix,
  open: (battleId: string) => HTMLElement | null,
): HTMLTableElement {
  const roleClass = (id: string): string => (b.pair?.chosenId === id ? "role-chosen" : b.pair?.rejectedId === id ? "role-rejected" : "");
  const head = h("tr", {}, h("th", { class: "corner", scope: "col", title: "Rows: shown first. Columns: shown second." }, "1st ╲ 2nd"));
  for (const id of m.ids) head.append(h("th", { scope: "col", class: roleClass(id), "data-col-id": id, title: id }, ctx.label(id)));
  const body = h("tbody");
  m.cells.forEach((row, r) => {
    const rowId = m.ids[r] ?? "";
    const tr = h("tr", {}, h("th", { scope: "row", class: roleClass(rowId), "data-row-id": rowId, title: rowId }, ctx.label(rowId)));
    row.forEach((cell, c) => {
      if (!cell) {
        tr.append(h("td", { class: r === c ? "cell diagonal" : "cell missing", "aria-hidden": "true" }));
        return;
      }
      const v = verdictOf(cell.battle);
      const colId = m.ids[c] ?? "";
      const td = h(
        "td",
        {
          class: `cell v-${v}${cell.inconsistent ? " inconsistent" : ""}`,
          "data-battle-id": cell.battle.id,
          "data-testid": "battle-cell",
          "data-verdict": v,
          "aria-label": `${ctx.label(rowId)} first, ${ctx.label(colId)} second: ${VERDICT_WORDS[v]}${cell.inconsistent ? ", contradicts the other order" : ""}`,
        },
        VERDICT_TEXT[v],
      );
      ctx.painter(cell.battle.id, () => td.classList.toggle("flagged", ctx.record(cell.battle.id)?.flag === "suspicious"));
      ctx.selection.register({ id: cell.battle.id, kind: "meta_judgement", el: td, actionsSlot: () => open(cell.battle.id) });
      tr.append(td);
    });
    body.append(tr);
  });
  return h(
    "table",
    { id: "battle-matrix", "data-testid": "battle-matrix", class: "matrix" },
    h("caption", {}, "Rows: judgement shown first · columns: shown second · cell: that order's verdict"),
    h("thead", {}, head),
    body,
  );
}

function legend(m: BattleMatrix): HTMLElement {
  const key = (cls: string, text: string, words: string): HTMLElement =>
    h("span", { class: "legend-item" }, h("span", { class: `cell swatch ${cls}` }, text), words);
  return h(
    "div",
    { class: "legend", id: "matrix-legend", "data-testid": "matrix-legend" },
    key("v-first", "1st", "first won"),
    key("v-second", "2nd", "second won"),
    key("v-none", "–", "no verdict"),
    key("v-first inconsistent", "1st", `order-inconsistent pair: both orders won by the same position (${m.inconsistentPairs})`),
    key("v-first flagged", "1st", "flagged"),
  );
}

function eloTable(ctx: RenderContext, b: InspectorBattles): HTMLElement {
  const entries = eloRanking(b);
  if (entries.length === 0) return h("p", { id: "elo-ranking", class: "muted" }, "No Elo: no decisive battles.");
  const max = Math.max(...entries.map((e) => e.elo));
  const min = Math.min(...entries.map((e) => e.elo));
  const judgement = (id: string) => ctx.data.responses.find((r) => r.id === b.responseId)?.judgementList.find((j) => j.id === id);
  const body = h("tbody");
  entries.forEach((e, i) => {
    const bar = h("span", { class: "bar" });
    bar.style.width = `${max === min ? 100 : Math.max(2, ((e.elo - min) / (max - min)) * 100)}%`;
    const j = judgement(e.id);
    body.append(
      h(
        "tr",
        { "data-elo-id": e.id },
        h("td", { class: "num muted" }, String(i + 1)),
        h("td", {}, ref(ctx, e.id)),
        h("td", { class: "num" }, fmtFixed(e.elo)),
        h("td", { class: "bar-cell" }, bar),
        h("td", { class: "num muted", title: "Score this judgement gave" }, j ? fmtNum(j.score) : ""),
        h("td", { class: "num muted", title: "Length in characters" }, j ? fmtCount(j.length) : ""),
        h("td", {}, roleBadge(e.role, "judgement")),
      ),
    );
  });
  return h(
    "table",
    { id: "elo-ranking", "data-testid": "elo-ranking", class: "ranking" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, "#"),
        h("th", {}, "judgement"),
        h("th", { class: "num" }, "Elo"),
        h("th", {}),
        h("th", { class: "num" }, "score"),
        h("th", { class: "num" }, "chars"),
        h("th", {}),
      ),
    ),
    body,
  );
}

function judgePair(ctx: RenderContext, b: InspectorBattles): HTMLElement {
  const root = h("div", { id: "judge-pair", "data-testid": "judge-pair" });
  if (b.pair) {
    root.append(
      h("p", {}, roleBadge("chosen", "judgement"), " ", ref(ctx, b.pair.chosenId), ` Elo ${fmtFixed(b.elo[b.pair.chosenId])} (highest)`),
      h(
        "p",
        {},
        roleBadge("rejected", "judgement"),
        " ",
        ref(ctx, b.pair.rejectedId),
        ` Elo ${fmtFixed(b.elo[b.pair.rejectedId])} (lowest)`,
      ),
    );
  }
  if (b.skip) root.append(skipLine(b.skip, skipDetail(b), "judge-skip"));
  if (!b.pair && !b.skip) root.append(h("p", { class: "muted" }, "No judge pair yet."));
  return root;
}

function stats(b: InspectorBattles): HTMLElement {
  const s = b.stats;
  if (!s) return h("p", { id: "battle-stats", class: "muted" }, "No battle statistics yet.");
  const decisive = s.win_1st + s.win_2nd;
  const share = decisive > 0 ? ` (${Math.round((100 * s.win_1st) / decisive)}% of decisive)` : "";
  const row = (name: string, value: string, why: string): HTMLElement =>
    h("tr", {}, h("th", { scope: "row" }, name), h("td", { class: "num" }, value), h("td", { class: "muted" }, why));
  return h(
    "table",
    { id: "battle-stats", "data-testid": "battle-stats", class: "stats" },
    row("battles", fmtCount(s.battles), `${fmtCount(s.decisive)} decisive`),
    row("win_1st", fmtCount(s.win_1st), `won by the judgement shown first${share}`),
    row("win_2nd", fmtCount(s.win_2nd), "won by the judgement shown second"),
    row("w1", fmtFixed(s.w1, 3), "= win_2nd / (win_1st + win_2nd): weight of a first-position win"),
    row("w2", fmtFixed(s.w2, 3), "= win_1st / (win_1st + win_2nd): weight of a second-position win"),
  );
}

function detail(ctx: RenderContext, battle: InspectorBattle, m: BattleMatrix): { el: HTMLElement; slot: HTMLElement } {
  const v = verdictOf(battle);
  const winnerId = v === "first" ? battle.firstId : v === "second" ? battle.secondId : null;
  const reverse = m.cells.flat().find((c) => c?.battle.firstId === battle.secondId && c.battle.secondId === battle.firstId)?.battle;
  const flags = h("span", { class: "badges" });
  ctx.painter(battle.id, () => replaceChildren(flags, flagBadge(ctx.record(battle.id)?.flag)), "detail");
  const slot = h("div", { class: "actions-slot" });
  const head = h(
    "div",
    { class: "item-head" },
    h(
      "span",
      { class: "item-label" },
      ctx.label(battle.firstId),
      h("span", { class: "muted" }, " first vs "),
      ctx.label(battle.secondId),
      h("span", { class: "muted" }, " second"),
    ),
    winnerId ? badge(`${VERDICT_WORDS[v]}: ${ctx.label(winnerId)}`, v === "first" ? "info" : "neutral") : badge("no verdict", "error"),
    modeBadgeOf(battle.mode, ctx.data.metaJudgeMode),
    reverse
      ? h("span", { class: "muted" }, "reverse order ", ref(ctx, reverse.id), `: ${VERDICT_WORDS[verdictOf(reverse)]}`)
      : h("span", { class: "muted" }, "no reverse-order battle"),
    flags,
  );
  const el = h("div", { class: "battle-detail-body" }, head, slot);
  if (battle.parseError) el.append(h("p", { class: "parse-error" }, battle.parseError));
  el.append(modelText(battle.text, battle.winnerSpan, "battle-text", "The parsed verdict"));
  return { el, slot };
}

export function renderBattles(ctx: RenderContext, b: InspectorBattles): BattleView {
  const m = buildMatrix(b);
  const detailHost = h(
    "div",
    { id: "battle-detail", "data-testid": "battle-detail", "aria-live": "polite" },
    h("p", { class: "muted" }, "Select a cell to read that battle."),
  );
  // Selecting a cell shows its battle below the matrix; the detail holds the cell's action buttons.
  const open = (battleId: string): HTMLElement | null => {
    const battle = b.battles.find((x) => x.id === battleId);
    if (!battle) return null;
    const d = detail(ctx, battle, m);
    replaceChildren(detailHost, d.el);
    return d.slot;
  };
  const strays =
    m.stray.length > 0
      ? h(
          "p",
          { class: "parse-error" },
          `${m.stray.length} battle(s) name judgements outside this response: ${m.stray.map((x) => x.id).join(", ")}`,
        )
      : null;
  const root = h(
    "div",
    { class: "battles" },
    h(
      "div",
      { class: "battles-layout" },
      h("div", { class: "matrix-pane" }, matrixTable(ctx, b, m, open), legend(m), strays),
      h(
        "div",
        { class: "side-pane" },
        h("h3", {}, "Elo ranking"),
        eloTable(ctx, b),
        h("h3", {}, "Judge pair"),
        judgePair(ctx, b),
        h("h3", {}, "Position bias"),
        stats(b),
      ),
    ),
    detailHost,
  );
  return { root, matrix: m };
}
