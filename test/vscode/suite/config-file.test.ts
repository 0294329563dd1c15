// metajudge.json in the editor: JSON with comments, as the CLI reads it. Comments and trailing
// commas draw no complaint; the shipped schema still checks the content (an endpoint must be http).
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { suite, test } from "mocha";
import * as vscode from "vscode";
import { until } from "./until.js";

suite("metajudge.json", () => {
  test("opens as JSON with comments; the schema flags a file:// endpoint but not a comment or a trailing comma", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mj-jsonc-"));
    const file = path.join(dir, "metajudge.json");
    fs.writeFileSync(
      file,
      '// notes on this experiment\n{\n  "endpoint": { "base_url": "file:///etc/passwd", "model": "m" }, /* for now */\n  "iterations": [{ "rho": 0 },],\n}\n',
    );
    const doc = await vscode.workspace.openTextDocument(file);
    await vscode.window.showTextDocument(doc);
    assert.equal(doc.languageId, "jsonc");
    const diagnostics = await until("the schema's diagnostics", () => {
      const d = vscode.languages.getDiagnostics(doc.uri);
      return d.some((x) => /http/.test(x.message)) ? d : undefined;
    });
    const messages = diagnostics.map((d) => `${d.range.start.line + 1}: ${d.message}`);
    assert.ok(
      diagnostics.some((d) => d.range.start.line === 2 && /http:\/\/ or https:\/\//.test(d.message)),
      messages.join("\n"),
    );
    assert.ok(!diagnostics.some((d) => /comment|trailing comma/i.test(d.message)), messages.join("\n"));
    await vscode.commands.executeCommand("workbench.action.closeActiveEditor");
  });
});
