// Variable names after "{{", each with what it is filled with for this template's role.
import * as vscode from "vscode";
import { TEMPLATE_VARIABLES } from "../../core/templates.js";
import type { TemplateOwners } from "./owners.js";
import { filledWith, openReference, references } from "../../core/template-variables.js";

export class VariableCompletion implements vscode.CompletionItemProvider {
  static readonly triggers = ["{"];

  constructor(private readonly owners: TemplateOwners) {}

  async provideCompletionItems(doc: vscode.TextDocument, pos: vscode.Position): Promise<vscode.CompletionItem[] | undefined> {
    const line = doc.lineAt(pos.line).text;
    const open = openReference(line.slice(0, pos.character));
    if (open === undefined) return undefined;
    const { role } = await this.owners.ownerOf(doc.uri);
    if (role === undefined) return undefined;

    // The rest of a name under the cursor is replaced too, and "}}" is added only when missing
    // (typing "{{" usually auto-closes it already).
    const after = /^([A-Za-z0-9_]*)([ \t]*\}\})?/.exec(line.slice(pos.character));
    const range = new vscode.Range(pos.line, open.nameStart, pos.line, pos.character + (after?.[1]?.length ?? 0));
    const closed = after?.[2] !== undefined;
    const used = new Set(
      doc
        .getText()
        .split("\n")
        .flatMap((l) => references(l).map((r) => r.name)),
    );

    return TEMPLATE_VARIABLES[role].map((name, i) => {
      const item = new vscode.CompletionItem(name, vscode.CompletionItemKind.Variable);
      item.range = range;
      item.insertText = closed ? name : `${name}}}`;
      item.detail = used.has(name) ? `${role} template variable` : `${role} template variable, not used yet`;
      item.documentation = new vscode.MarkdownString(filledWith(role, name) ?? "");
      // Variables the template still lacks come first: those are what it needs to load.
      item.sortText = `${used.has(name) ? 1 : 0}${i}`;
      return item;
    });
  }
}
