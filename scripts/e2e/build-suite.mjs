// Bundles the extension host test suite: test/vscode/suite/index.ts and each *.test.ts on its own
// into dist/test/vscode/, because mocha must set up its globals before it requires a test file.
// vscode is the host's own module; mocha stays external so the runner and the tests share one copy.
import * as esbuild from "esbuild";
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.resolve(import.meta.dirname, "..", "..");
const src = path.join(root, "test", "vscode", "suite");
const outdir = path.join(root, "dist", "test", "vscode");
const tests = fs.readdirSync(src).filter((f) => f.endsWith(".test.ts"));

fs.rmSync(outdir, { recursive: true, force: true }); // a deleted test must not keep running
await esbuild.build({
  entryPoints: [path.join(src, "index.ts"), ...tests.map((f) => path.join(src, f))],
  outdir,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  mainFields: ["module", "main"],
  external: ["vscode", "mocha"],
  keepNames: true,
  logLevel: "warning",
});
