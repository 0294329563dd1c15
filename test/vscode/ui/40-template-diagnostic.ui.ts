// Editing a rubric: a misspelt variable typed into prompts/judge.md is reported in the Problems panel
// and underlined in the editor as the keys go in; undoing the typing leaves the file on disk exactly
// as it was (auto-save is off in the harness, so nothing is written unless a test saves).
import * as fs from "node:fs";
import * as path from "node:path";
import type { Locator } from "playwright-core";
import type { UiContext } from "../harness.js";
import { quickInput, shot, WAIT } from "./support.js";

const TYPED = " {{respnse}}";
const MESSAGE = "unknown variable {{respnse}}";

export default async function templateDiagnostic(ctx: UiContext): Promise<void> {
  const { page } = ctx;
  const config = JSON.parse(fs.readFileSync(path.join(ctx.workspace, "metajudge.json"), "utf8")) as { templates?: { judge?: string } };
  const relative = config.templates?.judge ?? "prompts/judge.md";
  const file = path.resolve(ctx.workspace, relative);
  const original = fs.readFileSync(file);
  const name = path.basename(file);

  // Quick Open, as a person finds a file by name.
  await page.keyboard.press("Control+p");
  const widget = quickInput(page);
  await widget.locator("input.input").waitFor({ state: "visible", timeout: WAIT });
  await page.keyboard.type(relative);
  const hit = widget.locator(".quick-input-list .monaco-list-row.focused", { hasText: name });
  await hit.waitFor({ timeout: WAIT });
  await shot(ctx, "40-template-1-quick-open");
  await page.keyboard.press("Enter");

  const tab = page.locator(".tabs-container .tab.active", { hasText: name });
  await tab.waitFor({ timeout: WAIT });
  const editor = page.locator(".editor-group-container.active .monaco-editor").first();
  await editor.locator(".view-line").first().waitFor({ timeout: WAIT });
  // The rubric's language, not Markdown's: that is what brings the diagnostics.
  await page.locator(".statusbar-item", { hasText: "Metajudge Template" }).first().waitFor({ timeout: WAIT });

  // The end of the first line, then type as a person does (brackets close themselves as they go).
  await page.keyboard.press("Control+Home");
  await page.keyboard.press("End");
  await page.keyboard.type(TYPED, { delay: 20 });
  await page.keyboard.press("Escape"); // whatever completion offered, it was not taken
  const firstLine = (await editor.locator(".view-line").first().innerText()).replace(/\u00a0/g, " ");
  const expectedLine = original.toString("utf8").split("\n")[0] + TYPED;
  if (firstLine !== expectedLine) throw new Error(`the first line reads ${JSON.stringify(firstLine)}, not ${JSON.stringify(expectedLine)}`);
  if (!(await isDirty(tab))) throw new Error(`${name} is not marked as edited after typing`);

  const squiggle = editor.locator(".squiggly-error");
  await squiggle.first().waitFor({ timeout: WAIT });
  await shot(ctx, "40-template-2-squiggle");

  await page.keyboard.press("Control+Shift+m");
  const problems = page.locator(".markers-panel");
  const row = problems.locator(".monaco-list-row", { hasText: MESSAGE });
  await row.first().waitFor({ timeout: WAIT });
  const rowText = await row.first().innerText();
  ctx.log(`Problems: ${rowText.replace(/\s+/g, " ")}`);
  await shot(ctx, "40-template-3-problems");

  // Back to the editor, and undo until the edit is gone.
  await page.keyboard.press("Control+1");
  for (let i = 0; i < 20 && (await isDirty(tab)); i++) await page.keyboard.press("Control+z");
  if (await isDirty(tab)) {
    ctx.log(`undo did not bring ${name} back to its saved state; reverting`);
    await ctx.runCommand("File: Revert File");
  }
  await ctx.waitFor(async () => !(await isDirty(tab)), { message: `${name} back to its saved state` });
  await ctx.waitFor(async () => (await row.count()) === 0, { message: "the problem gone from the Problems panel" });
  await ctx.waitFor(async () => (await squiggle.count()) === 0, { message: "the squiggle gone" });
  if (!fs.readFileSync(file).equals(original)) throw new Error(`${relative} changed on disk`);
  await shot(ctx, "40-template-4-undone");

  // Leave the workbench as the next test expects it: no editor, no panel.
  await ctx.runCommand("View: Close Editor");
  await tab.waitFor({ state: "detached", timeout: WAIT });
  await ctx.runCommand("View: Hide Panel");
  await problems.waitFor({ state: "hidden", timeout: WAIT });
  if (!fs.readFileSync(file).equals(original)) throw new Error(`${relative} changed on disk`);
}

async function isDirty(tab: Locator): Promise<boolean> {
  return ((await tab.getAttribute("class")) ?? "").split(/\s+/).includes("dirty");
}
