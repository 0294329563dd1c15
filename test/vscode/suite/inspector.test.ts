// The inspector inside a real VS Code: Open Inspector on a prompt of the fixture experiment opens
// one webview tab of the inspector's view type, titled by the prompt, and a second prompt reuses it.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { suite, suiteSetup, suiteTeardown, test } from "mocha";
import * as vscode from "vscode";
import { until } from "./until.js";

const ID = "metajudge.metajudge";
let dir: string;
let promptIds: string[];

/** The tab model names webview types with a host prefix, hence "contains". */
const inspectorTabs = (): vscode.Tab[] =>
  vscode.window.tabGroups.all
    .flatMap((g) => g.tabs)
    .filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.includes("metajudge.inspector"));

suite("inspector", () => {
  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension(ID);
    assert.ok(ext, `${ID} is installed`);
    await ext.activate();
    const found = await vscode.workspace.findFiles("**/metajudge.json", "**/node_modules/**");
    assert.ok(found[0], "the fixture experiment's metajudge.json");
    dir = path.dirname(found[0].fsPath);
    const responses = path.join(dir, "iterations", "1", "responses.jsonl");
    promptIds = [
      ...new Set(
        fs
          .readFileSync(responses, "utf8")
          .split("\n")
          .filter((l) => l.trim())
          .map((l) => (JSON.parse(l) as { prompt_id: string }).prompt_id),
      ),
    ];
    assert.ok(promptIds.length > 0, `prompts in ${responses}`);
  });

  suiteTeardown(async () => {
    await vscode.window.tabGroups.close(inspectorTabs());
  });

  test("Open Inspector on a prompt opens the inspector webview, titled by the prompt", async () => {
    const promptId = promptIds[0]!;
    await vscode.commands.executeCommand("metajudge.openInspector", { experimentDir: dir, iteration: 1, promptId });
    const tab = await until("an inspector tab", () => inspectorTabs()[0]);
    assert.ok(tab.input instanceof vscode.TabInputWebview);
    await until(`the title "Inspector: ${promptId}"`, () => inspectorTabs().some((t) => t.label === `Inspector: ${promptId}`));
  });

  test("a second prompt reuses the same tab", async function () {
    if (promptIds.length < 2) this.skip();
    const promptId = promptIds[1]!;
    await vscode.commands.executeCommand("metajudge.openInspector", { experimentDir: dir, iteration: 1, promptId });
    await until(`the title "Inspector: ${promptId}"`, () => inspectorTabs().some((t) => t.label === `Inspector: ${promptId}`));
    assert.equal(inspectorTabs().length, 1, "one inspector tab");
  });
});
