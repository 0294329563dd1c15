// The real extension host on the paper-scale iteration: code-server with the packaged extension,
// the workbench opened on the synthetic experiment in headless Chromium, the Iterations view
// expanded as a person would. Measured: the time from the click on "Iteration 1" to its stages and
// prompts on screen, and the extension host's resident memory (VmRSS / VmHWM from /proc).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { launchBrowser, openWorkbench, startCodeServer, VSIX } from "../test/vscode/harness.js";

export interface ExtHostSample {
  expandMs: number;
  promptsMs: number;
  rssMiB: number;
  hwmMiB: number;
}

function extensionHosts(): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, "utf8");
      if (cmd.includes("extensionHost") && cmd.includes("code-server")) out.push(Number(d));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

function memKiB(pid: number): { rss: number; hwm: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const get = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
  return { rss: get("VmRSS"), hwm: get("VmHWM") };
}

export async function measureExtensionHost(root: string, experimentDir: string): Promise<ExtHostSample> {
  for (const script of ["setup.sh", "package.sh"]) {
    const r = spawnSync("bash", [path.join(root, "scripts", "e2e", script)], { cwd: root, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`scripts/e2e/${script} failed: ${r.stderr.slice(-1000)}`);
  }
  const before = new Set(extensionHosts());
  const server = await startCodeServer({ vsix: VSIX });
  const browser = await launchBrowser(server);
  try {
    const { page } = browser;
    await openWorkbench(page, server, experimentDir);
    await page.locator('.activitybar .action-item a[aria-label^="Metajudge"]').first().click();
    const tree = page.locator('.sidebar [role="tree"][aria-label="Iterations"]');
    const iteration = tree.locator(".monaco-list-row", { hasText: "Iteration 1" }).first();
    await iteration.waitFor({ timeout: 120_000 });
    const t0 = performance.now();
    await iteration.click();
    await tree.locator(".monaco-list-row", { hasText: "judge" }).first().waitFor({ timeout: 120_000 });
    const t1 = performance.now();
    // 5,000 prompts come in pages of 200: Prompts → "1–200" → the prompts themselves.
    await tree.locator(".monaco-list-row", { hasText: "Prompts" }).first().click();
    const page1 = tree.locator(".monaco-list-row", { hasText: "1–200" }).first();
    await page1.waitFor({ timeout: 120_000 });
    await page1.click();
    await tree
      .locator(".monaco-list-row", { hasText: /spread/ })
      .first()
      .waitFor({ timeout: 120_000 });
    const t2 = performance.now();
    const host = extensionHosts().find((p) => !before.has(p));
    if (host === undefined) throw new Error("no extension host process of this code-server found in /proc");
    const m = memKiB(host);
    return { expandMs: t1 - t0, promptsMs: t2 - t1, rssMiB: m.rss / 1024, hwmMiB: m.hwm / 1024 };
  } finally {
    await browser.close();
    await server.stop();
  }
}
