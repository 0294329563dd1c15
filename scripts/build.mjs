// Bundles each runtime on its own: the extension (vscode external), the CLI (plain Node), and the
// inspector webview (a browser bundle; its CSS lands beside it as media/inspector.css).
import * as fs from "node:fs";
import * as path from "node:path";
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
// jsonc-parser's UMD build requires its parts at run time; its ESM build bundles cleanly.
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: true,
  logLevel: "warning",
  mainFields: ["module", "main"],
};
// ssh2 tries a native crypto addon and cpu-features inside try/catch, falling back to pure JS; left
// outside the bundle, they load when built and present and are skipped otherwise.
const sshOptionalNative = ["cpu-features", "*.node"];
const builds = [
  { ...common, entryPoints: ["src/extension/extension.ts"], outfile: "dist/extension.js", external: ["vscode", ...sshOptionalNative] },
  // The CLI is ES module chunks under dist/cli/ so that a command parses only the code it runs: the
  // remote (ssh2), batch submit (openai), try and serve-local code each load on demand. The bundled
  // CommonJS packages call require() and the sources use __dirname, which ES modules lack: the banner
  // defines both. node-llama-cpp (native, ESM-only) stays outside: `serve-local` import()s it from
  // node_modules at run time.
  {
    ...common,
    format: "esm",
    splitting: true,
    entryPoints: ["src/cli/bin.ts"],
    outdir: "dist/cli",
    outExtension: { ".js": ".mjs" },
    chunkNames: "[name]-[hash]",
    metafile: true,
    banner: {
      js: 'import { createRequire as __mjRequire } from "node:module"; import { fileURLToPath as __mjPath } from "node:url"; import { dirname as __mjDirname } from "node:path"; const require = __mjRequire(import.meta.url); const __filename = __mjPath(import.meta.url); const __dirname = __mjDirname(__filename);',
    },
    external: ["node-llama-cpp", ...sshOptionalNative],
  },
  {
    bundle: true,
    platform: "browser",
    target: "chrome120",
    format: "iife",
    minify: true,
    sourcemap: true,
    logLevel: "warning",
    entryPoints: ["webview/main.ts"],
    outfile: "media/inspector.js",
  },
];
// `node dist/cli.js` (package.json "bin", the extension, the tests) stays the way in: a CommonJS file that
// imports the entry chunk.
const CLI_STUB = `#!/usr/bin/env node
"use strict";
// The command line is ES module chunks in cli/ beside this file; see scripts/build.mjs.
import("./cli/bin.mjs");
`;

function writeCliStub() {
  fs.mkdirSync("dist", { recursive: true });
  fs.writeFileSync("dist/cli.js", CLI_STUB, { mode: 0o755 });
  // The single-file bundle this layout replaced.
  fs.rmSync("dist/cli.js.map", { force: true });
}

/** Chunks of earlier builds (their names carry a content hash) would pile up in dist/cli and the .vsix. */
function pruneCliChunks(result) {
  const kept = new Set(Object.keys(result.metafile.outputs).map((f) => path.resolve(f)));
  for (const name of fs.readdirSync("dist/cli")) {
    const file = path.resolve("dist/cli", name);
    if (!kept.has(file)) fs.rmSync(file, { force: true });
  }
}

writeCliStub();
if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  const results = await Promise.all(builds.map((b) => esbuild.build(b)));
  pruneCliChunks(results[1]);
}
