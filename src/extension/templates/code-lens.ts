// Two actions at the top of a template, where the eye starts: preview it filled with a real record,
// and (for the judge and meta-judge, whose answers are parsed) try it on a sample.
import * as vscode from "vscode";
import type { Settings } from "../services.js";
import type { TemplateOwners } from "./owners.js";

export class TemplateLenses implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.changed];
  readonly onDidChangeCodeLenses = this.changed.event;

  constructor(
    private readonly owners: TemplateOwners,
    private readonly settings: Settings,
  ) {
    this.disposables.push(
      owners.onDidChange(() => this.changed.fire()),
      vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration("metajudge.sampleSize") && this.changed.fire()),
    );
  }

  async provideCodeLenses(doc: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    const { role } = await this.owners.ownerOf(doc.uri);
    if (role === undefined) return [];
    const top = new vscode.Range(0, 0, 0, 0);
    const lenses = [
      new vscode.CodeLens(top, { title: "Preview with a real record", command: "metajudge.previewRenderedPrompt", arguments: [doc.uri] }),
    ];
    if (role !== "actor") {
      const n = this.settings.sampleSize();
      const unit = role === "judge" ? (n === 1 ? "response" : "responses") : n === 1 ? "battle" : "battles";
      lenses.push(
        new vscode.CodeLens(top, {
          title: `Try on sample (${n} ${unit})`,
          tooltip: `Send this template, unsaved edits included, to the ${role} endpoint on ${n} ${unit} of the latest iteration and compare with the stored verdicts`,
          command: "metajudge.tryTemplateOnSample",
          arguments: [doc.uri],
        }),
      );
    }
    return lenses;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
