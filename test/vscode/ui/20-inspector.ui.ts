// A click on a prompt in the Iterations view opens the inspector on it: the prompt as written in the
// prompt set, its K responses, each judgement with its parsed score marked in the text, and the
// meta-judge battles of the battled response with the Elo ranking the judge pair was chosen from.
import * as path from "node:path";
import type { UiContext } from "../harness.js";
import { fixturePrompts, judgePairs, openInspectorFromTree, readJsonl, shot } from "./support.js";

interface ResponseRecord {
  id: string;
  prompt_id: string;
}

interface JudgementRecord {
  id: string;
  prompt_id: string;
}

interface BattleRecord {
  id: string;
  response_id: string;
}

export default async function inspector(ctx: UiContext): Promise<void> {
  // A prompt whose battles produced a judge pair, so every part of the page has something to show.
  const pair = judgePairs(ctx)[0];
  if (!pair) throw new Error("the fixture has no judge pair");
  const promptId = pair.prompt_id;
  const prompt = fixturePrompts(ctx).find((p) => p.id === promptId);
  if (!prompt) throw new Error(`${promptId} is not in the prompt set`);
  const responses = readJsonl<ResponseRecord>(path.join(ctx.iteration, "responses.jsonl")).filter((r) => r.prompt_id === promptId);
  const judgementIds = readJsonl<JudgementRecord>(path.join(ctx.iteration, "judgements.jsonl"))
    .filter((j) => j.prompt_id === promptId)
    .map((j) => j.id);
  const battles = readJsonl<BattleRecord>(path.join(ctx.iteration, "meta_judgements.jsonl")).filter(
    (b) => b.response_id === pair.response_id,
  );

  const frame = await openInspectorFromTree(ctx, promptId);
  await shot(ctx, "20-inspector-1-opened");

  const text = await frame.locator("#prompt-text").textContent();
  if (text !== prompt.prompt)
    throw new Error(`the inspector shows the prompt ${JSON.stringify(text)}, prompts.jsonl has ${JSON.stringify(prompt.prompt)}`);

  const shownResponses = await frame.locator("[data-response-id]").evaluateAll((els) => els.map((e) => e.getAttribute("data-response-id")));
  const expectedResponses = responses.map((r) => r.id);
  if (shownResponses.length !== 4 || shownResponses.join() !== expectedResponses.join()) {
    throw new Error(`responses shown: ${shownResponses.join(", ")}; responses.jsonl has ${expectedResponses.join(", ")} (K = 4)`);
  }

  // Judgements sit under their response; a parsed score is marked where the text gives it.
  const shownJudgements = await frame
    .locator("[data-judgement-id]")
    .evaluateAll((els) => els.map((e) => e.getAttribute("data-judgement-id") ?? ""));
  if ([...shownJudgements].sort().join() !== [...judgementIds].sort().join()) {
    throw new Error(`judgements shown: ${shownJudgements.join(", ")}; judgements.jsonl has ${judgementIds.join(", ")}`);
  }
  const marks = await frame.locator("[data-judgement-id] [data-testid=span-mark]").allTextContents();
  if (marks.length === 0) throw new Error("no judgement has its score marked");
  const unmarked = marks.filter((m) => !/score/i.test(m));
  if (unmarked.length) throw new Error(`marked spans that are not a score: ${unmarked.join(" | ")}`);
  await frame.locator("[data-judgement-id] [data-testid=span-mark]").first().scrollIntoViewIfNeeded();
  await shot(ctx, "20-inspector-2-judgements");

  // One matrix cell per battle of the battled response, each with its verdict.
  const matrix = frame.locator("#battle-matrix");
  await matrix.scrollIntoViewIfNeeded();
  const cells = await matrix
    .locator("td[data-battle-id]")
    .evaluateAll((els) => els.map((e) => [e.getAttribute("data-battle-id"), e.getAttribute("data-verdict")]));
  if (cells.length !== battles.length)
    throw new Error(`the matrix has ${cells.length} cells, meta_judgements.jsonl has ${battles.length} battles of ${pair.response_id}`);
  const badVerdict = cells.filter(([, v]) => !["first", "second", "none"].includes(v ?? ""));
  if (badVerdict.length) throw new Error(`cells without a verdict: ${badVerdict.map(([id]) => id).join(", ")}`);
  const ids = new Set(battles.map((b) => b.id));
  const strays = cells.filter(([id]) => !ids.has(id ?? ""));
  if (strays.length) throw new Error(`cells for battles not in the file: ${strays.map(([id]) => id).join(", ")}`);

  // The ranking lists the judgements that pairs.judge.jsonl ranked, the pair's two among them.
  const ranked = await frame
    .locator("#elo-ranking tr[data-elo-id]")
    .evaluateAll((els) => els.map((e) => e.getAttribute("data-elo-id") ?? ""));
  const expectedRanked = Object.keys(pair.elo).sort();
  if ([...ranked].sort().join() !== expectedRanked.join())
    throw new Error(`the Elo ranking lists ${ranked.join(", ")}; pairs.judge.jsonl ranks ${expectedRanked.join(", ")}`);
  if (ranked[0] !== pair.chosen_id || ranked.at(-1) !== pair.rejected_id) {
    throw new Error(`the ranking runs ${ranked[0]} … ${ranked.at(-1)}; the judge pair is ${pair.chosen_id} over ${pair.rejected_id}`);
  }
  const judgePairText = await frame.locator("#judge-pair").innerText();
  for (const label of ["chosen", "rejected"])
    if (!judgePairText.includes(label)) throw new Error(`the judge pair does not say which is ${label}: ${judgePairText}`);
  ctx.log(
    `inspector: ${promptId}, ${shownResponses.length} responses, ${shownJudgements.length} judgements (${marks.length} marked), ${cells.length} battles, ${ranked.length} ranked`,
  );
  await frame.locator("#elo-ranking").scrollIntoViewIfNeeded();
  await shot(ctx, "20-inspector-3-battles");
}
