// Stand-in for `trl dpo --config cfg.yaml`: reads the flat YAML we write, checks every line of the
// dataset against TRL's conversational preference format, prints Trainer's log dicts step by step
// and writes a checkpoint folder as save_model does. Fault knobs (env): MJ_TRL_FAIL=1 (exit 3 after
// half the steps), MJ_TRL_STEP_MS (delay per step, default 100), gated by MJ_FAULT_ONCE.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { arg, faultsActive, sleep } from "./common.mjs";

const [cmd, ...argv] = process.argv.slice(2);
if (cmd !== "dpo") {
  console.error(`trl stand-in: unknown command ${cmd}`);
  process.exit(2);
}
const configFile = arg(argv, "--config");
if (!configFile) {
  console.error("usage: trl dpo --config CONFIG.yaml");
  process.exit(2);
}

function scalar(raw, where) {
  const s = raw.trim();
  if (s === "true" || s === "false") return s === "true";
  if (s === "null" || s === "~") return null;
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return Number(s);
  if (s.startsWith('"') || s.startsWith("[") || s.startsWith("{")) {
    try {
      return JSON.parse(s);
    } catch {
      throw new Error(`${where}: cannot read ${s}`);
    }
  }
  return s;
}

const cfg = {};
readFileSync(configFile, "utf8")
  .split("\n")
  .forEach((line, i) => {
    if (!line.trim() || line.trimStart().startsWith("#")) return;
    const m = /^([A-Za-z_][A-Za-z0-9_.-]*):\s(.*)$/.exec(line);
    if (!m) throw new Error(`${configFile}:${i + 1}: not a "key: value" line`);
    cfg[m[1]] = scalar(m[2], `${configFile}:${i + 1}`);
  });
for (const k of ["model_name_or_path", "dataset_name", "output_dir"]) {
  if (typeof cfg[k] !== "string") {
    console.error(`ValueError: ${k} is required`);
    process.exit(1);
  }
}

function files(p) {
  if (!existsSync(p)) {
    console.error(`FileNotFoundError: Dataset '${p}' doesn't exist on the Hub or locally`);
    process.exit(1);
  }
  if (statSync(p).isFile()) return [p];
  return readdirSync(p)
    .filter((f) => f.endsWith(".jsonl") || f.endsWith(".json"))
    .sort()
    .map((f) => join(p, f));
}

const isMessages = (v, roles) =>
  Array.isArray(v) && v.length > 0 && v.every((m) => m && typeof m.content === "string" && roles.includes(m.role));
let examples = 0;
for (const f of files(cfg.dataset_name)) {
  readFileSync(f, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (!line.trim()) return;
      let rec;
      try {
        rec = JSON.parse(line);
      } catch {
        console.error(`${f}:${i + 1}: not JSON`);
        process.exit(1);
      }
      const problems = [];
      if (!isMessages(rec.prompt, ["system", "user", "assistant"])) problems.push("prompt is not a list of messages");
      if (!isMessages(rec.chosen, ["assistant"])) problems.push("chosen is not a list of assistant messages");
      if (!isMessages(rec.rejected, ["assistant"])) problems.push("rejected is not a list of assistant messages");
      if (problems.length) {
        console.error(`${f}:${i + 1}: not the conversational preference format: ${problems.join("; ")}`);
        process.exit(1);
      }
      examples++;
    });
}
if (examples === 0) {
  console.error(`ValueError: dataset ${cfg.dataset_name} is empty`);
  process.exit(1);
}

// Python's repr of a float, as Trainer prints it.
function py(v) {
  if (Number.isInteger(v)) return `${v}.0`;
  if (Math.abs(v) < 1e-4) return v.toExponential().replace(/e([-+])(\d)$/, "e$10$2");
  return String(v);
}
const dict = (o) =>
  `{${Object.entries(o)
    .map(([k, v]) => `'${k}': ${py(v)}`)
    .join(", ")}}`;

const batch = Number(cfg.per_device_train_batch_size ?? 8) * Number(cfg.gradient_accumulation_steps ?? 1);
const epochs = Number(cfg.num_train_epochs ?? 3);
const perEpoch = Math.max(1, Math.ceil(examples / batch));
const steps = perEpoch * epochs;
const lr = Number(cfg.learning_rate ?? 1e-6);
const beta = Number(cfg.beta ?? 0.1);
const fail = faultsActive() && process.env.MJ_TRL_FAIL === "1";
const stepMs = Number(process.env.MJ_TRL_STEP_MS ?? 100);
const started = Date.now();

console.log(
  `***** Running training *****\n  Num examples = ${examples}\n  Num Epochs = ${epochs}\n  Total optimization steps = ${steps}\n  beta = ${beta}`,
);
const history = [];
let lossSum = 0;
for (let step = 1; step <= steps; step++) {
  await sleep(stepMs);
  if (fail && step > Math.floor(steps / 2)) {
    console.error(
      'Traceback (most recent call last):\n  File "trl/scripts/dpo.py", line 140, in main\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB',
    );
    process.exit(3);
  }
  const margin = Math.round(0.05 * step * 10000) / 10000;
  const loss = Math.round(Math.log(1 + Math.exp(-margin)) * 10000) / 10000;
  const entry = {
    loss,
    grad_norm: Math.round((3 + step / 10) * 1000) / 1000,
    learning_rate: lr * (1 - (step - 1) / steps),
    "rewards/chosen": Math.round(margin * 0.4 * 10000) / 10000,
    "rewards/rejected": -Math.round(margin * 0.6 * 10000) / 10000,
    "rewards/accuracies": Math.min(1, 0.5 + step / (2 * steps)),
    "rewards/margins": margin,
    "logps/chosen": -120.5 + step,
    "logps/rejected": -130.25 - step,
    "logits/chosen": -1.5,
    "logits/rejected": -1.25,
    epoch: Math.round((step / perEpoch) * 10000) / 10000,
  };
  lossSum += loss;
  history.push({ ...entry, step });
  console.log(dict(entry));
}
const runtime = (Date.now() - started) / 1000;
const summary = {
  train_runtime: runtime,
  train_samples_per_second: (examples * epochs) / runtime,
  train_steps_per_second: steps / runtime,
  train_loss: lossSum / steps,
  epoch: epochs,
};
console.log(dict(summary));
history.push({ ...summary, step: steps });

mkdirSync(cfg.output_dir, { recursive: true });
writeFileSync(
  join(cfg.output_dir, "config.json"),
  JSON.stringify({ _name_or_path: cfg.model_name_or_path, architectures: ["LlamaForCausalLM"], torch_dtype: "bfloat16" }, null, 2),
);
const header = Buffer.from(
  JSON.stringify({ __metadata__: { format: "pt" }, "lm_head.weight": { dtype: "F32", shape: [4], data_offsets: [0, 16] } }),
);
const len = Buffer.alloc(8);
len.writeBigUInt64LE(BigInt(header.length));
writeFileSync(join(cfg.output_dir, "model.safetensors"), Buffer.concat([len, header, Buffer.alloc(16)]));
writeFileSync(
  join(cfg.output_dir, "trainer_state.json"),
  JSON.stringify({ global_step: steps, epoch: epochs, log_history: history }, null, 2),
);
console.log(`Saving model checkpoint to ${cfg.output_dir}`);
