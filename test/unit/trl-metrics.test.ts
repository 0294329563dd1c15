// Trainer log dicts as HF Transformers prints them, read live from chunks and from trainer_state.json.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  TrainerLogParser,
  finalMetrics,
  parseLogDict,
  parseTrainerLog,
  parseTrainerState,
  type MetricsEntry,
} from "../../src/core/remote/launch/trl-metrics.js";

const LOG = [
  "[INFO|trainer.py:2414] >> ***** Running training *****",
  "  0%|          | 0/4 [00:00<?, ?it/s]",
  "{'loss': 0.6931, 'grad_norm': 3.1, 'learning_rate': 5e-07, 'rewards/chosen': 0.01, 'rewards/rejected': -0.02, 'rewards/accuracies': 0.5, 'rewards/margins': 0.03, 'logps/chosen': -120.5, 'logps/rejected': -130.25, 'logits/chosen': -1.5, 'logits/rejected': -1.25, 'epoch': 0.25}",
  " 25%|██▌       | 1/4 [00:01<00:03,  1.00s/it]{'loss': 0.6812, 'grad_norm': nan, 'learning_rate': 3.75e-07, 'rewards/chosen': 0.05, 'rewards/rejected': -0.06, 'rewards/accuracies': 0.75, 'rewards/margins': 0.11, 'epoch': 0.5}",
  "{'loss': np.float64(0.65), 'grad_norm': inf, 'learning_rate': 2.5e-07, 'rewards/margins': 0.2, 'rewards/accuracies': 1.0, 'epoch': 0.75}",
  "{'train_runtime': 12.3456, 'train_samples_per_second': 3.24, 'train_steps_per_second': 0.324, 'train_loss': 0.6731, 'epoch': 1.0}",
  "{'model_name_or_path': 'Qwen/Qwen2.5-0.5B', 'beta': 0.1}",
].join("\n");

describe("Trainer log dicts", () => {
  it("parses Python repr numbers: exponents, nan, inf, numpy scalars", () => {
    const d = parseLogDict("{'a': 5e-07, 'b': nan, 'c': -inf, 'd': np.float64(0.5), 'e': 3}");
    assert.ok(d);
    assert.equal(d.a, 5e-7);
    assert.ok(Number.isNaN(d.b));
    assert.equal(d.c, Number.NEGATIVE_INFINITY);
    assert.equal(d.d, 0.5);
    assert.equal(d.e, 3);
    assert.equal(parseLogDict("{'model': 'Qwen'}"), undefined);
  });

  it("reads steps from a whole log, ignoring bars and config dumps", () => {
    const entries = parseTrainerLog(LOG);
    assert.deepEqual(
      entries.map((e) => e.step),
      [1, 2, 3, 3],
    );
    assert.equal(entries[0]!.metrics["rewards/margins"], 0.03);
    assert.equal(entries[0]!.metrics["logps/chosen"], -120.5);
    assert.equal(entries[2]!.metrics.loss, 0.65);
    const final = finalMetrics(entries);
    assert.equal(final.loss, 0.65);
    assert.equal(final.train_loss, 0.6731);
    assert.equal(final["rewards/accuracies"], 1.0);
  });

  it("gives the same entries however the text is chunked", () => {
    const whole = parseTrainerLog(LOG);
    for (const size of [1, 7, 64, 333]) {
      const got: MetricsEntry[] = [];
      const p = new TrainerLogParser((e) => got.push(e));
      for (let i = 0; i < LOG.length; i += size) p.push(LOG.slice(i, i + size));
      p.end();
      assert.equal(JSON.stringify(got), JSON.stringify(whole), `chunks of ${size}`);
    }
  });

  it("reads trainer_state.json log_history, including bare NaN", () => {
    const state = `{"global_step": 2, "log_history": [
      {"epoch": 0.5, "grad_norm": NaN, "learning_rate": 5e-07, "loss": 0.6931, "rewards/margins": 0.0, "step": 1},
      {"epoch": 1.0, "learning_rate": 0.0, "loss": 0.6, "rewards/margins": 0.4, "rewards/accuracies": 1.0, "step": 2},
      {"epoch": 1.0, "step": 2, "total_flos": 0.0, "train_loss": 0.65, "train_runtime": 3.5}
    ]}`;
    const h = parseTrainerState(state);
    assert.deepEqual(
      h.map((e) => e.step),
      [1, 2, 2],
    );
    assert.ok(Number.isNaN(h[0]!.metrics.grad_norm));
    assert.equal(finalMetrics(h)["rewards/margins"], 0.4);
    assert.deepEqual(parseTrainerState("not json"), []);
  });
});
