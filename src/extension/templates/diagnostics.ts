// Template problems as you type: the core validator's findings, converted to editor ranges.
import * as vscode from "vscode";
import { parseTemplate, type TemplateProblem } from "../../core/templates.js";
import { TEMPLATE_LANGUAGE } from "./language.js";
import type { TemplateOwners } from "./owners.js";

export const DIAGNOSTIC_SOURCE = "metajudge";
const DEBOUNCE_MS = 150;

export class TemplateDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection("metajudge-templates");
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly disposables: vscode.Disposable[] = [this.collection];

  constructor(private readonly owners: TemplateOwners) {
    this.disposables.push(
      vscode.workspace.onDidOpenTextDocument((doc) => this.schedule(doc, 0)),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document, DEBOUNCE_MS)),
      vscode.workspace.onDidCloseTextDocument((doc) => this.forget(doc.uri)),
      owners.onDidChange(() => this.checkAll()),
    );
    this.checkAll();
  }

  private checkAll(): void {
    for (const doc of vscode.workspace.textDocuments) this.schedule(doc, 0);
  }

  private schedule(doc: vscode.TextDocument, delayMs: number): void {
    // Other schemes (git:, the diff editor's originals) are old versions, not the text being edited.
    if (doc.languageId !== TEMPLATE_LANGUAGE || (doc.uri.scheme !== "file" && doc.uri.scheme !== "untitled")) return;
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        void this.check(doc);
      }, delayMs),
    );
  }

  private async check(doc: vscode.TextDocument): Promise<void> {
    const version = doc.version;
    const owner = await this.owners.ownerOf(doc.uri);
    // A newer edit has its own check queued; a closed document must not get its problems back.
    if (doc.isClosed || doc.version !== version || doc.languageId !== TEMPLATE_LANGUAGE) return;
    if (owner.role === undefined) {
      const note = new vscode.Diagnostic(
        doc.lineAt(0).range,
        'The role of this template is unknown, so its variables are not checked: name it under "templates" in metajudge.json, or call it actor.md, judge.md or meta_judge.md',
        vscode.DiagnosticSeverity.Information,
      );
      note.source = DIAGNOSTIC_SOURCE;
      note.code = "unknown-role";
      this.collection.set(doc.uri, [note]);
      return;
    }
    const { problems } = parseTemplate(doc.getText(), owner.role, doc.uri.fsPath);
    this.collection.set(doc.uri, problems.map(toDiagnostic));
  }

  private forget(uri: vscode.Uri): void {
    const key = uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.collection.delete(uri);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const d of this.disposables) d.dispose();
  }
}

/** The core counts from 1 with exclusive ends; the editor counts from 0 with exclusive ends. */
export function toRange(p: Pick<TemplateProblem, "line" | "column" | "endLine" | "endColumn">): vscode.Range {
  return new vscode.Range(p.line - 1, p.column - 1, p.endLine - 1, p.endColumn - 1);
}

function toDiagnostic(p: TemplateProblem): vscode.Diagnostic {
  const severity = p.severity === "error" ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning;
  const d = new vscode.Diagnostic(toRange(p), p.message, severity);
  d.source = DIAGNOSTIC_SOURCE;
  d.code = p.code;
  return d;
}
