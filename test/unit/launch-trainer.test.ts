// The trainer's YAML: our defaults, the user's overrides, values PyYAML reads back unchanged.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { toYaml, trainerFields, yamlValue } from "../../src/core/remote/launch/trainer.js";
import { MetajudgeError } from "../../src/core/errors.js";

const paths = { model: "Qwen/Qwen2.5-0.5B", dataset: "/home/u/metajudge/jobs/it1-train/data", output: "/home/u/metajudge/jobs/it1-train/checkpoint" };

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
