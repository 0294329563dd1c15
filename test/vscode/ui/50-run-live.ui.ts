// A live run from the editor against the fixture's model server: Run Iteration from the palette asks
// which iteration (the new one is offered first) and which stages, the status bar follows the
// running stage, and the Iterations view gains the new iteration and fills in its stages as the
// worker writes them, until manifest.json says every stage is done.
import * as fs from "node:fs";
import * as path from "node:path";
import type { UiContext } from "../harness.js";
import {
  childrenOf,
  openMetajudgeView,
  pick,
  readJsonl,
  setExpanded,
  shot,
  treeRows,
  waitForQuickInput,
  waitForRow,
  WAIT,
} from "./support.js";

const STAGES = ["generate", "judge", "metajudge", "pairs", "export"];
const fmt = (n: number): string => n.toLocaleString("en-US");

interface Manifest {
  stages: Record<string, { state: string } | undefined>;
}

/** The fake server's control route: a fault answers the next calls instead of the model. */
async function setFault(ctx: UiContext, fault: object | null): Promise<void> {
  const res = await fetch(new URL("/__fault", ctx.fakeOpenAIUrl), { method: "POST", body: JSON.stringify(fault) });
  if (!res.ok) throw new Error(`the fake server refused the fault: ${res.status}`);
}

export default async function runLive(ctx: UiContext): Promise<void> {
  const { page } = ctx;
  const experiment = path.basename(ctx.workspace);
  const next = Number(path.basename(ctx.iteration)) + 1;
  const dir = path.join(path.dirname(ctx.iteration), String(next));
  const manifestFile = path.join(dir, "manifest.json");
  if (fs.existsSync(dir)) throw new Error(`${dir} exists before the run`);
  const config = JSON.parse(fs.readFileSync(path.join(ctx.workspace, "metajudge.json"), "utf8")) as { iterations: unknown[] };
  if (config.iterations.length < next)
    throw new Error(`metajudge.json has settings for ${config.iterations.length} iteration(s), not ${next}`);

  await openMetajudgeView(ctx);
  // Only the new iteration open, so its rows are the ones on screen.
  await setExpanded(ctx, [experiment, "Iteration 1"], false);

  // Every text the status bar shows for the run, however briefly.
  const bar = page.locator(".part.statusbar");
  await bar.evaluate((el, n) => {
    const ours = new RegExp(`\\bit ${n}\\b|\\bIteration ${n}\\b`);
    const win = el.ownerDocument.defaultView;
    const texts: string[] = (win.__runTexts = []);
    // No named functions in here: the test's transpiler would wrap them in a helper the page lacks.
    new win.MutationObserver(() => {
      for (const item of el.querySelectorAll(".statusbar-item")) {
        const t = String(item.innerText).trim();
        if (ours.test(t) && texts.at(-1) !== t) texts.push(t);
      }
    }).observe(el, { subtree: true, childList: true, characterData: true, attributes: true });
  }, next);
  const runTexts = (): Promise<string[]> => bar.evaluate((el) => (el.ownerDocument.defaultView as { __runTexts: string[] }).__runTexts);

  // The fake answers in milliseconds. Rate-limiting its first calls (the client honours Retry-After
  // with every slot held) keeps the first stage on screen long enough to be seen and pictured.
  await setFault(ctx, { kind: "status", status: 429, times: 8, retryAfter: 3 });
  try {
    await ctx.runCommand("Metajudge: Run Iteration");
    const which = await waitForQuickInput(ctx, "Which iteration?");
    const offered = await which.locator(".quick-input-list .monaco-list-row").allInnerTexts();
    if (!offered[0]?.includes(`Iteration ${next}`) || !/new/.test(offered[0]))
      throw new Error(`the first choice is not the new Iteration ${next}: ${offered.join(" | ")}`);
    await shot(ctx, "50-run-1-which-iteration");
    await pick(ctx, "Which iteration?", `Iteration ${next}`);
    await pick(ctx, "Run which stages?", "All stages");

    const status = page.locator(".statusbar-item", { hasText: `it ${next}` });
    await status.first().waitFor({ timeout: WAIT });
    const row = await waitForRow(ctx, [experiment, `Iteration ${next}`]);
    ctx.log(`running: status bar "${(await status.first().innerText()).trim()}"; tree row ${row.label}`);
    await setExpanded(ctx, [experiment, `Iteration ${next}`], true);
    // What the view says of each stage while the run goes on, in order.
    const seen = new Map<string, string[]>(STAGES.map((s) => [s, []]));
    const sample = async (): Promise<void> => {
      const rows = await treeRows(page);
      const it = rows.find((r) => r.label === `Iteration ${next}`);
      for (const r of it ? childrenOf(rows, it) : []) {
        const list = seen.get(r.label);
        if (list && list.at(-1) !== r.description) list.push(r.description);
      }
    };
    await sample();
    await shot(ctx, "50-run-2-running");

    const manifest = await ctx
      .waitFor(
        async () => {
          await sample();
          const m = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as Manifest;
          // A failed stage ends the wait too: the check below says which.
          return m.stages.export?.state === "done" || STAGES.some((s) => m.stages[s]?.state === "failed") ? m : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 250, message: `iterations/${next}/manifest.json with export done` },
      )
      .catch(async (e: Error) => {
        const errors = await page.locator(".notifications-toasts .notification-toast").allInnerTexts();
        throw new Error(`${e.message}; notifications: ${errors.join(" | ") || "none"}; status bar: ${(await runTexts()).join(" → ")}`);
      });
    for (const s of STAGES)
      if (manifest.stages[s]?.state !== "done") throw new Error(`iterations/${next}: ${s} is ${manifest.stages[s]?.state}`);

    // The view ends where the files are: every stage done with the counts on disk.
    const responses = readJsonl(path.join(dir, "responses.jsonl")).length;
    const judgements = readJsonl(path.join(dir, "judgements.jsonl")).length;
    if (!(responses > 0 && judgements > 0)) throw new Error(`iteration ${next} wrote ${responses} responses and ${judgements} judgements`);
    const expected: Record<string, string> = {
      generate: `${fmt(responses)}/${fmt(responses)} · done`,
      judge: `${fmt(judgements)}/${fmt(judgements)} · done`,
    };
    const stages = await ctx
      .waitFor(
        async () => {
          const rows = await treeRows(page);
          const it = rows.find((r) => r.label === `Iteration ${next}`);
          const kids = it ? childrenOf(rows, it).filter((r) => STAGES.includes(r.label)) : [];
          const ok =
            kids.length === STAGES.length &&
            kids.every((r) => (expected[r.label] ? r.description === expected[r.label] : r.description.endsWith("· done")));
          return ok ? kids : undefined;
        },
        {
          message: `Iteration ${next}'s stages done in the view (${Object.entries(expected)
            .map(([s, d]) => `${s} "${d}"`)
            .join(", ")})`,
        },
      )
      .catch(async (e: Error) => {
        const rows = await treeRows(page);
        throw new Error(
          `${e.message}; the view shows: ${rows.map((r) => `${"  ".repeat(r.level)}${r.label} [${r.description}]`).join(" | ")}`,
        );
      });
    await sample();
    ctx.log(`the view during the run: ${[...seen].map(([s, d]) => `${s}: ${d.join(" → ")}`).join("; ")}`);
    // The rate-limited first stage is long enough for the view to show it under way, out of its total.
    const underWay = new RegExp(`^\\d+/${fmt(responses)} · running$`);
    if (!seen.get("generate")!.some((d) => underWay.test(d)))
      throw new Error(`the view never showed generate as "<done>/${fmt(responses)} · running": ${seen.get("generate")!.join(" → ")}`);
    // The run's item leaves the status bar once the worker is gone.
    await status.first().waitFor({ state: "detached", timeout: WAIT });
    const texts = await runTexts();
    ctx.log(`status bar during the run: ${texts.join(" → ")}`);
    ctx.log(`Iteration ${next}: ${stages.map((s) => `${s.label} ${s.description}`).join(", ")}`);
    if (!texts.some((t) => new RegExp(`it ${next} generate`).test(t)))
      throw new Error(`the status bar never showed "it ${next} generate": ${texts.join(" → ")}`);
    if (!texts.some((t) => new RegExp(`it ${next} (judge|metajudge)`).test(t)))
      throw new Error(`the status bar never showed a later stage: ${texts.join(" → ")}`);
    await shot(ctx, "50-run-3-done");
  } finally {
    await setFault(ctx, null);
  }
  // Leave the view as the next test expects it: the new iteration closed.
  await setExpanded(ctx, [experiment, `Iteration ${next}`], false);
}
