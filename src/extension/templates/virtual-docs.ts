// Read-only documents whose text Metajudge computes: rendered prompts and trial results. Each URI
// maps to a function that produces its current text; `refresh` makes open editors ask again.
import * as vscode from "vscode";

export const VIRTUAL_SCHEME = "metajudge-rendered";

export class VirtualDocs implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly sources = new Map<string, () => Promise<string>>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  /** A URI under this scheme; the path ends in .md so the editor treats the text as markdown. */
  static uri(title: string, key: string): vscode.Uri {
    return vscode.Uri.from({ scheme: VIRTUAL_SCHEME, path: `/${title.replace(/[\\/]/g, "-")}.md`, query: key });
  }

  set(uri: vscode.Uri, source: () => Promise<string>): void {
    this.sources.set(uri.toString(), source);
    this.changed.fire(uri);
  }

  has(uri: vscode.Uri): boolean {
    return this.sources.has(uri.toString());
  }

  refresh(uri: vscode.Uri): void {
    this.changed.fire(uri);
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const source = this.sources.get(uri.toString());
    // An editor restored after a reload outlives the session that filled it.
    if (!source) return "This view belongs to an earlier session. Run the command again to fill it.\n";
    return source();
  }

  /** Opens the document beside the active editor, as markdown, without taking the focus. */
  async show(uri: vscode.Uri): Promise<vscode.TextDocument> {
    let doc = await vscode.workspace.openTextDocument(uri);
    if (doc.languageId !== "markdown") doc = await vscode.languages.setTextDocumentLanguage(doc, "markdown");
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true, preview: false });
    return doc;
  }

  dispose(): void {
    this.changed.dispose();
    this.sources.clear();
  }
}
