// The test entry the extension host calls (extensionTestsPath): runs every *.test.js bundled next
// to this file with mocha. mocha is not bundled: it is required at run time from the repo's
// node_modules, which Node finds by walking up from dist/test/vscode/.
import * as fs from "node:fs";
import * as path from "node:path";
import Mocha from "mocha";

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: "tdd", color: false, reporter: "spec", timeout: 30_000 });
  // METAJUDGE_VSCODE_GREP narrows a run to matching tests while working on them.
  if (process.env.METAJUDGE_VSCODE_GREP) mocha.grep(process.env.METAJUDGE_VSCODE_GREP);
  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith(".test.js"))
    .sort();
  for (const f of files) mocha.addFile(path.join(__dirname, f));
  // The host's output reaches the harness mixed with the workbench's own log; this line is where
  // the tests' part begins.
  console.log(`vscode-exthost: running ${files.join(", ")}`);
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const s = runner.stats;
      // A closing line in the form CI's log reader counts.
      console.log(`vscode-exthost: ${s?.passes ?? 0} passed, ${s?.failures ?? failures} failed, ${s?.pending ?? 0} skipped`);
      if (failures) reject(new Error(`${failures} extension host test(s) failed`));
      else resolve();
    });
  });
}
