// The editor adapter. For now it only exists so the manifest's `main` resolves; the workbench
// (trees, inspector, commands) is built over src/core in the next piece of work, and the JSON
// Schema for metajudge.json is contributed declaratively in package.json.
import type * as vscode from "vscode";

export function activate(_context: vscode.ExtensionContext): void {}

export function deactivate(): void {}
