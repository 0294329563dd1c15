// The template a command acts on: the URI it was given (editor title, CodeLens), else the active
// editor; a rendered preview stands for the template it shows.
import * as vscode from "vscode";
import type { Role } from "../../core/schema.js";
import { TEMPLATE_LANGUAGE } from "./language.js";
import type { TemplateOwners } from "./owners.js";
import type { Experiment } from "../../core/trial/records.js";
import { VIRTUAL_SCHEME } from "./virtual-docs.js";

export interface TemplateTarget {
  doc: vscode.TextDocument;
  role: Role;
  experiment: Experiment;
}

export async function templateTarget(arg: unknown, owners: TemplateOwners): Promise<TemplateTarget | { problem: string }> {
  let uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
  if (uri?.scheme === VIRTUAL_SCHEME && uri.query) uri = vscode.Uri.parse(uri.query);
  if (uri === undefined) return { problem: "Open an actor, judge or meta-judge template first." };
  const doc = await vscode.workspace.openTextDocument(uri);
  if (doc.languageId !== TEMPLATE_LANGUAGE) return { problem: `${vscode.workspace.asRelativePath(uri)} is not a Metajudge template.` };
  const owner = await owners.ownerOf(uri);
  const name = vscode.workspace.asRelativePath(uri);
  if (owner.role === undefined) {
    return {
      problem: `The role of ${name} is unknown: name it under "templates" in metajudge.json, or call it actor.md, judge.md or meta_judge.md.`,
    };
  }
  if (owner.experimentDir === undefined)
    return { problem: `${name} is in no experiment: no metajudge.json above it names it, so there are no records to fill it with.` };
  if (owner.config === undefined)
    return { problem: `The experiment's metajudge.json cannot be used: ${owner.configProblem ?? "it does not load"}` };
  return { doc, role: owner.role, experiment: { dir: owner.experimentDir, config: owner.config } };
}
