// Model output is data, never markup: a judgement whose text holds an <img onerror> and a <script>
// shows up in the inspector as the literal characters, with no element made from it and nothing run.
// The judgement is appended to the finished iteration by hand, as a file another tool wrote; the
// file is put back byte for byte afterwards, and the views are seen to drop it again.
import * as fs from "node:fs";
import * as path from "node:path";
import type { UiContext } from "../harness.js";
import {
  fixturePrompts,
  inspectorFrame,
  openMetajudgeView,
  readJsonl,
  rowLocator,
  scrollIntoView,
  setExpanded,
  shot,
  waitForRow,
} from "./support.js";

interface ResponseRecord {
  id: string;
  prompt_id: string;
  index: number;
}

const PAYLOAD = `<img src=x onerror="window.__xss=1;document.title='pwned'"><script>window.__xss=2;document.title='pwned'</script>`;
const VISIBLE = "<img src=x onerror=";

export default async function xss(ctx: UiContext): Promise<void> {
  const { page } = ctx;
  const experiment = path.basename(ctx.workspace);
  const file = path.join(ctx.iteration, "judgements.jsonl");
  // The first prompt by id, so its rows are near the top of the view.
  const promptId = fixturePrompts(ctx)
    .map((p) => p.id)
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }))[0]!;
  const response = readJsonl<ResponseRecord>(path.join(ctx.iteration, "responses.jsonl")).find((r) => r.prompt_id === promptId);
  if (!response) throw new Error(`no response of ${promptId}`);
  const id = `${response.id}:j99`;
  const responseLabel = `r${response.index}`;
  const record = {
    id,
    prompt_id: promptId,
    response_id: response.id,
    index: 99,
    text: `${PAYLOAD} The response is fine.\n\nScore: 3`,
    score: 3,
    finish_reason: "stop",
    model: "fake-model",
    seed: 99,
  };

  const original = fs.readFileSync(file);
  const rowPath = [experiment, "Iteration 1", "Prompts", promptId, responseLabel, "j99"];
  try {
    fs.appendFileSync(file, `${original.length && original[original.length - 1] !== 0x0a ? "\n" : ""}${JSON.stringify(record)}\n`);

    // The view picks the new line up by itself (the watcher coalesces a refresh) and lists it.
    await openMetajudgeView(ctx);
    for (let i = 2; i <= rowPath.length - 1; i++) await setExpanded(ctx, rowPath.slice(0, i), true);
    const row = await waitForRow(ctx, rowPath);
    if (!row.description.startsWith("score 3")) throw new Error(`the j99 row says "${row.description}"`);
    await shot(ctx, "60-xss-1-tree");

    // Its row opens the inspector with it selected.
    await rowLocator(page, row).locator(".label-name").click();
    const frame = await inspectorFrame(ctx, promptId);
    const item = frame.locator(`[data-judgement-id="${id}"]`);
    await item.waitFor({ timeout: 30_000 });
    await ctx.waitFor(async () => (await item.getAttribute("class"))?.split(/\s+/).includes("selected"), { message: `${id} selected` });
    await scrollIntoView(ctx, item, id);

    // The markup is there to read, as text.
    const text = item.locator("pre.judgement-text");
    const shown = await text.innerText();
    if (!shown.includes(VISIBLE) || !shown.includes("<script>"))
      throw new Error(`the judgement's text does not show the markup literally: ${JSON.stringify(shown)}`);
    await item.getByText(VISIBLE).waitFor({ state: "visible", timeout: 30_000 });
    const mark = await item.locator("[data-testid=span-mark]").textContent();
    if (mark !== "Score: 3") throw new Error(`the marked score is ${JSON.stringify(mark)}`);
    await shot(ctx, "60-xss-2-inspector");

    // Nothing was made of it: no element inside the judgement's text, no image or injected script on the
    // page, and neither handler ran.
    const inert = await item.evaluate((el) => {
      const doc = el.ownerDocument;
      const pre = el.querySelector("pre.judgement-text");
      return {
        imgInItem: el.querySelectorAll("img").length as number,
        scriptInItem: el.querySelectorAll("script").length as number,
        elementsInText: pre ? ([...pre.children] as { tagName: string }[]).map((c) => c.tagName.toLowerCase()) : null,
        images: doc.images.length as number,
        injectedScripts: ([...doc.scripts] as { textContent: string | null }[]).filter((sc) => sc.textContent?.includes("pwned")).length,
        title: doc.title as string,
        xss: ((doc.defaultView as { __xss?: unknown }).__xss ?? null) as unknown,
      };
    });
    ctx.log(`inert: ${JSON.stringify(inert)}`);
    if (inert.imgInItem !== 0 || inert.scriptInItem !== 0)
      throw new Error(`the judgement holds ${inert.imgInItem} img and ${inert.scriptInItem} script elements`);
    if (JSON.stringify(inert.elementsInText) !== JSON.stringify(["mark"]))
      throw new Error(`the judgement's text holds elements ${JSON.stringify(inert.elementsInText)}; only the score's <mark> belongs there`);
    if (inert.images !== 0) throw new Error(`the inspector page has ${inert.images} images`);
    if (inert.injectedScripts !== 0) throw new Error("the injected <script> is on the page");
    if (inert.title === "pwned" || inert.xss !== null)
      throw new Error(`injected code ran: title ${JSON.stringify(inert.title)}, __xss ${JSON.stringify(inert.xss)}`);
  } finally {
    fs.writeFileSync(file, original);
  }
  if (!fs.readFileSync(file).equals(original)) throw new Error("judgements.jsonl is not back as it was");
  // Both views follow the file back: the row and the inspector's item go.
  await ctx.waitFor(async () => (await inspectorFrame(ctx, promptId).then((f) => f.locator(`[data-judgement-id="${id}"]`).count())) === 0, {
    message: `${id} gone from the inspector`,
  });
  await ctx.waitFor(
    async () =>
      !(await waitForRow(ctx, rowPath, 1_000).then(
        () => true,
        () => false,
      )),
    { message: "the j99 row gone from the view" },
  );
  await shot(ctx, "60-xss-3-restored");
}
