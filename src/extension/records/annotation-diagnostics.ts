// Unreadable annotation lines in the Problems view. Each may be a person's flag that pair selection
// cannot apply, so it is marked on its line in annotations.jsonl, and the marks follow the file
// as it changes on disk (the editor's own appends, a hand edit, a sync from another machine).
import * as path from "node:path";
import * as vscode from "vscode";
import { FILES } from "../../core/schema.js";
import { readAnnotations } from "../../core/store/annotations.js";
import type { LineProblem } from "../../core/store/jsonl.js";
import { Experiments } from "../experiments.js";
import type { Services } from "../services.js";

export const ANNOTATION_DIAGNOSTIC_CODE = "unreadable-annotation";
const GLOB = `**/iterations/*/${FILES.annotations}`;
const DEBOUNCE_MS = 100;

function isAnnotationFile(uri: vscode.Uri): boolean {
  return uri.scheme === "file" && path.basename(uri.fsPath) === FILES.annotations && Experiments.iterationOf(uri.fsPath) !== undefined;
}

export class AnnotationDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection("metajudge-annotations");
  private readonly watcher = vscode.workspace.createFileSystemWatcher(GLOB);
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly disposables: vscode.Disposable[] = [this.collection, this.watcher];

  constructor(private readonly services: Services) {
    this.disposables.push(
      this.watcher.onDidCreate((uri) => this.schedule(uri)),
      this.watcher.onDidChange((uri) => this.schedule(uri)),
      this.watcher.onDidDelete((uri) => this.forget(uri)),
      vscode.workspace.onDidSaveTextDocument((doc) => this.schedule(doc.uri)),
      vscode.workspace.onDidOpenTextDocument((doc) => this.schedule(doc.uri)),
    );
    void this.scanWorkspace();
  }

  private async scanWorkspace(): Promise<void> {
    for (const uri of await vscode.workspace.findFiles(GLOB, "**/node_modules/**")) this.schedule(uri);
  }

  private schedule(uri: vscode.Uri): void {
    if (!isAnnotationFile(uri)) return;
    const key = uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        void this.check(uri);
      }, DEBOUNCE_MS),
    );
  }

  private async check(uri: vscode.Uri): Promise<void> {
    try {
      const { problems } = await readAnnotations(uri.fsPath);
      this.collection.set(uri, problems.map(toDiagnostic));
      if (problems.length > 0)
        this.services.log.warn(
          "annotations",
          `${uri.fsPath}: ${problems.length} line${problems.length === 1 ? "" : "s"} cannot be read; see the Problems view`,
        );
    } catch (err) {
      this.services.log.warn("annotations", `${uri.fsPath}: ${err instanceof Error ? err.message : String(err)}`);
    }
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

function toDiagnostic(p: LineProblem): vscode.Diagnostic {
  // The whole line: the editor clips the end to the line's length.
  const line = Math.max(0, p.line - 1);
  const d = new vscode.Diagnostic(new vscode.Range(line, 0, line, 1_000_000), p.message, vscode.DiagnosticSeverity.Error);
  d.source = "metajudge";
  d.code = ANNOTATION_DIAGNOSTIC_CODE;
  return d;
}
