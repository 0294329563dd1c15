// DPO training of M_t into M_{t+1}: the iteration's dpo.jsonl and a trainer config go to the host,
// the trainer's log is read for metrics while it runs, and a finished run is recorded in the
// iteration's manifest and as the next iteration's model. A failed run records nothing as a model.
import * as fs from "node:fs";
import * as path from "node:path";
import { iterationSettings, roleEndpoint } from "../../config.js";
import { MetajudgeError } from "../../errors.js";
import { DEFAULT_TRAIN_COMMAND, DEFAULT_TRAIN_COMMAND_MULTI_GPU, type Config, type RemoteSettings } from "../../schema.js";
import { IterationStore, iterationDir } from "../../store/iteration.js";
import { JobStore, type JobRecord } from "../jobs/record.js";
import { loadLaunchConfig, profileGpus, type LaunchHost } from "./host.js";
import type { LaunchContext } from "./types.js";
import { emitJob, followToEnd, jobFailure, staged, startJob } from "./job.js";
import { setIterationModels } from "./next-model.js";
import { jobRecord, type Recipe } from "./recipe.js";
import { renderCommand } from "./template.js";
import { toYaml, trainerFields } from "./trainer.js";
import { TrainerLogParser, finalMetrics, parseTrainerState, type MetricsEntry } from "./trl-metrics.js";

const HISTORY_KEPT = 500;

export interface TrainLaunch {
  recipe: "train";
  base_model: string;
  /** Absolute on the host. */
  checkpoint: string;
  config: string; // the YAML we wrote, relative to the experiment
}

/**
 * M_t, the model iteration t generated with: iteration t's own models.actor (where the training of
 * iteration t-1 recorded its checkpoint), else remote.training.model, else the endpoint's model.
 */
export function baseModel(config: Config, remote: RemoteSettings, t: number): string {
  return config.iterations[t - 1]?.models?.actor ?? remote.training.model ?? roleEndpoint(config, "actor").model;
}

export async function startTraining(
  ctx: LaunchContext,
  host: LaunchHost,
  config: Config,
  remote: RemoteSettings,
  t: number,
): Promise<JobRecord> {
  iterationSettings(config, t);
  const iterDir = iterationDir(ctx.experimentDir, t);
  const dpo = path.join(iterDir, "dpo.jsonl");
  if (!fs.existsSync(dpo) || fs.statSync(dpo).size === 0) {
    throw new MetajudgeError(
      "badInput",
      `${dpo}: no training pairs for iteration ${t}; run the export stage first (metajudge run --until export)`,
      { file: dpo },
    );
  }
  const model = baseModel(config, remote, t);
  const remoteDir = path.join(iterDir, "remote");
  fs.mkdirSync(remoteDir, { recursive: true });
  const gpus = profileGpus(host.profile);
  let yamlFile = "";
  const record = await startJob(ctx, host, {
    kind: "train",
    title: `Iteration ${t}: DPO from ${model}`,
    iteration: t,
    // The YAML names the job folder, which exists only once the job has an id.
    script: (dir) => {
      const yaml = toYaml(
        trainerFields({ model, dataset: `${dir}/data`, output: `${dir}/checkpoint` }, remote.training.trainer),
        `DPO config written by Metajudge for iteration ${t}`,
      );
      yamlFile = path.join(remoteDir, `${path.posix.basename(dir)}.dpo.yaml`);
      fs.writeFileSync(yamlFile, yaml);
      // {model} and {input} too, for trainers driven by flags rather than a config file (OpenRLHF:
      // --pretrain {model} --dataset {input} --prompt_key prompt --chosen_key chosen --rejected_key rejected --apply_chat_template).
      return renderCommand(
        trainCommand(remote.training.command, gpus),
        { config: "dpo.yaml", gpus, output: "checkpoint", model, input: "data/train.jsonl" },
        "metajudge.json: remote.training.command",
      );
    },
    inputs: () => [
      { local: dpo, name: "data/train.jsonl" },
      { local: yamlFile, name: "dpo.yaml" },
    ],
    launch: { recipe: "train", base_model: model },
  });
  const launch: TrainLaunch = {
    recipe: "train",
    base_model: model,
    checkpoint: `${record.remote.dir}/checkpoint`,
    config: path.relative(ctx.experimentDir, yamlFile),
  };
  return emitJob(ctx, new JobStore(ctx.experimentDir).update(record.id, { launch }));
}

/** The default command trains on one GPU; on a host with several, the default becomes accelerate's. */
export function trainCommand(command: string, gpus: number): string {
  return command === DEFAULT_TRAIN_COMMAND && gpus > 1 ? DEFAULT_TRAIN_COMMAND_MULTI_GPU : command;
}

/** Follows a training job, turning its log into metrics events and a bounded history in the record. */
export async function followTraining(ctx: LaunchContext, host: LaunchHost, id: string): Promise<JobRecord> {
  const store = new JobStore(ctx.experimentDir);
  const history: MetricsEntry[] = [];
  let dirty = false;
  const parser = new TrainerLogParser((e) => {
    history.push(e);
    if (history.length > HISTORY_KEPT) history.shift();
    dirty = true;
    ctx.onEvent?.({ type: "metrics", jobId: id, step: e.step, metrics: e.metrics });
  });
  const save = (): void => {
    if (!dirty) return;
    dirty = false;
    const last = history[history.length - 1];
    store.update(id, { metrics: { step: last?.step ?? 0, latest: finalMetrics(history), history: [...history] } });
  };
  const timer = setInterval(save, 1000);
  try {
    return await followToEnd(ctx, host, id, (text) => parser.push(text));
  } finally {
    clearInterval(timer);
    parser.end();
    save();
  }
}

/** Records a finished training job; idempotent. A failed job throws jobFailed and records no model. */
export async function finalizeTraining(
  ctx: LaunchContext,
  host: LaunchHost,
  record: JobRecord,
): Promise<{ job: JobRecord; checkpoint?: string }> {
  const store = new JobStore(ctx.experimentDir);
  const launch = record.launch as TrainLaunch;
  const t = record.iteration ?? 1;
  if (record.state !== "succeeded") {
    const job = emitJob(
      ctx,
      store.update(record.id, {
        finalized: true,
        error: `training ${record.state}${record.exit_code != null ? ` (exit ${record.exit_code})` : ""}`,
      }),
    );
    throw jobFailure(ctx, job, `DPO training for iteration ${t}`);
  }
  const checkpoint = `${host.name}:${launch.checkpoint}`;
  if (record.finalized) return { job: record, checkpoint };
  let history = ((record.metrics as { history?: MetricsEntry[] } | undefined)?.history ?? []) as MetricsEntry[];
  const stateLocal = path.join(iterationDir(ctx.experimentDir, t), "remote", `${record.id}.trainer_state.json`);
  try {
    await staged(ctx, "downloading trainer_state.json", () =>
      host.shell.download(`${launch.checkpoint}/trainer_state.json`, stateLocal, ctx.signal ? { signal: ctx.signal } : {}),
    );
    const fromState = parseTrainerState(fs.readFileSync(stateLocal, "utf8"));
    if (fromState.length > 0) history = fromState.slice(-HISTORY_KEPT);
  } catch (err) {
    ctx.onEvent?.({
      type: "note",
      message: `no trainer_state.json in ${launch.checkpoint} (${err instanceof Error ? err.message : String(err)}); metrics come from the log`,
    });
  }
  const final = finalMetrics(history);
  const pick = (k: string): number | undefined => (Number.isFinite(final[k]) ? final[k] : undefined);
  const lastLoss = [...history].reverse().find((e) => e.metrics.loss !== undefined)?.metrics.loss;
  const finishedAt = record.finished_at ?? new Date().toISOString();
  const training = {
    job_id: record.id,
    host: host.name,
    base_model: launch.base_model,
    checkpoint,
    config: launch.config,
    final: {
      loss: lastLoss ?? pick("train_loss"),
      "rewards/margins": pick("rewards/margins"),
      "rewards/accuracies": pick("rewards/accuracies"),
      train_loss: pick("train_loss"),
    },
    history,
    finished_at: finishedAt,
  };
  const iterStore = new IterationStore(iterationDir(ctx.experimentDir, t));
  const manifest = iterStore.readManifest();
  if (!manifest) throw new MetajudgeError("badInput", `${iterStore.file("manifest")}: missing; iteration ${t} was never run here`);
  iterStore.writeManifest({ ...manifest, training, updated_at: new Date().toISOString() });
  const m = launch.checkpoint;
  setIterationModels(ctx.experimentDir, t + 1, { actor: m, judge: m, meta_judge: m });
  const job = emitJob(
    ctx,
    store.update(record.id, {
      finalized: true,
      outputs: { checkpoint },
      metrics: { step: history[history.length - 1]?.step ?? 0, latest: final, history },
    }),
  );
  ctx.onEvent?.({ type: "note", message: `iteration ${t + 1} will use ${checkpoint}` });
  return { job, checkpoint };
}

export const trainRecipe: Recipe<"train"> = {
  kind: "train",
  follow: followTraining,
  finalize: async (ctx, host, ended) => {
    try {
      return (await finalizeTraining(ctx, host, ended)).job;
    } catch (err) {
      // A failed run is recorded as such (finalized, with its error); attaching to it is not an error.
      if (err instanceof MetajudgeError && err.reason === "jobFailed") return jobRecord(ctx, ended.id);
      throw err;
    }
  },
  // Training again from the current config and dpo.jsonl: a new run is what a failed one is redone with.
  resubmit: (ctx, old, onHost) => {
    const { config, remote } = loadLaunchConfig(ctx);
    return onHost((host) => startTraining(ctx, host, config, remote, old.iteration ?? 1));
  },
};
