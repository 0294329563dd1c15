// The house rule that keeps the domain portable: src/core never imports the editor API.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { ESLint } from "eslint";

const root = path.join(__dirname, "..", "..");

test("the linter rejects a vscode import under src/core and allows it in src/extension", async () => {
  const eslint = new ESLint({ cwd: root });
  const code = 'import * as vscode from "vscode";\nexport const x = vscode;\n';
  const [core] = await eslint.lintText(code, { filePath: path.join(root, "src/core/probe.ts") });
  assert.ok(
    core!.messages.some((m) => m.ruleId === "no-restricted-imports" && /plain Node/.test(m.message)),
    JSON.stringify(core!.messages),
  );
  const [ext] = await eslint.lintText(code, { filePath: path.join(root, "src/extension/probe.ts") });
  assert.deepEqual(
    ext!.messages.filter((m) => m.ruleId === "no-restricted-imports"),
    [],
  );
  const [up] = await eslint.lintText('import { main } from "../cli/main";\nexport const y = main;\n', {
    filePath: path.join(root, "src/core/probe.ts"),
  });
  assert.ok(up!.messages.some((m) => m.ruleId === "no-restricted-imports"));
});

test("the webview may import only src/shared, its own files and its browser packages", async () => {
  const eslint = new ESLint({ cwd: root });
  const lint = async (code: string) => {
    const [r] = await eslint.lintText(code, { filePath: path.join(root, "webview/probe.ts") });
    return r!.messages.filter((m) => m.ruleId === "no-restricted-imports");
  };
  for (const bad of [
    'import "vscode";',
    'import "node:fs";',
    'import "../src/core/view/types.js";',
    'import "../src/extension/services.js";',
    'import "../src/cli/main.js";',
  ]) {
    assert.equal((await lint(bad + "\n")).length, 1, bad);
  }
  for (const good of [
    'import "../src/shared/protocol.js";',
    'import "./model.js";',
    'import "@vscode-elements/elements/dist/vscode-badge/index.js";',
    'import "./inspector.css";',
  ]) {
    assert.deepEqual(await lint(good + "\n"), [], good);
  }
});

test("src/shared imports nothing but its own files", async () => {
  const eslint = new ESLint({ cwd: root });
  const lint = async (code: string) => {
    const [r] = await eslint.lintText(code, { filePath: path.join(root, "src/shared/probe.ts") });
    return r!.messages.filter((m) => m.ruleId === "no-restricted-imports");
  };
  for (const bad of ['import type { Config } from "../core/schema.js";', 'import "vscode";', 'import "node:path";', 'import "zod";']) {
    assert.equal((await lint(bad + "\n")).length, 1, bad);
  }
  assert.deepEqual(await lint('import type { InspectorData } from "./view.js";\n'), []);
});

test("the editor never casts JSON.parse: a worker's lines go through the --json contract's guard", async () => {
  const eslint = new ESLint({ cwd: root });
  // Paths of files in the project, so that the type-aware rules' project service knows them; the text is the probe's.
  const lint = async (code: string, file = "src/extension/worker/cli-worker.ts") => {
    const [r] = await eslint.lintText(code, { filePath: path.join(root, file) });
    return r!.messages.filter((m) => m.ruleId === "no-restricted-syntax");
  };
  for (const bad of [
    "export const e = JSON.parse(line) as { type: string };\ndeclare const line: string;\n",
    "export const e = (JSON.parse(line) as { n: number }).n;\ndeclare const line: string;\n",
    "export const e = <{ n: number }>JSON.parse(line);\ndeclare const line: string;\n",
  ]) {
    assert.equal((await lint(bad)).length, 1, bad);
  }
  assert.deepEqual(
    await lint(
      'import { parseWireLine } from "../shared/cli-wire.js";\nexport const e = parseWireLine(line);\ndeclare const line: string;\n',
    ),
    [],
  );
  assert.deepEqual(
    await lint("export const e = JSON.parse(line) as { type: string };\ndeclare const line: string;\n", "src/core/errors.ts"),
    [],
    "the rule is the editor's",
  );
});
