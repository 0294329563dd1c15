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
  assert.ok(core!.messages.some((m) => m.ruleId === "no-restricted-imports" && /plain Node/.test(m.message)), JSON.stringify(core!.messages));
  const [ext] = await eslint.lintText(code, { filePath: path.join(root, "src/extension/probe.ts") });
  assert.deepEqual(ext!.messages.filter((m) => m.ruleId === "no-restricted-imports"), []);
  const [up] = await eslint.lintText('import { main } from "../cli/main";\nexport const y = main;\n', { filePath: path.join(root, "src/core/probe.ts") });
  assert.ok(up!.messages.some((m) => m.ruleId === "no-restricted-imports"));
});
