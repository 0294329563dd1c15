// Running iterations (in the worker), and the quick derived steps: recompute pairs, export.
import * as vscode from "vscode";
import { STAGES, type StageName } from "../../core/schema.js";
import { iterationDir } from "../../core/store/iteration.js";
import { isWireType, type WireLine, type WireResult } from "../../shared/cli-wire.js";
import { refuseIfLocked } from "../run/lock.js";
import { bundledCli, CliWorker } from "../worker/cli-worker.js";
import type { Deps } from "./deps.js";

interface IterationArg {
  dir: string;
  iteration: number;
}

function iterationArg(arg: unknown): IterationArg | undefined {
  const a = arg as { kind?: string; dir?: string; iteration?: number; experimentDir?: string } | undefined;
  if (a?.kind === "iteration" && a.dir && a.iteration) return { dir: a.dir, iteration: a.iteration };
  if (a?.experimentDir && a.iteration) return { dir: a.experimentDir, iteration: a.iteration };
  return undefined;
}

async function pickExperiment(deps: Deps, arg: unknown): Promise<string | undefined> {
  const a = arg as { kind?: string; dir?: string; experimentDir?: string } | undefined;
  if (a?.dir && (a.kind === "experiment" || a.kind === "iteration")) return a.dir;
  if (a?.experimentDir) return a.experimentDir;
  const list = await deps.experiments.experiments();
  if (list.length === 0) {
    const create = await vscode.window.showInformationMessage("No experiment (metajudge.json) in this workspace.", "Create Experiment");
    if (create) await vscode.commands.executeCommand("metajudge.newExperiment");
    return undefined;
  }
  if (list.length === 1) return list[0]!.dir;
  const pick = await vscode.window.showQuickPick(
    list.map((e) => ({ label: e.name, description: vscode.workspace.asRelativePath(e.dir), dir: e.dir })),
    { title: "Which experiment?" },
  );
  return pick?.dir;
}

async function pickIteration(deps: Deps, dir: string, allowNew: boolean): Promise<number | undefined> {
  const its = deps.experiments.iterations(dir);
  const next = (its.at(-1) ?? 0) + 1;
  const items = [...its].reverse().map((t) => ({ label: `Iteration ${t}`, t }));
  if (allowNew) items.unshift({ label: `Iteration ${next}`, t: next, description: "new" } as { label: string; t: number });
  if (items.length === 1) return items[0]!.t;
  return (await vscode.window.showQuickPick(items, { title: "Which iteration?" }))?.t;
}

/** The iteration a command acts on: the one given (tree item or args), else asked for. */
async function resolveIteration(deps: Deps, arg: unknown, allowNew: boolean): Promise<IterationArg | undefined> {
  const given = iterationArg(arg);
  if (given) return given;
  const dir = await pickExperiment(deps, arg);
  if (!dir) return undefined;
  const iteration = await pickIteration(deps, dir, allowNew);
  return iteration === undefined ? undefined : { dir, iteration };
}

async function pickStages(): Promise<{ until: StageName } | { only: StageName } | "all" | undefined> {
  const items: (vscode.QuickPickItem & { value: { until: StageName } | { only: StageName } | "all" })[] = [
    { label: "All stages", description: STAGES.join(" → "), value: "all" },
    ...STAGES.slice(0, -1).map((s) => ({
      label: `Up to ${s}`,
      description: STAGES.slice(0, STAGES.indexOf(s) + 1).join(" → "),
      value: { until: s },
    })),
    ...STAGES.map((s) => ({ label: `Only ${s}`, value: { only: s } })),
  ];
  return (await vscode.window.showQuickPick(items, { title: "Run which stages?" }))?.value;
}

/** The derived steps take seconds even at paper scale: run the CLI and wait, with a progress notification. */
function cli<T extends WireResult["type"]>(deps: Deps, args: string[], title: string, want: T): Promise<Extract<WireLine, { type: T }>> {
  return Promise.resolve(
    vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: false }, async () => {
      const worker = new CliWorker({
        node: deps.services.settings.nodePath(),
        cli: bundledCli(deps.services.context.extensionPath),
        args,
        onLine: (e) => e.type === "warning" && deps.services.log.warn("worker", e.message),
        onText: (line) => deps.services.log.info("worker", line),
      });
      const exit = await worker.exited;
      if (exit.error) throw new Error(exit.error.message);
      const r = exit.result;
      if (exit.code !== 0 || !isWireType(r, want))
        throw new Error(`\`metajudge ${args[0]}\` exited ${exit.code} without its ${want} result; Show Logs has what it wrote`);
      return r;
    }),
  );
}

export function registerRunCommands(deps: Deps): vscode.Disposable[] {
  const fail = async (err: unknown): Promise<void> => {
    const choice = await vscode.window.showErrorMessage(err instanceof Error ? err.message : String(err), "Show Logs");
    if (choice) deps.services.log.show();
  };
  return [
    vscode.commands.registerCommand("metajudge.runIteration", async (arg?: unknown) => {
      const it = await resolveIteration(deps, arg, true);
      if (!it) return;
      const stages = await pickStages();
      if (!stages) return;
      await deps.runner.start({ experimentDir: it.dir, iteration: it.iteration, stages });
      deps.experiments.refreshAll();
    }),
    vscode.commands.registerCommand("metajudge.resumeRun", async (arg?: unknown) => {
      const it = await resolveIteration(deps, arg, false);
      if (it) await deps.runner.start({ experimentDir: it.dir, iteration: it.iteration, stages: "all" });
    }),
    vscode.commands.registerCommand("metajudge.cancelRun", () => {
      if (!deps.runner.cancel()) void vscode.window.showInformationMessage("No Metajudge run is going.");
    }),
    vscode.commands.registerCommand("metajudge.recomputePairs", async (arg?: unknown) => {
      const it = await resolveIteration(deps, arg, false);
      if (!it) return;
      const { dir, iteration: t } = it;
      if (refuseIfLocked(dir, t)) return;
      try {
        const { counts } = await cli(deps, ["pairs", iterationDir(dir, t)], `Recomputing pairs of iteration ${t}`, "pairs");
        await deps.experiments.refreshNow(dir, t);
        vscode.window.setStatusBarMessage(
          `$(sync) Iteration ${t}: ${counts.actor_pairs ?? 0} actor pairs, ${counts.judge_pairs ?? 0} judge pairs (${counts.flagged_excluded ?? 0} flagged excluded)`,
          8000,
        );
      } catch (err) {
        await fail(err);
      }
    }),
    vscode.commands.registerCommand("metajudge.exportDpo", async (arg?: unknown) => {
      const it = await resolveIteration(deps, arg, false);
      if (!it) return;
      const { dir, iteration: t } = it;
      if (refuseIfLocked(dir, t)) return;
      try {
        const r = await cli(deps, ["export", iterationDir(dir, t)], `Exporting DPO data of iteration ${t}`, "export");
        const open = await vscode.window.showInformationMessage(
          `Wrote ${r.counts.actor} actor + ${r.counts.judge} judge examples to dpo.jsonl.`,
          "Open File",
        );
        if (open) await vscode.window.showTextDocument(vscode.Uri.file(r.file));
      } catch (err) {
        await fail(err);
      }
    }),
  ];
}
