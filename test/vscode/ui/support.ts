// What the UI tests share: reading the fixture's files, the Iterations view as rows a person sees,
// the host's quick input, and the inspector's webview frame. Not a test itself (no .ui.ts suffix).
import * as fs from "node:fs";
import * as path from "node:path";
import type { Frame, Locator, Page } from "playwright-core";
import type { UiContext } from "../harness.js";
import { readLines as readJsonl } from "../../support/cli.js";

export const WAIT = 30_000;

export { readJsonl };

export interface PromptRecord {
  id: string;
  prompt: string;
}

export interface JudgePair {
  prompt_id: string;
  response_id: string;
  chosen_id: string;
  rejected_id: string;
  elo: Record<string, number>;
}

export function fixturePrompts(ctx: UiContext): PromptRecord[] {
  const config = JSON.parse(fs.readFileSync(path.join(ctx.workspace, "metajudge.json"), "utf8")) as { prompts?: string };
  return readJsonl<PromptRecord>(path.resolve(ctx.workspace, config.prompts ?? "prompts.jsonl"));
}

export const judgePairs = (ctx: UiContext): JudgePair[] => readJsonl<JudgePair>(path.join(ctx.iteration, "pairs.judge.jsonl"));

/** Writes test-artifacts/vscode/<test>-<step>.png and logs where. */
export async function shot(ctx: UiContext, name: string): Promise<void> {
  ctx.log(`saved ${await ctx.screenshot(name)}`);
}

// ---- the Iterations view ----------------------------------------------------------------------

// The view's tree carries its name as its accessible label.
const TREE = '.sidebar [role="tree"][aria-label="Iterations"]';

export interface TreeRow {
  index: number;
  level: number;
  label: string;
  description: string;
  expanded: boolean | undefined;
}

/** Opens the Metajudge container from the activity bar, unless it is already the one showing. */
export async function openMetajudgeView(ctx: UiContext): Promise<void> {
  const { page } = ctx;
  const title = page.locator(".sidebar .composite.title", { hasText: /metajudge/i });
  // A click on the container that is showing would close the side bar.
  if (!(await title.isVisible().catch(() => false))) {
    await page.locator('.activitybar .action-item a[aria-label^="Metajudge"]').first().click();
    await title.first().waitFor({ timeout: WAIT });
  }
  await page.locator(`${TREE} .monaco-list-row`).first().waitFor({ timeout: WAIT });
}

/** The rows the view has rendered, in the order shown. */
export async function treeRows(page: Page): Promise<TreeRow[]> {
  const rows = await page.locator(`${TREE} .monaco-list-row`).evaluateAll((els) =>
    els.map((el) => ({
      index: Number(el.getAttribute("data-index")),
      level: Number(el.getAttribute("aria-level")),
      label: el.querySelector(".label-name")?.textContent?.trim() ?? "",
      description: el.querySelector(".label-description")?.textContent?.trim() ?? "",
      expanded: el.hasAttribute("aria-expanded") ? el.getAttribute("aria-expanded") === "true" : undefined,
    })),
  );
  return rows.sort((a, b) => a.index - b.index);
}

/** The rows directly under `parent`, as the tree nests them. */
export function childrenOf(rows: TreeRow[], parent: TreeRow): TreeRow[] {
  const out: TreeRow[] = [];
  for (const r of rows.slice(rows.indexOf(parent) + 1)) {
    if (r.level <= parent.level) break;
    if (r.level === parent.level + 1) out.push(r);
  }
  return out;
}

/** The row reached by following labels down from the root, e.g. ["exp", "Iteration 1", "Prompts"]. */
export function rowAt(rows: TreeRow[], labels: readonly string[]): TreeRow | undefined {
  let level = rows.filter((r) => r.level === 1);
  let found: TreeRow | undefined;
  for (const label of labels) {
    found = level.find((r) => r.label === label);
    if (!found) return undefined;
    level = childrenOf(rows, found);
  }
  return found;
}

export const rowLocator = (page: Page, row: TreeRow): Locator => page.locator(`${TREE} .monaco-list-row[data-index="${row.index}"]`);

export async function waitForRow(ctx: UiContext, labels: readonly string[], timeoutMs = WAIT): Promise<TreeRow> {
  return ctx.waitFor(async () => rowAt(await treeRows(ctx.page), labels), { timeoutMs, message: `the tree row ${labels.join(" › ")}` });
}

/** Expands (or collapses) a row with its twistie, as a click on the arrow does, and waits until it has. */
export async function setExpanded(ctx: UiContext, labels: readonly string[], expanded: boolean): Promise<TreeRow> {
  const row = await waitForRow(ctx, labels);
  if (row.expanded !== expanded) await rowLocator(ctx.page, row).locator(".monaco-tl-twistie").click();
  return ctx.waitFor(
    async () => {
      const rows = await treeRows(ctx.page);
      const r = rowAt(rows, labels);
      if (!r || r.expanded !== expanded) return undefined;
      // An expanded row has children on screen (or a message row) once the provider has answered.
      return !expanded || childrenOf(rows, r).length > 0 ? r : undefined;
    },
    { message: `${labels.join(" › ")} ${expanded ? "expanded" : "collapsed"}` },
  );
}

// ---- quick input ------------------------------------------------------------------------------

export const quickInput = (page: Page): Locator => page.locator(".quick-input-widget");

/** Waits for the quick input showing `title` (a pick or an input box) and returns the widget. */
export async function waitForQuickInput(ctx: UiContext, title: string | RegExp): Promise<Locator> {
  const widget = quickInput(ctx.page);
  await widget.locator(".quick-input-title", { hasText: title }).waitFor({ state: "visible", timeout: WAIT });
  return widget;
}

export async function quickInputTitle(page: Page): Promise<string | undefined> {
  const widget = quickInput(page);
  if (!(await widget.isVisible().catch(() => false))) return undefined;
  return (
    (
      await widget
        .locator(".quick-input-title")
        .textContent()
        .catch(() => null)
    )?.trim() ?? ""
  );
}

/** Picks the item whose label is `label` by typing it into the filter and pressing Enter. */
export async function pick(ctx: UiContext, title: string | RegExp, label: string): Promise<void> {
  const widget = await waitForQuickInput(ctx, title);
  await widget.locator("input.input").fill(label);
  const row = widget.locator(".quick-input-list .monaco-list-row", { has: ctx.page.locator(".label-name", { hasText: label }) }).first();
  await row.waitFor({ timeout: WAIT });
  // Enter takes the focused row: make sure the filter has put ours first.
  await ctx.waitFor(
    async () => (await widget.locator(".quick-input-list .monaco-list-row.focused .label-name").textContent())?.trim() === label,
    {
      message: `"${label}" focused in the quick pick`,
    },
  );
  await ctx.page.keyboard.press("Enter");
}

// ---- the inspector ----------------------------------------------------------------------------

/** The inspector's webview frame once it shows `promptId`. Found afresh each time: the frame can be replaced. */
export async function inspectorFrame(ctx: UiContext, promptId: string): Promise<Frame> {
  return ctx.waitFor(
    async () => {
      const frame = await ctx.findWebviewFrame("#prompt-text", 5_000).catch(() => undefined);
      if (!frame) return undefined;
      const shown = await frame
        .locator("#prompt-id")
        .getAttribute("title", { timeout: 1_000 })
        .catch(() => null);
      return shown === promptId ? frame : undefined;
    },
    { message: `the inspector showing ${promptId}` },
  );
}

/**
 * Scrolls an inspector element into view. A reload rebuilds the page (the watcher may still deliver
 * one after a write), and a scroll that resolved the element just before is refused as "not
 * attached": the element is found afresh until the scroll lands on one that stays.
 */
export async function scrollIntoView(ctx: UiContext, target: Locator, what: string): Promise<void> {
  await ctx.waitFor(
    () =>
      target.scrollIntoViewIfNeeded({ timeout: 5_000 }).then(
        () => true,
        (e: Error) => {
          if (/not attached to the DOM/.test(e.message)) return false;
          throw e;
        },
      ),
    { message: `${what} scrolled into view` },
  );
}

/** Clicks the prompt's row under Iteration `iteration` › Prompts, whose command opens the inspector. */
export async function openInspectorFromTree(ctx: UiContext, promptId: string, iteration = 1): Promise<Frame> {
  await openMetajudgeView(ctx);
  const experiment = path.basename(ctx.workspace);
  const iterationLabel = `Iteration ${iteration}`;
  await setExpanded(ctx, [experiment, iterationLabel], true);
  await setExpanded(ctx, [experiment, iterationLabel, "Prompts"], true);
  const row = await waitForRow(ctx, [experiment, iterationLabel, "Prompts", promptId]);
  await rowLocator(ctx.page, row).locator(".label-name").click();
  return inspectorFrame(ctx, promptId);
}
