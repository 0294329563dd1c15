// The composition root: builds the host services once, hands them to each feature, and registers
// every disposable the moment it exists. All domain work happens in src/core (and, for runs, in a
// worker process); this file only wires.
import * as vscode from "vscode";
import { Annotations } from "./annotations.js";
import { registerAnnotateCommands } from "./commands/annotate.js";
import type { Deps, InspectorControl } from "./commands/deps.js";
import { registerExperimentCommands } from "./commands/experiment.js";
import { registerJobCommands } from "./commands/jobs.js";
import { registerNavigateCommands } from "./commands/navigate.js";
import { registerRunCommands } from "./commands/run.js";
import { registerViewCommands } from "./commands/view.js";
import { Experiments } from "./experiments.js";
import { registerInspector, type InspectorSource } from "./inspector/panel.js";
import { JobsModel } from "./jobs/model.js";
import { JobPoller } from "./jobs/poller.js";
import { JobsTree, type JobsNode } from "./jobs/tree.js";
import { JobWorkers } from "./jobs/workers.js";
import { AnnotationDiagnostics } from "./records/annotation-diagnostics.js";
import { registerRecordHints } from "./records/hints.js";
import { Runner } from "./run/runner.js";
import { Secrets } from "./secrets.js";
import { Logger, Settings, type Services } from "./services.js";
import { registerTemplateFeatures } from "./templates/index.js";
import { IterationsTree } from "./tree/provider.js";
import type { Node } from "./tree/nodes/index.js";

/** What activate() returns: the pieces tests and other extensions may drive. */
export interface MetajudgeApi {
  tree: IterationsTree;
  experiments: Experiments;
  annotations: Annotations;
  runner: Runner;
  jobs: { model: JobsModel; tree: JobsTree; workers: JobWorkers; poller: JobPoller };
}

export function activate(context: vscode.ExtensionContext): MetajudgeApi {
  const add = <T extends vscode.Disposable>(d: T): T => {
    context.subscriptions.push(d);
    return d;
  };
  const log = add(new Logger());
  const services: Services = { context, log, settings: new Settings(), secrets: new Secrets(context.secrets, log) };
  log.info("extension", `activating ${context.extension.id} ${String(context.extension.packageJSON.version)} on VS Code ${vscode.version}`);

  const experiments = add(new Experiments(services));
  const annotations = add(new Annotations(services, experiments));
  add(new AnnotationDiagnostics(services));
  const runner = add(new Runner(services, experiments));
  const tree = add(new IterationsTree(services, experiments));
  const treeView = add(vscode.window.createTreeView<Node>("metajudge.iterations", { treeDataProvider: tree, showCollapseAll: true }));

  const source: InspectorSource = {
    inspector: async (dir, t, promptId) => (await experiments.model(dir, t)).inspector(promptId),
    adjacentPrompt: async (dir, t, promptId, direction) => {
      const model = await experiments.model(dir, t);
      const { rows } = model.prompts({ offset: 0, limit: Number.MAX_SAFE_INTEGER, sort: tree.sort, flaggedOnly: tree.flaggedOnly });
      const i = rows.findIndex((r) => r.id === promptId);
      return rows[i + (direction === "next" ? 1 : -1)]?.id ?? null;
    },
    annotate: (req) => annotations.annotate(req, req.label, req.reason, req.note),
    annotateInteractive: (req) => annotations.annotateInteractive(req, req.label),
    reveal: (dir, t, targetId) => vscode.commands.executeCommand("metajudge.revealRecord", { experimentDir: dir, iteration: t, targetId }),
    onDidChange: (listener, thisArg, disposables) => experiments.onDidChange((e) => e && listener.call(thisArg, e), undefined, disposables),
  };
  const inspectorReg = registerInspector(services, source);
  for (const d of inspectorReg.disposables) add(d);
  const inspector: InspectorControl = inspectorReg;

  // Remote jobs: records under each experiment's jobs/, workers for launches, a gentle status poller.
  const jobsModel = add(new JobsModel(services, experiments));
  const jobsTree = add(new JobsTree(jobsModel));
  const jobsView = add(vscode.window.createTreeView<JobsNode>("metajudge.jobs", { treeDataProvider: jobsTree }));
  add(jobsView.onDidChangeVisibility((e) => jobsTree.setVisible(e.visible)));
  jobsTree.setVisible(jobsView.visible);
  const workers = add(new JobWorkers(services));
  add(workers.onDidChangeJob(() => jobsModel.refresh()));
  const poller = add(new JobPoller(services, jobsModel, jobsTree, (dir, id) => workers.follows(dir, id)));
  for (const d of registerJobCommands({ services, experiments, model: jobsModel, workers, poller })) add(d);

  const deps: Deps = { services, experiments, annotations, runner, tree, treeView, inspector };
  for (const d of [
    ...registerAnnotateCommands(deps),
    ...registerNavigateCommands(deps),
    ...registerRunCommands(deps),
    ...registerExperimentCommands(deps),
    ...registerViewCommands(deps),
    ...registerRecordHints(services, experiments),
    ...registerTemplateFeatures(services),
  ]) {
    add(d);
  }
  // A run going since before a reload, or started in a terminal: show it and let Cancel Run stop it.
  void runner.findRuns();
  // Jobs left queued or running before a reload: one status poll now, then every jobPollSeconds.
  void poller.pollNow();
  return { tree, experiments, annotations, runner, jobs: { model: jobsModel, tree: jobsTree, workers, poller } };
}

export function deactivate(): void {}
