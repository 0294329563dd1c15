// The Iterations view as a person first meets it: the experiment, its finished iteration, each stage
// with the counts of what is on disk, and the prompts. Expected figures come from the fixture's
// files, so the test follows the fixture whatever its size.
import * as fs from "node:fs";
import * as path from "node:path";
import type { UiContext } from "../harness.js";
import { childrenOf, fixturePrompts, openMetajudgeView, readJsonl, setExpanded, shot, treeRows, waitForRow } from "./support.js";

const fmt = (n: number): string => n.toLocaleString("en-US");
const lineCount = (file: string): number => readJsonl(file).length;

export default async function tree(ctx: UiContext): Promise<void> {
  const { page } = ctx;
  const experiment = path.basename(ctx.workspace);
  const it = ctx.iteration;

  await openMetajudgeView(ctx);
  await waitForRow(ctx, [experiment, "Iteration 1"]);
  await shot(ctx, "10-tree-1-container");

  const manifest = JSON.parse(fs.readFileSync(path.join(it, "manifest.json"), "utf8")) as {
    stages: Record<string, { state: string }>;
    training?: { final?: Record<string, number | null> };
  };
  const expected: Record<string, number> = {
    generate: lineCount(path.join(it, "responses.jsonl")),
    judge: lineCount(path.join(it, "judgements.jsonl")),
    metajudge: lineCount(path.join(it, "meta_judgements.jsonl")),
    pairs: lineCount(path.join(it, "pairs.actor.jsonl")) + lineCount(path.join(it, "pairs.judge.jsonl")),
    export: lineCount(path.join(it, "dpo.jsonl")),
  };
  for (const [stage, n] of Object.entries(expected)) {
    if (!(n > 0)) throw new Error(`the fixture's ${stage} stage wrote nothing to count`);
    if (manifest.stages[stage]?.state !== "done")
      throw new Error(`the fixture's manifest says ${stage} is ${manifest.stages[stage]?.state}`);
  }

  await setExpanded(ctx, [experiment, "Iteration 1"], true);
  // Every stage row reads "<done>/<total> · done" with the record count of its file.
  const stages = await ctx
    .waitFor(
      async () => {
        const rows = await treeRows(page);
        const iteration = rows.find((r) => r.label === "Iteration 1");
        const kids = iteration ? childrenOf(rows, iteration) : [];
        const byStage = new Map(kids.map((r) => [r.label, r.description]));
        const ok = Object.entries(expected).every(([stage, n]) => byStage.get(stage) === `${fmt(n)}/${fmt(n)} · done`);
        return ok ? kids : undefined;
      },
      {
        message: `stage rows ${Object.entries(expected)
          .map(([s, n]) => `${s} "${fmt(n)}/${fmt(n)} · done"`)
          .join(", ")}`,
        timeoutMs: 30_000,
      },
    )
    .catch(async (e: Error) => {
      const rows = await treeRows(page);
      throw new Error(
        `${e.message}; the view shows: ${rows.map((r) => `${"  ".repeat(r.level)}${r.label} [${r.description}]`).join(" | ")}`,
      );
    });
  const labels = stages.map((r) => r.label);
  // A launch that trained on this iteration's pairs (the Jobs suite runs one) adds its row before Prompts.
  const trained = manifest.training !== undefined;
  const want = ["generate", "judge", "metajudge", "pairs", "export", ...(trained ? ["DPO training"] : []), "Prompts"];
  if (labels.slice(0, want.length).join(",") !== want.join(",")) {
    throw new Error(`Iteration 1 lists ${labels.join(", ")}: expected ${want.join(", ")}`);
  }
  if (trained) {
    const row = stages.find((r) => r.label === "DPO training")!;
    if (!/^loss [\d.]+ · margin -?[\d.]+ · acc \d+%$/.test(row.description))
      throw new Error(`the DPO training row says "${row.description}"`);
  }
  await shot(ctx, "10-tree-2-stages");

  const prompts = fixturePrompts(ctx);
  const promptsRow = await waitForRow(ctx, [experiment, "Iteration 1", "Prompts"]);
  if (!promptsRow.description.startsWith(`${fmt(prompts.length)} ·`))
    throw new Error(`Prompts says "${promptsRow.description}", not ${prompts.length} prompts`);

  await setExpanded(ctx, [experiment, "Iteration 1", "Prompts"], true);
  // The first prompts by id, as many as the view has room to draw.
  const shown = await ctx.waitFor(
    async () => {
      const rows = await treeRows(page);
      const p = rows.find((r) => r.label === "Prompts");
      const kids = p ? childrenOf(rows, p) : [];
      return kids.length >= Math.min(5, prompts.length) ? kids : undefined;
    },
    { message: "prompt rows under Prompts" },
  );
  // "By id" is the view's default order, numbers compared as numbers.
  const ids = prompts.map((p) => p.id).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const wrong = shown.filter((r, i) => r.label !== ids[i]);
  if (wrong.length)
    throw new Error(
      `prompt rows ${shown.map((r) => r.label).join(", ")} are not the fixture's ids in order (${ids.slice(0, shown.length).join(", ")})`,
    );
  // Each prompt row previews its prompt text.
  const first = prompts.find((p) => p.id === shown[0]!.label)!;
  if (!shown[0]!.description.includes(first.prompt.slice(0, 20)))
    throw new Error(`${first.id}'s row "${shown[0]!.description}" does not preview its prompt`);
  ctx.log(
    `tree: ${shown.length} prompt rows drawn of ${prompts.length}; stages ${stages
      .slice(0, 5)
      .map((s) => `${s.label} ${s.description}`)
      .join(", ")}`,
  );
  await shot(ctx, "10-tree-3-prompts");
}
