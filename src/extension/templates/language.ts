// Files that an experiment names as templates get the template language whatever they are called
// (the manifest's file patterns only know the paths `metajudge init` writes).
import * as vscode from "vscode";
import type { TemplateOwners } from "./owners.js";

export const TEMPLATE_LANGUAGE = "metajudge-template";

// Picking another language mode closes the document and reopens it in the same instant; a real
// close and reopen are never that close together.
const LANGUAGE_PICK_MS = 1000;

export function assignTemplateLanguage(owners: TemplateOwners): vscode.Disposable[] {
  const leftTemplateAt = new Map<string, number>();
  const check = async (doc: vscode.TextDocument): Promise<void> => {
    if (doc.languageId === TEMPLATE_LANGUAGE) return;
    const key = doc.uri.toString();
    const left = leftTemplateAt.get(key);
    leftTemplateAt.delete(key);
    // Whoever just switched a template to another language meant it: do not overrule them.
    if (left !== undefined && Date.now() - left < LANGUAGE_PICK_MS) return;
    if (await owners.isNamedTemplate(doc.uri)) await vscode.languages.setTextDocumentLanguage(doc, TEMPLATE_LANGUAGE);
  };
  const checkAll = (): void => {
    for (const doc of vscode.workspace.textDocuments) void check(doc).catch(() => undefined);
  };
  checkAll();
  return [
    vscode.workspace.onDidCloseTextDocument((doc) => {
      if (doc.languageId === TEMPLATE_LANGUAGE) leftTemplateAt.set(doc.uri.toString(), Date.now());
    }),
    vscode.workspace.onDidOpenTextDocument((doc) => void check(doc).catch(() => undefined)),
    owners.onDidChange(checkAll),
  ];
}
