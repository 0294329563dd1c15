// "Try on sample": the editor command around src/core/trial. The user waits on it, so it runs under a
// cancellable notification; every failure becomes a message with what to do next.
import * as path from "node:path";
import * as vscode from "vscode";
import { CONFIG_FILE } from "../../core/config.js";
import { MetajudgeError, isCancelled } from "../../core/errors.js";
import type { LlmClient } from "../../core/llm/client.js";
import { redactUrl } from "../../core/llm/http.js";
import type { Experiment } from "../../core/trial/records.js";
import { trialReport } from "../../core/trial/report.js";
import { NoRecordsError, planTrial, runTrial, type Outcome, type TrialPlan } from "../../core/trial/trial.js";
import { outcomeLines, trialClient, trialTemplate } from "../../core/trial/try.js";
import type { Services } from "../services.js";
import type { TemplateOwners } from "./owners.js";
import { templateTarget, type TemplateTarget } from "./target.js";
import { VirtualDocs } from "./virtual-docs.js";

const LOG = "templates";

export class TryOnSample {
  constructor(
    private readonly services: Services,
    private readonly owners: TemplateOwners,
    private readonly docs: VirtualDocs,
  ) {}

  /** Runs the trial and opens its result; returns the result document's URI, or undefined when nothing ran. */
  async run(arg?: unknown): Promise<vscode.Uri | undefined> {
    let target: TemplateTarget | { problem: string };
    try {
      target = await templateTarget(arg, this.owners);
    } catch (err) {
      void this.showFailure(err);
      return undefined;
    }
    if ("problem" in target) {
      void vscode.window.showWarningMessage(target.problem);
      return undefined;
    }
    try {
      return await this.tryTemplate(target);
    } catch (err) {
      if (isCancelled(err)) {
        this.services.log.info(LOG, "try on sample: cancelled");
        return undefined;
      }
      void this.showFailure(err, target.experiment.dir);
      return undefined;
    }
  }

  private async tryTemplate(target: TemplateTarget): Promise<vscode.Uri | undefined> {
    const { doc, role, experiment } = target;
    const name = path.basename(doc.uri.fsPath);
    if (role === "actor") {
      void vscode.window.showInformationMessage(
        `Try on Sample is for judge and meta-judge templates; preview ${name} with Metajudge: Preview Rendered Prompt.`,
      );
      return undefined;
    }
    const checked = trialTemplate(doc.getText(), role, doc.uri.fsPath);
    if ("errors" in checked) {
      const { errors } = checked;
      const text = `${name} has ${errors.length} error${errors.length > 1 ? "s" : ""} (a run would refuse it): ${errors[0]?.message ?? ""}`;
      void vscode.window
        .showErrorMessage(text, "Show Problems")
        .then((pick) => pick && vscode.commands.executeCommand("workbench.actions.view.problems"));
      return undefined;
    }

    const size = this.services.settings.sampleSize();
    const { plan, outcomes } = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Trying ${name}`, cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        const sub = token.onCancellationRequested(() => abort.abort());
        try {
          progress.report({ message: "reading records" });
          const plan = await planTrial(role, experiment, size);
          const client = await this.client(plan, experiment);
          const unit = plan.role === "judge" ? "responses" : "battles";
          this.services.log.info(
            LOG,
            `try ${doc.uri.fsPath} on ${plan.cases.length} ${unit} of iteration ${plan.iteration}: ${redactUrl(plan.endpoint.base_url)} model ${plan.endpoint.model}, n=${plan.n}`,
          );
          let done = 0;
          progress.report({ message: `0 of ${plan.cases.length} ${unit}` });
          const outcomes = await runTrial(plan, experiment, checked.template, client, abort.signal, (o) => {
            done++;
            this.logOutcome(plan, o);
            progress.report({ increment: 100 / plan.cases.length, message: `${done} of ${plan.cases.length} ${unit}` });
          });
          return { plan, outcomes };
        } finally {
          sub.dispose();
        }
      },
    );

    const failed = outcomes.filter((o) => o.error !== undefined);
    if (failed.length === outcomes.length) throw failed[0]?.error;
    const report = trialReport(plan, outcomes, {
      templateName: name,
      source: "the template as it stands in the editor (unsaved edits included)",
      describe: (e) => describe(e),
      at: new Date(),
    });
    const uri = VirtualDocs.uri(`${name} (tried on sample)`, doc.uri.toString());
    this.docs.set(uri, () => Promise.resolve(report));
    await this.docs.show(uri);
    if (failed.length > 0)
      void this.showFailure(failed[0]?.error, experiment.dir, `${failed.length} of ${outcomes.length} requests failed`);
    return uri;
  }

  private async client(plan: TrialPlan, exp: Experiment): Promise<LlmClient> {
    const envName = plan.endpoint.api_key_env;
    const apiKey = envName ? await this.services.secrets.apiKey(envName) : undefined;
    return trialClient(plan, exp, apiKey, (r) =>
      this.services.log.warn(LOG, `retry ${r.attempt} in ${r.delayMs} ms: ${r.status ?? ""} ${r.reason}`),
    );
  }

  private logOutcome(plan: TrialPlan, o: Outcome): void {
    for (const line of outcomeLines(plan, o, describe)) this.services.log[line.level](LOG, line.text);
  }

  private async showFailure(err: unknown, experimentDir?: string, lead?: string): Promise<void> {
    const text = lead ? `${lead}: ${describe(err)}` : describe(err);
    this.services.log.error(LOG, `try on sample: ${text}`);
    const actions: string[] = [];
    if (err instanceof NoRecordsError) actions.push("Run Iteration");
    else if (err instanceof MetajudgeError && err.reason === "auth") actions.push("Set API Key");
    // The endpoint, its key's name, timeouts and retries all live in the experiment's metajudge.json.
    if (err instanceof MetajudgeError && err.reason !== "internal" && experimentDir) actions.push("Open metajudge.json");
    actions.push("Show Logs");
    const pick =
      err instanceof NoRecordsError
        ? await vscode.window.showWarningMessage(text, ...actions)
        : await vscode.window.showErrorMessage(text, ...actions);
    if (pick === "Show Logs") this.services.log.show();
    else if (pick === "Run Iteration") await vscode.commands.executeCommand("metajudge.runIteration");
    else if (pick === "Set API Key") await vscode.commands.executeCommand("metajudge.setApiKey");
    else if (pick === "Open metajudge.json" && experimentDir)
      await vscode.window.showTextDocument(vscode.Uri.file(path.join(experimentDir, CONFIG_FILE)));
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
