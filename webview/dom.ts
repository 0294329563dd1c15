// The only way this page builds nodes. Strings always become text nodes and attributes are set one by
// one, so model output (which may hold markup) is shown as text and never parsed as HTML.
import type { AnnotationLabel } from "../src/shared/view.js";
import { modeBadge, splitAtSpan, type Mode } from "./model.js";

export type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

export type Tone = "neutral" | "chosen" | "rejected" | "warning" | "error" | "info" | "confirmed";

/** A themed badge: the tone only swaps which --vscode-* colours the badge reads. */
export function badge(text: string, tone: Tone = "neutral", title?: string): HTMLElement {
  const b = document.createElement("vscode-badge");
  b.className = `tone-${tone}`;
  b.textContent = text;
  if (title) b.title = title;
  return b;
}

export function flagBadge(flag: AnnotationLabel | undefined): HTMLElement | null {
  if (flag === "suspicious") return badge("suspicious", "warning", "Flagged as suspicious: excluded from pair selection");
  if (flag === "confirmed") return badge("confirmed", "confirmed", "Checked by a person and confirmed");
  return null;
}

export function roleBadge(role: "chosen" | "rejected" | undefined, what: string, flag?: AnnotationLabel): HTMLElement | null {
  if (!role) return null;
  const Role = role === "chosen" ? "Chosen" : "Rejected";
  // Pair selection leaves flagged items out: a flagged member is a pair computed before the flag.
  if (flag === "suspicious") {
    return badge(
      `${role} · pairs out of date`,
      "warning",
      `${Role} ${what} in the stored pairs, computed before this flag; Recompute Pairs selects without it`,
    );
  }
  return badge(role, role, `${Role} ${what}`);
}

export function modeBadgeOf(recordMode: Mode | undefined, pageMode: Mode | undefined): HTMLElement | null {
  const m = modeBadge(recordMode, pageMode);
  return m ? badge(m.text, "info", m.title) : null;
}

/**
 * Model text in a <pre>, with an optional span (a parsed score, a verdict) wrapped in <mark>. Three
 * text nodes, whatever the text holds.
 */
export function modelText(
  text: string,
  span: readonly [number, number] | undefined,
  cls: string,
  markTitle?: string,
  id?: string,
): HTMLPreElement {
  const pre = h("pre", { class: `model-text ${cls}`, id, "data-testid": cls });
  const parts = splitAtSpan(text, span);
  if (!parts) {
    pre.textContent = text;
    return pre;
  }
  append(pre, parts.before, h("mark", { class: "span-mark", "data-testid": "span-mark", title: markTitle }, parts.match), parts.after);
  return pre;
}

/** The particulars of a skip reason, when the data carries them (older data does not). */
export function skipDetail(x: object): string | undefined {
  return "skipDetail" in x && typeof x.skipDetail === "string" && x.skipDetail !== "" ? x.skipDetail : undefined;
}

export function skipLine(reason: string, detail: string | undefined, testid: string): HTMLElement {
  return h(
    "p",
    { class: "skip", "data-testid": testid },
    badge("skipped", "warning"),
    " ",
    reason,
    detail ? h("span", { class: "muted" }, ` — ${detail}`) : null,
  );
}

export function button(label: string, onClick: () => void, opts: { secondary?: boolean; id?: string; title?: string } = {}): HTMLElement {
  const b = document.createElement("vscode-button");
  b.textContent = label;
  if (opts.secondary) b.setAttribute("secondary", "");
  if (opts.id) b.id = opts.id;
  if (opts.title) b.title = opts.title;
  b.addEventListener("click", (e) => {
    e.stopPropagation();
    onClick();
  });
  return b;
}
