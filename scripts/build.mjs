// Bundles each runtime on its own: the extension (vscode external), the CLI (plain Node), and the
// inspector webview (a browser bundle; its CSS lands beside it as media/inspector.css).
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
// jsonc-parser's UMD build requires its parts at run time; its ESM build bundles cleanly.
const common = { bundle: true, platform: "node", target: "node20", format: "cjs", sourcemap: true, logLevel: "warning", mainFields: ["module", "main"] };
// ssh2 tries a native crypto addon and cpu-features inside try/catch, falling back to pure JS; left
// outside the bundle, they load when built and present and are skipped otherwise.
const sshOptionalNative = ["cpu-features", "*.node"];
const builds = [
  { ...common, entryPoints: ["src/extension/extension.ts"], outfile: "dist/extension.js", external: ["vscode", ...sshOptionalNative] },
  // node-llama-cpp (native, ESM-only) stays outside: `serve-local` import()s it from node_modules at run time.
  { ...common, entryPoints: ["src/cli/main.ts"], outfile: "dist/cli.js", banner: { js: "#!/usr/bin/env node" }, external: ["node-llama-cpp", ...sshOptionalNative] },
  { bundle: true, platform: "browser", target: "chrome120", format: "iife", minify: true, sourcemap: true, logLevel: "warning", entryPoints: ["webview/main.ts"], outfile: "media/inspector.js" },
];
if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
