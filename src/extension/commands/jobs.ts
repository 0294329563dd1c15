// The Jobs commands: launch generation or DPO training on a host, attach to, cancel, resubmit a job,
// open its log, keep host secrets. Each takes what the view or a caller passes (a job node, or
// {experimentDir, iteration, host, jobId}) and asks for the rest.
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { loadConfig } from "../../core/config.js";
import { JobStore, type JobRecord } from "../../core/remote/jobs/record.js";
import { resolveSshTarget } from "../../core/remote/ssh/config.js";
import { GENERATION_MODES, type GenerationMode } from "../../core/schema.js";
import { iterationDir } from "../../core/store/iteration.js";
import type { Experiments } from "../experiments.js";
import { reasonOf, showFailure } from "../jobs/errors.js";
import { isLive, type JobsModel } from "../jobs/model.js";
import type { JobPoller } from "../jobs/poller.js";
import { pickHost, prepareHost } from "../jobs/prepare.js";
import { isJobNode } from "../jobs/tree.js";
import type { JobWorkers, WorkerResult } from "../jobs/workers.js";
import type { Services } from "../services.js";

export interface JobsDeps {
  services: Services;
  experiments: Experiments;
  model: JobsModel;
  workers: JobWorkers;
  poller: JobPoller;
}

interface LaunchArg {
  experimentDir?: string;
  dir?: string;
  kind?: string;
  iteration?: number;
  host?: string;
  mode?: GenerationMode;
}
interface JobRef {
  experimentDir: string;
  id: string;
}

function jobRef(arg: unknown): JobRef | undefined {
  if (isJobNode(arg)) return { experimentDir: arg.experimentDir, id: arg.job.id };
  const a = arg as { experimentDir?: unknown; jobId?: unknown } | undefined;
  return typeof a?.experimentDir === "string" && typeof a.jobId === "string" ? { experimentDir: a.experimentDir, id: a.jobId } : undefined;
}

async function pickJob(deps: JobsDeps, arg: unknown, title: string, filter: (j: JobRecord) => boolean): Promise<JobRef | undefined> {
  const given = jobRef(arg);
  if (given) return given;
  const all = (await deps.model.all()).filter((e) => filter(e.job));
  if (all.length === 0) {
    void vscode.window.showInformationMessage(`${title}: no job to choose from.`);
    return undefined;
  }
  const items = all
    .sort((a, b) => b.job.created_at.localeCompare(a.job.created_at))
    .map((e) => ({
      label: e.job.title || e.job.id,
      description: `${e.job.state} · ${e.job.host}`,
      detail: `${e.job.id} · ${path.basename(e.experimentDir)}`,
      ref: { experimentDir: e.experimentDir, id: e.job.id },
    }));
  return (await vscode.window.showQuickPick(items, { title }))?.ref;
}

async function pickExperiment(deps: JobsDeps, a: LaunchArg | undefined): Promise<string | undefined> {
  if (a?.experimentDir) return a.experimentDir;
  if (a?.dir && (a.kind === "experiment" || a.kind === "iteration")) return a.dir;
  const list = await deps.experiments.experiments();
  if (list.length <= 1) return list[0]?.dir;
  return (
    await vscode.window.showQuickPick(
      list.map((e) => ({ label: e.name, description: vscode.workspace.asRelativePath(e.dir), dir: e.dir })),
      { title: "Which experiment?" },
    )
  )?.dir;
}

/** Generation may start the next iteration; training needs an iteration with exported DPO data. */
async function pickIteration(deps: JobsDeps, dir: string, a: LaunchArg | undefined, forTraining: boolean): Promise<number | undefined> {
  if (a?.iteration) return a.iteration;
  const its = deps.experiments.iterations(dir);
  const items = forTraining
    ? [...its]
        .reverse()
        .filter((t) => fs.existsSync(path.join(iterationDir(dir, t), "dpo.jsonl")))
        .map((t) => ({ label: `Iteration ${t}`, t }))
    : [
        { label: `Iteration ${(its.at(-1) ?? 0) + 1}`, description: "new", t: (its.at(-1) ?? 0) + 1 },
        ...[...its].reverse().map((t) => ({ label: `Iteration ${t}`, t })),
      ];
  if (items.length === 0) {
    void vscode.window.showInformationMessage("No iteration has DPO data yet: run an iteration to its export stage first.");
    return undefined;
  }
  if (items.length === 1) return items[0]!.t;
  return (
    await vscode.window.showQuickPick(items, { title: forTraining ? "Train on which iteration's pairs?" : "Generate which iteration?" })
  )?.t;
}

export function registerJobCommands(deps: JobsDeps): vscode.Disposable[] {
  const { services, workers, model } = deps;
  // Read from disk, not from the view's cache: a job written a moment ago may not be listed yet.
  const record = (ref: JobRef): JobRecord | undefined => {
    try {
      return new JobStore(ref.experimentDir).get(ref.id);
    } catch (err) {
      void showFailure(services, `Cannot read job ${ref.id}`, reasonOf(err));
      return undefined;
    }
  };

  const openLog = async (ref: JobRef): Promise<void> => {
    const file = new JobStore(ref.experimentDir).logPath(ref.id);
    if (!fs.existsSync(file)) {
      const attach = await vscode.window.showInformationMessage(
        `No log copied yet for ${ref.id}: attaching to the job copies it.`,
        "Attach to Job",
      );
      if (attach) await vscode.commands.executeCommand("metajudge.attachJob", { experimentDir: ref.experimentDir, jobId: ref.id });
      return;
    }
    await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: true });
  };

  /** Runs a worker and reports how it ended: a status-bar line on success, an error with its action otherwise. */
  const runWorker = async (
    what: string,
    experimentDir: string,
    args: string[],
    env: Record<string, string>,
    retry: () => unknown,
    jobId?: string,
  ): Promise<WorkerResult> => {
    const r = await workers.run({ args, experimentDir, title: what, env, jobId });
    model.refresh();
    deps.experiments.refreshAll();
    const job = r.jobs.at(-1);
    if (r.code === 0) vscode.window.setStatusBarMessage(`$(pass) ${what}: done`, 8000);
    else if (r.cancelled) vscode.window.setStatusBarMessage(`$(debug-stop) ${what}: stopped; Attach to Job follows it again`, 8000);
    else
      await showFailure(services, what, r.error ?? { reason: "internal", message: `the worker exited with ${r.code}; see the log` }, {
        retry,
        openLog: job ? () => openLog({ experimentDir, id: job.id }) : undefined,
      });
    return r;
  };

  /** Host dialogue in the editor, then the worker; the worker gets what the dialogue yielded through its environment. */
  const onHost = async (
    what: string,
    experimentDir: string,
    host: string,
    args: string[],
    retry: () => unknown,
    jobId?: string,
  ): Promise<WorkerResult | undefined> => {
    let env: Record<string, string>;
    try {
      const prepared = await prepareHost(services, experimentDir, host);
      if (!prepared) return undefined;
      env = prepared.env;
    } catch (err) {
      await showFailure(services, `${what}: cannot use host ${host}`, reasonOf(err), { retry });
      return undefined;
    }
    return runWorker(what, experimentDir, args, env, retry, jobId);
  };

  const launch = async (arg: unknown, kind: "generate" | "train"): Promise<void> => {
    const a = arg as LaunchArg | undefined;
    const dir = await pickExperiment(deps, a);
    if (!dir) return;
    const t = await pickIteration(deps, dir, a, kind === "train");
    if (!t) return;
    let configured: string | undefined;
    try {
      const remote = loadConfig(dir).remote;
      configured = kind === "train" ? remote?.training.host : remote?.generation.host;
    } catch (err) {
      await showFailure(services, "Cannot read metajudge.json", reasonOf(err));
      return;
    }
    const host = await pickHost(
      services,
      dir,
      a?.host ?? configured,
      kind === "train" ? "Train on which host?" : "Generate on which host?",
    );
    if (!host) return;
    const args = ["launch", kind, dir, "--iteration", String(t), "--host", host];
    if (kind === "generate" && a?.mode && (GENERATION_MODES as readonly string[]).includes(a.mode)) args.push("--mode", a.mode);
    const what = kind === "train" ? `it ${t} DPO training on ${host}` : `it ${t} generation on ${host}`;
    await onHost(what, dir, host, args, () => launch({ experimentDir: dir, iteration: t, host, mode: a?.mode }, kind));
  };

  const attach = async (ref: JobRef): Promise<void> => {
    const job = record(ref);
    if (!job) return void vscode.window.showWarningMessage(`No job ${ref.id} in ${ref.experimentDir}.`);
    if (workers.follows(ref.experimentDir, ref.id)) return void vscode.window.setStatusBarMessage(`${ref.id} is already followed`, 5000);
    await onHost(`job ${ref.id}`, ref.experimentDir, job.host, ["jobs", "attach", ref.experimentDir, ref.id], () => attach(ref), ref.id);
  };

  return [
    vscode.commands.registerCommand("metajudge.launchGeneration", (arg?: unknown) => launch(arg, "generate")),
    vscode.commands.registerCommand("metajudge.launchTraining", (arg?: unknown) => launch(arg, "train")),
    vscode.commands.registerCommand("metajudge.attachJob", async (arg?: unknown) => {
      const ref = await pickJob(deps, arg, "Attach to which job?", (j) => isLive(j) || j.finalized !== true);
      if (ref) await attach(ref);
    }),
    vscode.commands.registerCommand("metajudge.cancelJob", async (arg?: unknown) => {
      const ref = await pickJob(deps, arg, "Cancel which job?", isLive);
      if (!ref) return;
      const job = record(ref);
      if (!job) return;
      workers.stopFollowing(ref.experimentDir, ref.id);
      await onHost(`cancel ${ref.id}`, ref.experimentDir, job.host, ["jobs", "cancel", ref.experimentDir, ref.id], () =>
        vscode.commands.executeCommand("metajudge.cancelJob", arg),
      );
    }),
    vscode.commands.registerCommand("metajudge.resubmitJob", async (arg?: unknown) => {
      const ref = await pickJob(deps, arg, "Resubmit which job?", (j) => !isLive(j));
      if (!ref) return;
      const job = record(ref);
      if (!job) return;
      const r = await onHost(`resubmit ${ref.id}`, ref.experimentDir, job.host, ["jobs", "resubmit", ref.experimentDir, ref.id], () =>
        vscode.commands.executeCommand("metajudge.resubmitJob", arg),
      );
      const res = r?.code === 0 ? r.result : undefined;
      const next = res?.type === "resubmitted" ? r?.jobs.find((j) => j.id === res.job.id) : undefined;
      if (next && isLive(next)) await attach({ experimentDir: ref.experimentDir, id: next.id });
    }),
    vscode.commands.registerCommand("metajudge.openJobLog", async (arg?: unknown) => {
      const ref = await pickJob(deps, arg, "Open the log of which job?", () => true);
      if (ref) await openLog(ref);
    }),
    vscode.commands.registerCommand("metajudge.refreshJobs", async () => {
      model.refresh();
      await deps.poller.pollNow();
    }),
    vscode.commands.registerCommand("metajudge.setHostSecret", (arg?: unknown) => setHostSecret(deps, arg)),
  ];
}

interface SecretItem extends vscode.QuickPickItem {
  passphraseOf?: string;
  secretName?: string;
}

/** Passphrases of the identity files the host profiles use, and their Ray tokens; or any named secret. */
async function setHostSecret(deps: JobsDeps, arg: unknown): Promise<void> {
  const a = arg as { identityFile?: unknown; secretName?: unknown; value?: unknown } | undefined;
  const items: SecretItem[] = [];
  const seen = new Set<string>();
  for (const e of await deps.experiments.experiments()) {
    let hosts: Record<string, unknown> = {};
    try {
      hosts = { ...deps.services.settings.hosts(), ...(loadConfig(e.dir).hosts ?? {}) };
    } catch {
      continue; // a config with problems is reported where it is edited
    }
    for (const [name, raw] of Object.entries(hosts)) {
      const p = raw as {
        kind?: string;
        ssh?: { host?: string };
        tunnel?: { host?: string };
        auth_token_env?: string;
        secret_env?: unknown;
      };
      const target = p.ssh ?? p.tunnel;
      if (target?.host) {
        try {
          for (const file of resolveSshTarget(target as { host: string }, deps.services.settings.sshConfigFile()).identityFiles) {
            if (seen.has(file) || !fs.existsSync(file)) continue;
            seen.add(file);
            items.push({ label: `Passphrase of ${path.basename(file)}`, description: name, detail: file, passphraseOf: file });
          }
        } catch {
          // an unresolvable alias: nothing to offer for it
        }
      }
      for (const env of Array.isArray(p.secret_env) ? p.secret_env : []) {
        if (typeof env !== "string" || seen.has(env)) continue;
        seen.add(env);
        items.push({ label: `Job secret ${env}`, description: name, secretName: env });
      }
      if (p.auth_token_env && !seen.has(p.auth_token_env)) {
        seen.add(p.auth_token_env);
        items.push({ label: `Ray token ${p.auth_token_env}`, description: name, secretName: p.auth_token_env });
      }
    }
  }
  items.push({ label: "Another secret…", description: "by its environment variable name" });
  let chosen: SecretItem | undefined =
    typeof a?.identityFile === "string"
      ? { label: "", passphraseOf: a.identityFile }
      : typeof a?.secretName === "string"
        ? { label: "", secretName: a.secretName }
        : undefined;
  chosen ??= await vscode.window.showQuickPick(items, { title: "Set which host secret?" });
  if (!chosen) return;
  if (!chosen.passphraseOf && !chosen.secretName) {
    const name = await vscode.window.showInputBox({
      title: "Secret name",
      prompt: "The environment variable a host profile names (e.g. RAY_TOKEN)",
      validateInput: (v) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? undefined : "letters, digits and _"),
    });
    if (!name) return;
    chosen = { label: name, secretName: name };
  }
  const value =
    typeof a?.value === "string"
      ? a.value
      : await vscode.window.showInputBox({
          title: chosen.passphraseOf ? `Passphrase of ${chosen.passphraseOf}` : `Value of ${chosen.secretName}`,
          password: true,
          ignoreFocusOut: true,
        });
  if (!value) return;
  if (chosen.passphraseOf) await deps.services.secrets.setPassphrase(chosen.passphraseOf, value);
  else await deps.services.secrets.setHostSecret(chosen.secretName!, value);
  vscode.window.setStatusBarMessage(`$(key) Saved in the secret store`, 5000);
}
