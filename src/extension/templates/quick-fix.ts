// "Did you mean" as a one-click fix: the core's unknown-variable message carries the suggestion.
import * as vscode from "vscode";
import { DIAGNOSTIC_SOURCE } from "./diagnostics.js";
import { references, suggestionIn } from "../../core/template-variables.js";

export class UnknownVariableFix implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];

  provideCodeActions(doc: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    for (const d of context.diagnostics) {
      if (d.source !== DIAGNOSTIC_SOURCE || d.code !== "unknown-variable" || !d.range.isSingleLine) continue;
      const suggested = suggestionIn(d.message);
      const ref = references(doc.lineAt(d.range.start.line).text).find((r) => r.start === d.range.start.character);
      if (suggested === undefined || ref === undefined) continue;
      // Only the name is replaced, so the blanks someone put inside the braces stay theirs.
      const action = new vscode.CodeAction(`Change to {{${suggested}}}`, vscode.CodeActionKind.QuickFix);
      action.edit = new vscode.WorkspaceEdit();
      action.edit.replace(doc.uri, new vscode.Range(d.range.start.line, ref.nameStart, d.range.start.line, ref.nameEnd), suggested);
      action.diagnostics = [d];
      action.isPreferred = true;
      actions.push(action);
    }
    return actions;
  }
}
