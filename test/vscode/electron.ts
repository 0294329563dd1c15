// The extension host suite in desktop VS Code (Electron), for machines that can download it or
// already have it: the same bundle and fixture as `npm run test:vscode`, without a browser.
// METAJUDGE_VSCODE_EXECUTABLE runs an installed VS Code instead of downloading one; on a Linux
// machine without a display, run this under xvfb-run.
import { runTests } from "@vscode/test-electron";
import { ROOT, SUITE_ENTRY } from "./harness.js";
import { makeFixtureExperiment } from "./fixture/experiment.js";

// The oldest VS Code that engines.vscode admits, so an API used too new fails here first.
const VERSION = process.env.METAJUDGE_VSCODE_VERSION ?? "1.100.3";

async function main(): Promise<number> {
  const fixture = await makeFixtureExperiment();
  try {
    return await runTests({
      version: VERSION,
      vscodeExecutablePath: process.env.METAJUDGE_VSCODE_EXECUTABLE,
      extensionDevelopmentPath: ROOT,
      extensionTestsPath: SUITE_ENTRY,
      extensionTestsEnv: { METAJUDGE_E2E_FAKE_OPENAI_URL: fixture.fake.url, METAJUDGE_E2E_ITERATION: fixture.iteration },
      launchArgs: [fixture.dir, "--disable-extensions", "--disable-workspace-trust", "--skip-welcome", "--skip-release-notes"],
      // Without network the download fails at once; a stalled one should not wait long either.
      timeout: 30_000,
    });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    console.error(
      `test:electron: could not start VS Code ${VERSION}: ${why}\n` +
        "It needs a machine that can download VS Code, or METAJUDGE_VSCODE_EXECUTABLE set to an installed one.\n" +
        "The same suite runs in code-server with `npm run test:vscode`.",
    );
    return 1;
  } finally {
    await fixture.close();
  }
}

void main().then((code) => process.exit(code));
