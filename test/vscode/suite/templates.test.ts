// Rubric editing inside a real VS Code, on the fixture experiment's own templates: the language,
// diagnostics with their quick fix, completion, hover, the rendered preview filled with a real
// record, and Try on Sample against the fixture's loopback model server. Every edit is reverted,
// and the files on disk are checked to be byte for byte what they were. code-server saves edits
// after a second by default, so auto-save is off while this suite runs.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { suite, suiteSetup, suiteTeardown, teardown, test } from "mocha";
import * as vscode from "vscode";
import { until } from "./until.js";

const ID = "metajudge.metajudge";
const LANGUAGE = "metajudge-template";

interface FixtureConfig {
  prompts?: string;
  templates?: { actor?: string; judge?: string; meta_judge?: string };
  endpoint: { base_url: string };
}

let dir: string;
let config: FixtureConfig;
let judge: vscode.Uri;
let metaJudge: vscode.Uri;
let configFile: string;
let autoSave: string | undefined;
const originals = new Map<string, Buffer>();

async function open(uri: vscode.Uri): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument(uri);
  return vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, preview: false });
}

/** Appends a line to the template and returns where it is. */
async function appendLine(editor: vscode.TextEditor, text: string): Promise<number> {
  const doc = editor.document;
  const end = doc.lineAt(doc.lineCount - 1).range.end;
  const prefix = doc.lineAt(doc.lineCount - 1).text === "" ? "" : "\n";
  assert.ok(await editor.edit((e) => e.insert(end, `${prefix}${text}`)));
  return doc.lineCount - 1;
}

/** Throws away unsaved edits of every template this suite touched. */
async function revertAll(): Promise<void> {
  for (const uri of [judge, metaJudge]) {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (!doc?.isDirty) continue;
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One });
    await vscode.commands.executeCommand("workbench.action.files.revert");
    await until(`${path.basename(uri.fsPath)} reverted`, () => !doc.isDirty);
  }
}

const codeOf = (d: vscode.Diagnostic): string => String(typeof d.code === "object" ? d.code.value : d.code);

const hoverText = (hovers: vscode.Hover[]): string =>
  hovers.flatMap((h) => h.contents.map((c) => (typeof c === "string" ? c : "value" in c ? c.value : ""))).join("\n");

const isLoopback = (url: string): boolean => ["127.0.0.1", "localhost", "[::1]"].includes(new URL(url).hostname);

suite("templates", () => {
  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension(ID);
    assert.ok(ext, `${ID} is installed`);
    await ext.activate();
    const found = await vscode.workspace.findFiles("**/metajudge.json", "**/node_modules/**");
    const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    const mine = found.find((u) => folders.some((f) => u.fsPath.startsWith(f)));
    assert.ok(mine, "an experiment in the workspace");
    dir = path.dirname(mine.fsPath);
    configFile = mine.fsPath;
    config = JSON.parse(fs.readFileSync(configFile, "utf8")) as FixtureConfig;
    judge = vscode.Uri.file(path.resolve(dir, config.templates?.judge ?? "prompts/judge.md"));
    metaJudge = vscode.Uri.file(path.resolve(dir, config.templates?.meta_judge ?? "prompts/meta_judge.md"));
    for (const file of [judge.fsPath, metaJudge.fsPath, configFile]) originals.set(file, fs.readFileSync(file));
    const files = vscode.workspace.getConfiguration("files");
    autoSave = files.inspect<string>("autoSave")?.globalValue;
    await files.update("autoSave", "off", vscode.ConfigurationTarget.Global);
  });

  teardown(revertAll);

  suiteTeardown(async () => {
    await revertAll();
    await vscode.commands.executeCommand("workbench.action.closeAllEditors");
    await vscode.workspace.getConfiguration("files").update("autoSave", autoSave, vscode.ConfigurationTarget.Global);
    // Put back anything that did change, so the suites after this one see the fixture, then fail.
    const changed = [...originals].filter(([file, bytes]) => !fs.readFileSync(file).equals(bytes));
    for (const [file, bytes] of changed) fs.writeFileSync(file, bytes);
    assert.deepEqual(
      changed.map(([file]) => file),
      [],
      "the fixture's files are left as they were",
    );
  });

  test("a template named by metajudge.json is in the template language", async () => {
    const editor = await open(judge);
    assert.equal(editor.document.languageId, LANGUAGE);
  });

  test("a misspelt variable is reported where it is written, and the quick fix corrects it", async () => {
    const editor = await open(judge);
    const line = await appendLine(editor, "Also consider: {{respnse}}");
    const start = editor.document.lineAt(line).text.indexOf("{{respnse}}");
    const expected = new vscode.Range(line, start, line, start + "{{respnse}}".length);

    const diag = await until("an unknown-variable diagnostic", () =>
      vscode.languages.getDiagnostics(judge).find((d) => codeOf(d) === "unknown-variable" && d.source === "metajudge"),
    );
    assert.ok(diag.range.isEqual(expected), `range ${JSON.stringify(diag.range)} is ${JSON.stringify(expected)}`);
    assert.equal(diag.severity, vscode.DiagnosticSeverity.Error);
    assert.match(diag.message, /did you mean \{\{response\}\}/);

    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>(
      "vscode.executeCodeActionProvider",
      judge,
      expected,
      vscode.CodeActionKind.QuickFix.value,
    );
    const fix = actions.find((a) => a.title === "Change to {{response}}");
    assert.ok(fix?.edit, `a quick fix among ${actions.map((a) => a.title).join(", ")}`);
    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    assert.equal(editor.document.lineAt(line).text, "Also consider: {{response}}");
    await until("the diagnostic gone", () => !vscode.languages.getDiagnostics(judge).some((d) => codeOf(d) === "unknown-variable"));
  });

  test("completion after {{ offers the role's variables, with what they are filled with", async () => {
    const editor = await open(judge);
    const line = await appendLine(editor, "Compare with {{");
    const pos = new vscode.Position(line, editor.document.lineAt(line).text.length);
    const list = await vscode.commands.executeCommand<vscode.CompletionList>("vscode.executeCompletionItemProvider", judge, pos, "{");
    const ours = list.items.filter((i) => i.kind === vscode.CompletionItemKind.Variable);
    const labels = ours.map((i) => (typeof i.label === "string" ? i.label : i.label.label));
    assert.ok(labels.includes("response"), `response among ${labels.join(", ")}`);
    assert.ok(labels.includes("prompt"));
    assert.ok(!labels.includes("judgement_a"), "a judge template has no judgement_a");
    const response = ours.find((i) => i.label === "response");
    const doc = response?.documentation;
    assert.match(typeof doc === "string" ? doc : (doc?.value ?? ""), /responses\.jsonl/);
  });

  test("hover tells what a variable is filled with, and that an unknown one is unknown", async () => {
    const editor = await open(judge);
    const text = editor.document.getText();
    const at = editor.document.positionAt(text.indexOf("{{response}}") + 3);
    const known = hoverText(await vscode.commands.executeCommand<vscode.Hover[]>("vscode.executeHoverProvider", judge, at));
    assert.match(known, /required/);
    assert.match(known, /responses\.jsonl/);

    const line = await appendLine(editor, "Bad: {{judgement_a}}");
    const unknown = hoverText(
      await vscode.commands.executeCommand<vscode.Hover[]>("vscode.executeHoverProvider", judge, new vscode.Position(line, 8)),
    );
    assert.match(unknown, /unknown variable/);
    assert.match(unknown, /meta-judge/, "it says where judgement_a does exist");
  });

  test("Preview Rendered Prompt fills the template with a real prompt and follows edits", async () => {
    const editor = await open(judge);
    const uri = await vscode.commands.executeCommand<vscode.Uri | undefined>("metajudge.previewRenderedPrompt", judge);
    assert.ok(uri, "the command returns the preview's URI");
    const preview = await until("the preview document", () =>
      vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString()),
    );
    assert.equal(preview.languageId, "markdown");
    const prompts = fs
      .readFileSync(path.resolve(dir, config.prompts ?? "prompts.jsonl"), "utf8")
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => (JSON.parse(l) as { prompt: string }).prompt);
    assert.ok(
      prompts.some((p) => preview.getText().includes(p)),
      `the preview holds a prompt of the prompt set:\n${preview.getText().slice(0, 400)}`,
    );
    assert.ok(!/\{\{\s*(prompt|response)\s*\}\}/.test(preview.getText()), "every variable is filled");

    await appendLine(editor, "MARKER-4f1c: answer in one line.");
    await until("the preview re-rendered", () => preview.getText().includes("MARKER-4f1c"));
  });

  test("a template that metajudge.json names at any path gets the language and the role it names", async () => {
    const rubric = path.join(dir, "rubrics-under-test", "strict-judge.txt");
    try {
      fs.mkdirSync(path.dirname(rubric), { recursive: true });
      fs.writeFileSync(rubric, "Judge {{response}} to {{prompt}} strictly.\nCompare with {{judgement_a}}.\n");
      const raw = JSON.parse(originals.get(configFile)!.toString("utf8")) as { templates?: Record<string, string> };
      raw.templates = { ...raw.templates, judge: path.relative(dir, rubric) };
      fs.writeFileSync(configFile, JSON.stringify(raw, null, 2));
      const uri = vscode.Uri.file(rubric);
      await vscode.workspace.openTextDocument(uri);
      await until("the template language", () =>
        vscode.workspace.textDocuments.some((d) => d.uri.fsPath === rubric && d.languageId === LANGUAGE),
      );
      const diag = await until("a diagnostic for the judge role", () =>
        vscode.languages.getDiagnostics(uri).find((d) => codeOf(d) === "unknown-variable"),
      );
      assert.match(diag.message, /not available in a judge template/);
    } finally {
      fs.writeFileSync(configFile, originals.get(configFile)!);
      fs.rmSync(path.dirname(rubric), { recursive: true, force: true });
    }
  });

  test("Try on Sample sends the template to the loopback endpoint and shows parsed scores beside the stored ones", async function () {
    if (!isLoopback(config.endpoint.base_url)) this.skip();
    this.timeout(60_000);
    await open(judge);
    const uri = await vscode.commands.executeCommand<vscode.Uri | undefined>("metajudge.tryTemplateOnSample", judge);
    assert.ok(uri, "the trial ran and returned its result's URI");
    const result = await until("the result document", () =>
      vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString()),
    );
    const text = result.getText();
    assert.match(text, /\| response \| on disk \| this template \| change \|/);
    const rows = [...text.matchAll(/^\| `([^`]+)` \| ([\d.]+) \(\d+\/\d+\) \| ([\d.]+) \(\d+\/\d+\) \| (.+) \|$/gm)];
    assert.ok(rows.length >= 1, `at least one response with a stored and a new mean score:\n${text.slice(0, 800)}`);
    // Same template, model, sampling and seed as the run: a deterministic server answers the same.
    for (const r of rows) assert.equal(r[2], r[3], `${r[1]}: an unchanged template reproduces the stored mean`);
  });

  test("Try on Sample on the meta-judge template shows new verdicts beside the stored ones", async function () {
    if (!isLoopback(config.endpoint.base_url)) this.skip();
    this.timeout(60_000);
    await open(metaJudge);
    const uri = await vscode.commands.executeCommand<vscode.Uri | undefined>("metajudge.tryTemplateOnSample", metaJudge);
    assert.ok(uri);
    const result = await until("the result document", () =>
      vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString()),
    );
    assert.match(result.getText(), /^\| `[^`]+` \| (A \(first\)|B \(second\)|no verdict) \| (A \(first\)|B \(second\)|no verdict) \| /m);
  });
});
