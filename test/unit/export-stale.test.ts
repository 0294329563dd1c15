// The workbench's view of an export: stale once the pairs it was built from are recomputed to
// something else, or its dpo.jsonl is changed or gone; current again after a re-export.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { defaultConfig } from "../../src/core/experiment.js";
import { buildDpo, exportStamp, writeDpo } from "../../src/core/pipeline/stages/export.js";
import { parseTemplate } from "../../src/core/templates.js";
import { IterationModel } from "../../src/core/view/model.js";

const line = (r: unknown): string => JSON.stringify(r) + "\n";
const actorPair = (chosen: number, rejected: number): string =>
  line({
    prompt_id: "p1",
    chosen_id: `p1:r${chosen}`,
    rejected_id: `p1:r${rejected}`,
    chosen_score: 5,
    rejected_score: 1,
    chosen_length: 3,
    rejected_length: 3,
  });

function build(): { dir: string; iter: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mj-stale-"));
  const config = defaultConfig();
  config.iterations[0]!.train_judge_pairs = false;
  fs.writeFileSync(path.join(dir, "metajudge.json"), JSON.stringify(config, null, 2));
  fs.writeFileSync(path.join(dir, "prompts.jsonl"), line({ id: "p1", prompt: "Why?" }));
  const iter = path.join(dir, "iterations", "1");
  fs.mkdirSync(iter, { recursive: true });
  fs.writeFileSync(
    path.join(iter, "responses.jsonl"),
    [0, 1, 2].map((i) => line({ id: `p1:r${i}`, prompt_id: "p1", index: i, text: `r${i}` })).join(""),
  );
  fs.writeFileSync(path.join(iter, "pairs.actor.jsonl"), actorPair(0, 1));
  const at = "2026-01-01T00:00:00.000Z";
  const manifest = {
    format: 1,
    iteration: 1,
    created_at: at,
    updated_at: at,
    metajudge_version: "test",
    config: {},
    settings: {},
    models: { actor: "m", judge: "m", meta_judge: "m" },
    templates: {},
    prompts: { path: "prompts.jsonl", sha256: "0", count: 1 },
    stages: {},
    usage: { prompt_tokens: 0, completion_tokens: 0, requests: 0 },
  };
  fs.writeFileSync(path.join(iter, "manifest.json"), JSON.stringify(manifest));
  return { dir, iter };
}

/** What `metajudge export` does: build, write, stamp the manifest's export entry. */
async function exportNow(iter: string): Promise<void> {
  const tpl = (role: "actor" | "judge", src: string) => parseTemplate(src, role, `${role}.md`).template;
  const build = await buildDpo({
    iterDir: iter,
    prompts: [{ id: "p1", prompt: "Why?" }],
    actorTemplate: tpl("actor", "{{prompt}}"),
    judgeTemplate: tpl("judge", "{{prompt}} {{response}} Score:"),
    settings: { train_judge_pairs: false },
  });
  const output = writeDpo(iter, build.records);
  const file = path.join(iter, "manifest.json");
  const m = JSON.parse(fs.readFileSync(file, "utf8")) as { stages: Record<string, unknown> };
  m.stages.export = { state: "done", counts: build.counts, ...exportStamp(build, output) };
  fs.writeFileSync(file, JSON.stringify(m));
}

const exportOf = (m: IterationModel) => m.summary().stages.find((s) => s.stage === "export")!;

test("the export stage is stale after its pairs change or its dpo.jsonl does, and current after a re-export", async () => {
  const { dir, iter } = build();
  await exportNow(iter);
  const m = await IterationModel.open(dir, 1);
  try {
    assert.equal(exportOf(m).state, "done");
    assert.equal(exportOf(m).stale, undefined);

    // Rewritten with the same content (a recompute that found the same pairs): still current.
    fs.writeFileSync(path.join(iter, "pairs.actor.jsonl"), actorPair(0, 1));
    await m.refresh();
    assert.equal(exportOf(m).stale, undefined);

    fs.writeFileSync(path.join(iter, "pairs.actor.jsonl"), actorPair(0, 2));
    await m.refresh();
    assert.match(exportOf(m).stale ?? "", /^pairs changed after the export; re-export .*pairs\.actor\.jsonl/);

    await exportNow(iter);
    await m.refresh();
    assert.equal(exportOf(m).stale, undefined);

    fs.rmSync(path.join(iter, "dpo.jsonl"));
    assert.match(exportOf(m).stale ?? "", /dpo\.jsonl is missing/);
  } finally {
    m.dispose();
  }
});

test("an export recorded before stamps were kept is not called stale", async () => {
  const { dir, iter } = build();
  await exportNow(iter);
  const file = path.join(iter, "manifest.json");
  const m = JSON.parse(fs.readFileSync(file, "utf8")) as { stages: { export: Record<string, unknown> } };
  delete m.stages.export.inputs;
  delete m.stages.export.output;
  fs.writeFileSync(file, JSON.stringify(m));
  fs.writeFileSync(path.join(iter, "pairs.actor.jsonl"), actorPair(0, 2));
  const model = await IterationModel.open(dir, 1);
  assert.equal(exportOf(model).stale, undefined);
  model.dispose();
});
