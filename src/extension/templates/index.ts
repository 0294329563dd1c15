// Rubric editing: everything the workbench offers on actor, judge and meta-judge templates, wired
// here once. Each piece lives in its own file; this one only creates, registers and hands back.
import * as vscode from "vscode";
import type { Services } from "../services.js";
import { TemplateLenses } from "./code-lens.js";
import { VariableCompletion } from "./completion.js";
import { TemplateDiagnostics } from "./diagnostics.js";
import { VariableHover } from "./hover.js";
import { TEMPLATE_LANGUAGE, assignTemplateLanguage } from "./language.js";
import { TemplateOwners } from "./owners.js";
import { RenderedPreview } from "./preview.js";
import { UnknownVariableFix } from "./quick-fix.js";
import { TryOnSample } from "./try-on-sample.js";
import { VIRTUAL_SCHEME, VirtualDocs } from "./virtual-docs.js";

export function registerTemplateFeatures(services: Services): vscode.Disposable[] {
  const selector: vscode.DocumentSelector = [
    { language: TEMPLATE_LANGUAGE, scheme: "file" },
    { language: TEMPLATE_LANGUAGE, scheme: "untitled" },
  ];
  const owners = new TemplateOwners();
  const docs = new VirtualDocs();
  const preview = new RenderedPreview(owners, docs, services.log);
  const trial = new TryOnSample(services, owners, docs);
  const lenses = new TemplateLenses(owners, services.settings);
  return [
    owners,
    docs,
    preview,
    lenses,
    ...assignTemplateLanguage(owners),
    new TemplateDiagnostics(owners),
    vscode.workspace.registerTextDocumentContentProvider(VIRTUAL_SCHEME, docs),
    vscode.languages.registerCompletionItemProvider(selector, new VariableCompletion(owners), ...VariableCompletion.triggers),
    vscode.languages.registerHoverProvider(selector, new VariableHover(owners)),
    vscode.languages.registerCodeActionsProvider(selector, new UnknownVariableFix(), { providedCodeActionKinds: UnknownVariableFix.kinds }),
    vscode.languages.registerCodeLensProvider(selector, lenses),
    vscode.commands.registerCommand("metajudge.previewRenderedPrompt", (uri?: unknown) => preview.show(uri)),
    vscode.commands.registerCommand("metajudge.tryTemplateOnSample", (uri?: unknown) => trial.run(uri)),
  ];
}
