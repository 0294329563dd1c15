// Command templates: values are quoted for sh, mistakes in the setting are reported by column.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { renderCommand } from "../../src/core/remote/launch/template.js";
import { MetajudgeError } from "../../src/core/errors.js";

const SETTING = "metajudge.json: remote.generation.batch_command";

function badInput(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof MetajudgeError);
    assert.equal(e.reason, "badInput");
    return e.message;
  }
  assert.fail("expected a badInput error");
}

describe("renderCommand", () => {
  it("fills the default commands", () => {
    assert.equal(
      renderCommand(
        "vllm run-batch -i {input} -o {output} --model {model}",
        { input: "in.jsonl", output: "out.jsonl", model: "meta-llama/Llama-3-8B" },
        SETTING,
      ),
      "vllm run-batch -i in.jsonl -o out.jsonl --model meta-llama/Llama-3-8B",
    );
    assert.equal(renderCommand("vllm serve {model} --port {port}", { model: "m", port: 8000 }, SETTING), "vllm serve m --port 8000");
  });

  it("quotes hostile values so sh sees each as one word", () => {
    const model = `/data/it's "mine" $(touch /tmp/mj-pwned) ;rm -rf ~`;
    const cmd = renderCommand("printf '%s\\n' {model} {output}", { model, output: "a b" }, SETTING);
    const out = execFileSync("/bin/sh", ["-c", cmd], { encoding: "utf8" });
    assert.equal(out, `${model}\na b\n`);
  });

  it("leaves ${VAR} to the shell and reads {{ }} as literal braces", () => {
    assert.equal(
      renderCommand("run --gpus ${NGPU:-1} --json {{a}} {config}", { config: "c.yaml" }, SETTING),
      "run --gpus ${NGPU:-1} --json {a} c.yaml",
    );
  });

  const cases: [string, string, RegExp][] = [
    [
      "unknown",
      "vllm run-batch --model {modle} -i {input}",
      /batch_command: unknown placeholder \{modle\} at column 24; known: \{model\} \{input\}/,
    ],
    ["known but not given", "trl dpo --config {config}", /placeholder not available here \{config\} at column 18/],
    ["unclosed", "vllm serve {model --port 1", /"\{" at column 12 is not closed/],
    ["nested open", "a {mo{del}", /"\{" at column 3 is not closed/],
  ];
  for (const [name, template, message] of cases) {
    it(`refuses a ${name} placeholder, naming the setting`, () => {
      const msg = badInput(() => renderCommand(template, { model: "m", input: "i" }, SETTING));
      assert.match(msg, /^metajudge\.json: remote\.generation\.batch_command: /);
      assert.match(msg, message);
    });
  }
});
