// Reviewing from the keyboard: select a judgement of the judge pair in the inspector, Alt+F flags it,
// the host asks for a reason and a note, and the event lands in annotations.jsonl. Recompute Pairs
// from the palette then leaves the flagged judgement out of every ranking in pairs.judge.jsonl, and
// the export made from the pairs before is shown stale.
import * as fs from "node:fs";
import * as path from "node:path";
import type { UiContext } from "../harness.js";
import {
  judgePairs,
  openInspectorFromTree,
  pick,
  quickInputTitle,
  readJsonl,
  scrollIntoView,
  shot,
  waitForQuickInput,
  waitForRow,
  WAIT,
} from "./support.js";

interface Annotation {
  target_id: string;
  target_kind: string;
  label: string;
  reason?: string;
  note: string;
}

const REASON = "position bias";

export default async function flagFromKeyboard(ctx: UiContext): Promise<void> {
  const { page } = ctx;
  const pair = judgePairs(ctx)[0];
  if (!pair) throw new Error("the fixture has no judge pair");
  const target = pair.chosen_id;
  const note = `keyboard review ${Date.now()}`;
  const annotationsFile = path.join(ctx.iteration, "annotations.jsonl");
  const pairsFile = path.join(ctx.iteration, "pairs.judge.jsonl");
  const before = readJsonl<Annotation>(annotationsFile).length;

  const frame = await openInspectorFromTree(ctx, pair.prompt_id);
  const item = frame.locator(`[data-judgement-id="${target}"]`);
  await item.locator(".item-label").click();
  await ctx.waitFor(async () => (await item.getAttribute("class"))?.split(/\s+/).includes("selected"), {
    message: `${target} selected in the inspector`,
  });
  await shot(ctx, "30-flag-1-selected");

  // Focus is inside the webview: the binding for the inspector surface takes the key.
  await page.keyboard.press("Alt+f");
  await waitForQuickInput(ctx, `Flag ${target} as suspicious`);
  await shot(ctx, "30-flag-2-reasons");
  await pick(ctx, `Flag ${target} as suspicious`, REASON);

  const noteBox = await waitForQuickInput(ctx, `Flag ${target}`);
  await ctx.waitFor(async () => (await quickInputTitle(page)) === `Flag ${target}`, { message: "the note box after the reason" });
  await page.keyboard.type(note);
  await ctx.waitFor(async () => (await noteBox.locator("input.input").inputValue()) === note, { message: "the note typed" });
  await shot(ctx, "30-flag-3-note");
  await page.keyboard.press("Enter");

  const event = await ctx.waitFor(
    () =>
      readJsonl<Annotation>(annotationsFile)
        .slice(before)
        .find((a) => a.target_id === target),
    { message: `an event for ${target} in annotations.jsonl` },
  );
  const want = { target_kind: "judgement", label: "suspicious", reason: REASON, note };
  for (const [k, v] of Object.entries(want)) {
    if (event[k as keyof Annotation] !== v)
      throw new Error(`annotations.jsonl has ${JSON.stringify(event)}; expected ${k} = ${JSON.stringify(v)}`);
  }
  // The inspector badges the judgement without a reload, and says its pair is now out of date
  // instead of still calling it chosen.
  await item.locator("vscode-badge", { hasText: "suspicious" }).waitFor({ timeout: WAIT });
  await item.locator("vscode-badge", { hasText: "chosen · pairs out of date" }).waitFor({ timeout: WAIT });
  const staleNotice = frame.locator("#pairs-stale");
  await ctx.waitFor(async () => /^Pairs not recomputed since this flag: .*Recompute Pairs/.test((await staleNotice.textContent()) ?? ""), {
    message: "the notice that the pairs were not recomputed since the flag",
  });
  await shot(ctx, "30-flag-4-flagged");

  const pairsBefore = fs.readFileSync(pairsFile, "utf8");
  await ctx.runCommand("Metajudge: Recompute Pairs");
  // One experiment with one iteration: nothing to choose, so the command must not ask.
  const outcome = await ctx.waitFor(
    async () => {
      const title = await quickInputTitle(page);
      if (title && /which/i.test(title)) return { asked: title };
      const text = fs.readFileSync(pairsFile, "utf8");
      if (text === pairsBefore) return undefined;
      const pairs = readJsonl<{ elo: Record<string, number>; chosen_id: string; rejected_id: string }>(pairsFile);
      const without = pairs.length > 0 && pairs.every((p) => !(target in p.elo) && p.chosen_id !== target && p.rejected_id !== target);
      return without ? { asked: undefined } : undefined;
    },
    { message: `pairs.judge.jsonl rewritten without ${target}`, intervalMs: 50 },
  );
  if (outcome.asked !== undefined) {
    // A pick left open would swallow the next test's keys.
    await page.keyboard.press("Escape");
    throw new Error(`Recompute Pairs asked "${outcome.asked}" with one experiment and one iteration`);
  }
  const after = judgePairs(ctx).find((p) => p.response_id === pair.response_id);
  ctx.log(
    `flagged ${target} (${REASON}); ${pair.response_id}'s judge pair is now ${after ? `${after.chosen_id} over ${after.rejected_id}` : "gone"}`,
  );

  // The open inspector reloads from the new pairs: the flagged judgement loses its role badge, and
  // the response's new pair (if any) gets theirs.
  const roles = (id: string) => frame.locator(`[data-judgement-id="${id}"] .item-head vscode-badge`).allTextContents();
  await ctx.waitFor(
    async () => {
      const mine = await roles(target);
      if (mine.includes("chosen") || mine.includes("rejected")) return false;
      if (!after) return true;
      return (await roles(after.chosen_id)).includes("chosen") && (await roles(after.rejected_id)).includes("rejected");
    },
    { message: `the inspector showing ${target} out of the judge pair` },
  );
  await ctx.waitFor(async () => ((await staleNotice.textContent()) ?? "") === "", {
    message: "the out-of-date notice gone after Recompute Pairs",
  });
  // dpo.jsonl was exported from the pairs before the flag: the Iterations view now calls it stale.
  const exportRow = [path.basename(ctx.workspace), "Iteration 1", "export"];
  await ctx.waitFor(async () => (await waitForRow(ctx, exportRow)).description.endsWith("· stale"), {
    message: "the export row stale after Recompute Pairs",
  });
  await scrollIntoView(ctx, item, `${target} in the reloaded inspector`);
  await shot(ctx, "30-flag-5-recomputed");
}
