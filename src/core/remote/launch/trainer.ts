// The DPO trainer's config: TRL's `trl dpo --config <yaml>` takes DPOConfig, ScriptArguments and
// ModelConfig fields as flat YAML keys. Defaults follow the paper where it is firm (beta 0.1) and
// are settings where it is not; remote.training.trainer overrides any of them but the three paths
// we manage, since the checkpoint we record must be where we told the trainer to write it.
import { MetajudgeError } from "../../errors.js";

export const MANAGED_KEYS = ["model_name_or_path", "dataset_name", "output_dir"] as const;

export const TRAINER_DEFAULTS: Readonly<Record<string, unknown>> = {
  beta: 0.1,
  loss_type: "sigmoid",
  learning_rate: 5e-7,
  lr_scheduler_type: "linear",
  num_train_epochs: 1,
  // 2 x 16 = the paper's batch of 32 on one GPU; several GPUs multiply it, so lower one of them there.
  per_device_train_batch_size: 2,
  gradient_accumulation_steps: 16,
  gradient_checkpointing: true,
  bf16: true,
  logging_steps: 1,
  // The trainer saves the final model to output_dir itself; intermediate checkpoints only cost disk.
  save_strategy: "no",
  report_to: "none",
  dataset_train_split: "train",
};

export interface TrainerPaths {
  model: string; // model_name_or_path: hub name or path on the host
  dataset: string; // folder on the host holding train.jsonl
  output: string; // checkpoint folder on the host
}

/** The merged trainer fields, managed paths first. */
export function trainerFields(
  paths: TrainerPaths,
  overrides: Record<string, unknown>,
  setting = "remote.training.trainer",
): Record<string, unknown> {
  for (const key of MANAGED_KEYS) {
    if (key in overrides) {
      throw new MetajudgeError(
        "badInput",
        `metajudge.json: ${setting}.${key}: Metajudge sets this itself (the base model, the exported pairs and the job's checkpoint folder); remove it`,
      );
    }
  }
  return { model_name_or_path: paths.model, dataset_name: paths.dataset, output_dir: paths.output, ...TRAINER_DEFAULTS, ...overrides };
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * A YAML scalar PyYAML reads back as the same value. Strings are JSON-quoted (a valid YAML
 * double-quoted scalar); floats always carry a dot and a signed exponent, because YAML 1.1 reads
 * "5e-7" as a string.
 */
export function yamlValue(value: unknown, key: string): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value))
      throw new MetajudgeError("badInput", `metajudge.json: remote.training.trainer.${key}: ${value} is not a finite number`);
    if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
    if (Math.abs(value) >= 1e-4 && Math.abs(value) < 1e15) return String(value);
    const [mantissa = "0", exponent = "0"] = value.toExponential().split("e");
    const m = mantissa.includes(".") ? mantissa : `${mantissa}.0`;
    const e = Number(exponent);
    return `${m}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => yamlValue(v, key)).join(", ")}]`;
  if (typeof value === "object") {
    const parts = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${JSON.stringify(k)}: ${yamlValue(v, `${key}.${k}`)}`);
    return `{${parts.join(", ")}}`;
  }
  throw new MetajudgeError(
    "badInput",
    `metajudge.json: remote.training.trainer.${key}: a ${typeof value} cannot go into the trainer's YAML`,
  );
}

export function toYaml(fields: Record<string, unknown>, header?: string): string {
  const lines = header ? header.split("\n").map((l) => `# ${l}`) : [];
  for (const [key, value] of Object.entries(fields)) {
    if (!KEY.test(key))
      throw new MetajudgeError("badInput", `metajudge.json: remote.training.trainer: "${key}" is not a trainer field name`);
    if (value === undefined) continue;
    lines.push(`${key}: ${yamlValue(value, key)}`);
  }
  return lines.join("\n") + "\n";
}
