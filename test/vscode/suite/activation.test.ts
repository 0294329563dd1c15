// The extension as VS Code sees it: found under its manifest id, activated on an experiment
// folder, and every command that the manifest contributes actually registered. The command list
// is read from the running extension's package.json, so it follows the manifest as it grows.
import * as assert from "node:assert/strict";
import { suite, test } from "mocha";
import * as vscode from "vscode";

const ID = "metajudge.metajudge";

interface Manifest {
  contributes?: { commands?: { command: string }[] };
}

suite("activation", () => {
  test("the workspace is the fixture experiment", async () => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, "a folder is open");
    const found = await vscode.workspace.findFiles("metajudge.json");
    assert.equal(found.length, 1, "metajudge.json at the folder's root");
  });

  test(`${ID} is installed and activates`, async () => {
    const ext = vscode.extensions.getExtension(ID);
    assert.ok(ext, `${ID} is known to VS Code`);
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  test("every command in contributes.commands is registered", async () => {
    const ext = vscode.extensions.getExtension(ID);
    assert.ok(ext);
    await ext.activate();
    const declared = ((ext.packageJSON as Manifest).contributes?.commands ?? []).map((c) => c.command);
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = declared.filter((c) => !registered.has(c));
    if (missing.length) assert.fail(`declared in package.json but not registered: ${missing.join(", ")}`);
  });
});
