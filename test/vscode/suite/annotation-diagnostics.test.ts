// An annotation line that cannot be read may be a person's lost flag: the Problems view shows it on
// its line of annotations.jsonl, and the mark goes when the file is fixed. The fixture's file is put
// back byte for byte afterwards.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { suite, suiteSetup, suiteTeardown, test } from "mocha";
import * as vscode from "vscode";
import { until } from "./until.js";

const ID = "metajudge.metajudge";
let file: string;
let original: Buffer | null = null;

const codeOf = (d: vscode.Diagnostic): string => String(typeof d.code === "object" ? d.code.value : d.code);
const marks = (uri: vscode.Uri): vscode.Diagnostic[] =>
  vscode.languages.getDiagnostics(uri).filter((d) => d.source === "metajudge" && codeOf(d) === "unreadable-annotation");

suite("annotation problems", () => {
  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension(ID);
    assert.ok(ext, `${ID} is installed`);
    await ext.activate();
    const found = await vscode.workspace.findFiles("**/metajudge.json", "**/node_modules/**");
    assert.ok(found[0], "an experiment in the workspace");
    file = path.join(path.dirname(found[0].fsPath), "iterations", "1", "annotations.jsonl");
    original = fs.existsSync(file) ? fs.readFileSync(file) : null;
  });

  suiteTeardown(() => {
    if (original === null) fs.rmSync(file, { force: true });
    else fs.writeFileSync(file, original);
  });

  test("an unknown label and a torn last line are marked on their lines in the Problems view", async () => {
    const uri = vscode.Uri.file(file);
    const before =
      original === null
        ? 0
        : original
            .toString("utf8")
            .split("\n")
            .filter((l) => l.trim() !== "").length;
    assert.deepEqual(marks(uri), [], "the fixture's annotations are readable");
    const prefix = original === null || original.length === 0 || original.toString("utf8").endsWith("\n") ? "" : "\n";
    fs.appendFileSync(
      file,
      prefix +
        JSON.stringify({ target_id: "some:r0", label: "suspect", note: "", created_at: new Date().toISOString() }) +
        "\n" +
        '{"target_id": "some:r1", "label": "susp',
    );
    const found = await until("two unreadable-annotation diagnostics", () => {
      const m = marks(uri);
      return m.length === 2 ? m : undefined;
    });
    const byLine = new Map(found.map((d) => [d.range.start.line, d]));
    assert.match(byLine.get(before)?.message ?? "", /label/, `line ${before + 1}: the unknown label`);
    assert.match(byLine.get(before + 1)?.message ?? "", /last line is incomplete/, `line ${before + 2}: the torn line`);
    for (const d of found) assert.equal(d.severity, vscode.DiagnosticSeverity.Error);

    // Fixed on disk: the marks go.
    if (original === null) fs.writeFileSync(file, "");
    else fs.writeFileSync(file, original);
    await until("the diagnostics cleared", () => marks(uri).length === 0);
  });
});
