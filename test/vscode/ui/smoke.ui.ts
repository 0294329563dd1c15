// The workbench comes up on the fixture experiment with the packaged extension installed, and the
// extension's activity-bar container opens.
import * as path from "node:path";
import type { UiContext } from "../harness.js";

export default async function smoke(ctx: UiContext): Promise<void> {
  const { page } = ctx;
  // The explorer listing the experiment's files proves the page reached the server's file system.
  await ctx.runCommand("View: Show Explorer");
  await page
    .locator(".pane-header", { hasText: path.basename(ctx.workspace).toUpperCase() })
    .first()
    .waitFor({ timeout: 30_000 });
  await page.locator(".explorer-folders-view .monaco-list-row", { hasText: "metajudge.json" }).first().waitFor({ timeout: 30_000 });
  ctx.log(`saved ${await ctx.screenshot("workbench")}`);

  // The container appears once the workbench has read the extension's contributions, a moment
  // after the page settles. Its contents are other tests' business; this one only looks.
  const container = page.locator('.activitybar .action-item a[aria-label^="Metajudge"]').first();
  const shown = await container.waitFor({ timeout: 20_000 }).then(
    () => true,
    () => false,
  );
  if (!shown) {
    const labels = await page.locator(".activitybar .action-item a").evaluateAll((as) => as.map((a) => a.getAttribute("aria-label")));
    ctx.log(`no Metajudge container in the activity bar: ${labels.join(" | ")}`);
    return;
  }
  await container.click();
  await page
    .locator(".sidebar .composite.title", { hasText: /metajudge/i })
    .first()
    .waitFor({ timeout: 15_000 });
  // The extension activates on the click's behalf; give its views time to fill in before the picture.
  const filled = await page
    .locator(".sidebar .monaco-list-row")
    .first()
    .waitFor({ timeout: 30_000 })
    .then(
      () => true,
      () => false,
    );
  if (!filled) ctx.log("the Metajudge views show no rows");
  ctx.log(`saved ${await ctx.screenshot("metajudge-view")}`);
}
