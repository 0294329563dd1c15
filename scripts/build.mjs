// Bundles each runtime on its own: the extension (vscode external) and the CLI (plain Node).
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
// jsonc-parser's UMD build requires its parts at run time; its ESM build bundles cleanly.
const common = { bundle: true, platform: "node", target: "node20", format: "cjs", sourcemap: true, logLevel: "warning", mainFields: ["module", "main"] };
const builds = [
  { ...common, entryPoints: ["src/extension/extension.ts"], outfile: "dist/extension.js", external: ["vscode"] },
  { ...common, entryPoints: ["src/cli/main.ts"], outfile: "dist/cli.js", banner: { js: "#!/usr/bin/env node" } },
];
if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
