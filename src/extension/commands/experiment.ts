// Creating an experiment and storing API keys.
import * as path from "node:path";
import * as vscode from "vscode";
import { loadConfig, roleEndpoint } from "../../core/config.js";
import { initExperiment } from "../../core/experiment.js";
import { ROLES } from "../../core/schema.js";
import type { Deps } from "./deps.js";

export function registerExperimentCommands(deps: Deps): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand("metajudge.newExperiment", async (target?: unknown) => {
      const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
      let dir = typeof target === "string" ? target : undefined;
      if (!dir) {
        if (!root) {
          void vscode.window.showWarningMessage("Open a folder first: an experiment lives in a folder of the workspace.");
          return;
        }
        const name = await vscode.window.showInputBox({
          title: "New Metajudge experiment",
          prompt: "Folder name, relative to the workspace",
          value: "my-experiment",
          validateInput: (v) => (/^[^<>:"|?*]+$/.test(v.trim()) ? undefined : "Not a usable folder name"),
        });
        if (!name) return;
        dir = path.join(root, name.trim());
      }
      try {
        const written = initExperiment(dir, deps.services.context.extensionPath);
        deps.services.log.info("experiment", `created ${dir}: ${written.join(", ")}`);
      } catch (err) {
        void vscode.window.showErrorMessage(err instanceof Error ? err.message : String(err));
        return;
      }
      deps.experiments.refreshAll();
      await vscode.window.showTextDocument(vscode.Uri.file(path.join(dir, "metajudge.json")));
      void vscode.window.showInformationMessage('Experiment created. Point "endpoint" at your server, then Run Iteration.');
    }),
    vscode.commands.registerCommand("metajudge.setApiKey", async () => {
      const names = new Set<string>();
      for (const e of await deps.experiments.experiments()) {
        try {
          const c = loadConfig(e.dir);
          for (const r of ROLES) {
            const env = roleEndpoint(c, r).api_key_env;
            if (env) names.add(env);
          }
        } catch {
          // a broken config shows its own diagnostics
        }
      }
      const suggestions = [...names];
      let envName: string | undefined;
      if (suggestions.length > 0) {
        envName = (
          await vscode.window.showQuickPick([...suggestions.map((n) => ({ label: n })), { label: "Another name…" }], {
            title: "Which API key?",
          })
        )?.label;
        if (envName === "Another name…") envName = undefined;
        else if (envName === undefined) return;
      }
      envName ??= await vscode.window.showInputBox({
        title: "API key name",
        prompt: 'The environment variable named by "api_key_env" in metajudge.json',
        value: "OPENAI_API_KEY",
        validateInput: (v) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? undefined : "Letters, digits and _ only"),
      });
      if (!envName) return;
      const value = await vscode.window.showInputBox({
        title: `Value of ${envName}`,
        password: true,
        prompt: "Stored in the editor's secret storage; given to runs through their environment only",
        ignoreFocusOut: true,
      });
      if (!value) return;
      await deps.services.secrets.setApiKey(envName, value);
      void vscode.window.showInformationMessage(`${envName} stored in secret storage.`);
    }),
  ];
}
