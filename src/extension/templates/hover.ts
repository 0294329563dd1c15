// Hover on a reference: what it is filled with for this role and that it is required, or why it is
// not a variable here.
import * as vscode from "vscode";
import type { Role } from "../../core/schema.js";
import { DIAGNOSTIC_SOURCE } from "./diagnostics.js";
import type { TemplateOwners } from "./owners.js";
import { filledWith, isVariable, otherRolesWith, referenceAt, suggestionIn, variableList } from "../../core/template-variables.js";

export class VariableHover implements vscode.HoverProvider {
  constructor(private readonly owners: TemplateOwners) {}

  async provideHover(doc: vscode.TextDocument, pos: vscode.Position): Promise<vscode.Hover | undefined> {
    const ref = referenceAt(doc.lineAt(pos.line).text, pos.character);
    if (ref === undefined) return undefined;
    const range = new vscode.Range(pos.line, ref.start, pos.line, ref.end);
    const owner = await this.owners.ownerOf(doc.uri);
    const md = new vscode.MarkdownString();
    md.appendMarkdown(`**\`{{${ref.name}}}\`**`);
    if (owner.role === undefined) {
      md.appendMarkdown(
        " — the role of this template is unknown, so no variable is known here. Name the file under `templates` in metajudge.json, or call it actor.md, judge.md or meta_judge.md.",
      );
    } else if (isVariable(owner.role, ref.name)) {
      md.appendMarkdown(` — ${roleName(owner.role)} template variable, required.\n\n${filledWith(owner.role, ref.name) ?? ""}`);
    } else {
      md.appendMarkdown(` — ${unknownText(owner.role, ref.name)}`);
      // The validator's message holds the "did you mean"; it is the one place that decides it.
      const said = vscode.languages
        .getDiagnostics(doc.uri)
        .find((d) => d.source === DIAGNOSTIC_SOURCE && d.code === "unknown-variable" && d.range.contains(pos));
      const suggested = said && suggestionIn(said.message);
      if (suggested) md.appendMarkdown(`\n\nDid you mean \`{{${suggested}}}\`?`);
    }
    if (owner.how === "file-name")
      md.appendMarkdown(`\n\n_The role comes from the file name: no metajudge.json names this file as a template._`);
    return new vscode.Hover(md, range);
  }
}

function unknownText(role: Role, name: string): string {
  if (name === "") return `an empty reference. Variables of a ${roleName(role)} template: ${variableList(role)}.`;
  const elsewhere = otherRolesWith(role, name);
  const where = elsewhere.length > 0 ? ` It exists only in ${elsewhere.map(roleName).join(" and ")} templates.` : "";
  return `unknown variable: not filled in a ${roleName(role)} template, which will not load until it is fixed.${where} Variables here: ${variableList(role)}.`;
}

function roleName(role: Role): string {
  return role === "meta_judge" ? "meta-judge" : role;
}
