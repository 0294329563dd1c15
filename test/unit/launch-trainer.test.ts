// The trainer's YAML: our defaults, the user's overrides, values PyYAML reads back unchanged.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { toYaml, trainerFields, yamlValue } from "../../src/core/remote/launch/trainer.js";
import { MetajudgeError } from "../../src/core/errors.js";
import { baseModel, trainCommand } from "../../src/core/remote/launch/training.js";
import { ConfigSchema, RemoteSettingsSchema, type Config, type IterationSettings, type RemoteSettings } from "../../src/core/schema.js";

const paths = {
  model: "Qwen/Qwen2.5-0.5B",
  dataset: "/home/u/metajudge/jobs/it1-train/data",
  output: "/home/u/metajudge/jobs/it1-train/checkpoint",
};

describe("trainer config", () => {
  it("writes the paper's beta, our paths and the user's overrides", () => {
    const yaml = toYaml(trainerFields(paths, { learning_rate: 5e-6, num_train_epochs: 2, loss_type: "ipo" }));
    const lines = yaml.trim().split("\n");
    assert.ok(lines.includes('model_name_or_path: "Qwen/Qwen2.5-0.5B"'));
    assert.ok(lines.includes(`dataset_name: "${paths.dataset}"`));
    assert.ok(lines.includes(`output_dir: "${paths.output}"`));
    assert.ok(lines.includes("beta: 0.1"));
    assert.ok(lines.includes("learning_rate: 5.0e-06"));
    assert.ok(lines.includes("num_train_epochs: 2"));
    assert.ok(lines.includes('loss_type: "ipo"'));
    assert.ok(lines.includes("logging_steps: 1"));
    assert.ok(lines.includes('report_to: "none"'));
  });

  it("refuses overriding the paths it manages", () => {
    assert.throws(
      () => trainerFields(paths, { output_dir: "/elsewhere" }),
      (e: unknown) => e instanceof MetajudgeError && e.reason === "badInput" && /remote\.training\.trainer\.output_dir/.test(e.message),
    );
  });

  it("emits scalars YAML 1.1 reads as the same type", () => {
    assert.equal(yamlValue(5e-7, "lr"), "5.0e-07");
    assert.equal(yamlValue(1.5e-10, "x"), "1.5e-10");
    assert.equal(yamlValue(0.001, "x"), "0.001");
    assert.equal(yamlValue(32, "x"), "32");
    assert.equal(yamlValue(true, "x"), "true");
    assert.equal(yamlValue("yes", "x"), '"yes"');
    assert.equal(yamlValue(`a "q" \n # b: c`, "x"), '"a \\"q\\" \\n # b: c"');
    assert.equal(yamlValue(["sigmoid", "sft"], "x"), '["sigmoid", "sft"]');
    assert.throws(() => yamlValue(Number.NaN, "x"), MetajudgeError);
    assert.throws(() => toYaml({ "bad key": 1 }), MetajudgeError);
  });
});

describe("base model of a training", () => {
  const config = (iterations: IterationSettings[]): Config =>
    ConfigSchema.parse({
      endpoint: { base_url: "http://127.0.0.1:1/v1", model: "endpoint-model" },
      roles: { actor: { sampling: {} }, judge: { sampling: {} }, meta_judge: { sampling: {} } },
      iterations,
    });
  const remote = (model?: string): RemoteSettings => RemoteSettingsSchema.parse({ training: model ? { model } : {} });

  it("is M_t: iteration t's own model, recorded there by the training of iteration t-1", () => {
    const c = config([{ rho: 0 } as IterationSettings, { rho: 0, models: { actor: "/ckpt/it1" } } as IterationSettings]);
    assert.equal(baseModel(c, remote("base"), 2), "/ckpt/it1");
    assert.equal(baseModel(c, remote("base"), 1), "base");
    assert.equal(baseModel(c, remote(), 1), "endpoint-model");
  });
});

describe("training command", () => {
  it("uses accelerate for the default command on several GPUs, and leaves a command of the user's alone", () => {
    assert.equal(trainCommand("trl dpo --config {config}", 1), "trl dpo --config {config}");
    assert.equal(trainCommand("trl dpo --config {config}", 4), "accelerate launch --num_processes {gpus} -m trl.cli dpo --config {config}");
    assert.equal(trainCommand("my-train {config}", 4), "my-train {config}");
  });
});
