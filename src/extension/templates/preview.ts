// "Preview Rendered Prompt": the template in the editor, unsaved edits included, filled with a real
// record of the experiment, in a read-only markdown document beside it that follows every edit.
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { Role } from "../../core/schema.js";
import { parseTemplate, renderTemplate, TEMPLATE_VARIABLES } from "../../core/templates.js";
import type { Logger } from "../services.js";
import { fillingFor, type Filling, type NoFilling } from "../../core/trial/fill.js";
import { templateTarget } from "./target.js";
import type { TemplateOwners } from "./owners.js";
import { VirtualDocs } from "./virtual-docs.js";

const RERENDER_MS = 150;

export class RenderedPreview implements vscode.Disposable {
  /** Open previews by template URI, each with the record it is filled with. */
  private readonly previews = new Map<string, { uri: vscode.Uri; role: Role; filling: Promise<Filling | NoFilling> }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly owners: TemplateOwners,
    private readonly docs: VirtualDocs,
    private readonly log: Logger,
  ) {
    this.disposables.push(vscode.workspace.onDidChangeTextDocument((e) => this.templateChanged(e.document.uri)));
  }

  /** Opens (or refreshes) the preview of a template; returns its URI, or undefined when there is none to show. */
  async show(arg?: unknown): Promise<vscode.Uri | undefined> {
    const target = await templateTarget(arg, this.owners);
    if ("problem" in target) {
      void vscode.window.showWarningMessage(target.problem);
      return undefined;
    }
    const { doc, role, experiment } = target;
    const key = doc.uri.toString();
    const uri = VirtualDocs.uri(`${path.basename(doc.uri.fsPath)} (rendered)`, key);
    // A fresh record each time the command runs, so a preview opened before a run catches up with it.
    const filling = fillingFor(role, experiment);
    filling.catch((err: unknown) => this.log.error("templates", `cannot read a record to preview ${doc.uri.fsPath}: ${message(err)}`));
    this.previews.set(key, { uri, role, filling });
    this.docs.set(uri, () => this.render(doc.uri));
    await this.docs.show(uri);
    return uri;
  }

  private templateChanged(template: vscode.Uri): void {
    const key = template.toString();
    const preview = this.previews.get(key);
    if (!preview) return;
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.docs.refresh(preview.uri);
      }, RERENDER_MS),
    );
  }

  private async render(template: vscode.Uri): Promise<string> {
    const preview = this.previews.get(template.toString());
    if (!preview) return "";
    const name = path.basename(template.fsPath);
    let filling: Filling | NoFilling;
    try {
      filling = await preview.filling;
    } catch (err) {
      return `<!-- Metajudge could not read a record to fill ${name} with: ${comment(message(err))} -->\n`;
    }
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === template.toString());
    const source = open ? open.getText() : await fs.promises.readFile(template.fsPath, "utf8").catch(() => "");
    const { template: parsed, problems } = parseTemplate(source, preview.role, template.fsPath);

    const header: string[] = [];
    if ("from" in filling) header.push(`${name} filled with ${filling.from}. Read-only; it follows edits to the template.`);
    else header.push(`${name} has no real record to be filled with yet. ${filling.why}`);
    const errors = problems.filter((p) => p.severity === "error");
    if (errors.length > 0) {
      const list = errors.map((p) => `line ${p.line}: ${p.message}`).join("; ");
      header.push(`${errors.length} error${errors.length > 1 ? "s" : ""}, so a run would refuse this template: ${list}`);
    }
    const vars = { ...placeholders(preview.role), ...filling.vars };
    return `${header.map((h) => `<!-- ${comment(h)} -->`).join("\n")}\n\n${renderTemplate(parsed, vars)}\n`;
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    for (const d of this.disposables) d.dispose();
  }
}

/** What a variable without a record shows, so the shape of the prompt is still visible. */
function placeholders(role: Role): Record<string, string> {
  return Object.fromEntries(TEMPLATE_VARIABLES[role].map((v) => [v, `[${v}: no record yet]`]));
}

/** Text inside an HTML comment must not close it early. */
function comment(text: string): string {
  return text.replace(/--/g, "- -").replace(/\r?\n/g, " ");
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
