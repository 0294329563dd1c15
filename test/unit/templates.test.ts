import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MetajudgeError } from "../../src/core/errors.js";
import { ROLES } from "../../src/core/schema.js";
import { TEMPLATE_VARIABLES, loadTemplate, parseTemplate, renderTemplate, sha256Hex } from "../../src/core/templates.js";

const PROMPTS_DIR = join(__dirname, "..", "..", "prompts");
const made: string[] = [];
const tmp = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "metajudge-templates-"));
  made.push(dir);
  return dir;
};
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

test("role variables", () => {
  assert.deepEqual(TEMPLATE_VARIABLES.actor, ["prompt"]);
  assert.deepEqual(TEMPLATE_VARIABLES.judge, ["prompt", "response"]);
  assert.deepEqual(TEMPLATE_VARIABLES.meta_judge, ["prompt", "response", "judgement_a", "judgement_b"]);
});

test("a clean judge template: blanks inside braces, repeated use", () => {
  const { template, problems } = parseTemplate("Q: {{ prompt }}\nA: {{response}}\nAgain: {{prompt}}\n", "judge");
  assert.deepEqual(problems, []);
  assert.equal(renderTemplate(template, { prompt: "2+2?", response: "4" }), "Q: 2+2?\nA: 4\nAgain: 2+2?");
});

test("unknown variable: exact range and nearest-name suggestion", () => {
  const { problems } = parseTemplate("Question: {{prompt}}\nAnswer:  {{respnse}} end\n", "judge");
  const unknown = problems.find((p) => p.code === "unknown-variable");
  assert.ok(unknown);
  assert.equal(unknown.severity, "error");
  assert.deepEqual([unknown.line, unknown.column, unknown.endLine, unknown.endColumn], [2, 10, 2, 21]);
  assert.equal(unknown.message, "unknown variable {{respnse}}: did you mean {{response}}? known for judge: prompt, response");
});

test("unknown variable: suggestions for case, separators, and no suggestion when far off", () => {
  const msg = (src: string, role: "judge" | "meta_judge") =>
    parseTemplate(src, role).problems.find((p) => p.code === "unknown-variable")?.message ?? "";
  assert.match(msg("{{Prompt}} {{response}}", "judge"), /did you mean \{\{prompt\}\}\?/);
  assert.match(msg("{{prompt}} {{response}} {{judgment a}} {{judgement_b}}", "meta_judge"), /did you mean \{\{judgement_a\}\}\?/);
  assert.equal(
    msg("{{prompt}} {{response}} {{temperature}}", "judge"),
    "unknown variable {{temperature}}; known for judge: prompt, response",
  );
  assert.equal(
    msg("{{prompt}} {{response}} {{judgement_a}}", "judge"),
    "{{judgement_a}} is not available in a judge template; known for judge: prompt, response",
  );
});

test("missing variable: reported over the first line, after the problems found in the text", () => {
  const { problems } = parseTemplate("Rate this answer.\nQ: {{prompt}}\nA: {{respnse}}\n", "judge");
  assert.deepEqual(
    problems.map((p) => [p.code, p.line, p.column, p.endLine, p.endColumn]),
    [
      ["unknown-variable", 3, 4, 3, 15],
      ["missing-variable", 1, 1, 1, 18],
    ],
  );
  assert.equal(problems[1]?.message, "missing variable {{response}}: a judge template must use {{prompt}}, {{response}}");
});

test("unclosed brace: the range covers the opening and the name begun", () => {
  const { problems } = parseTemplate("{{prompt}}\n  see {{response\n", "judge");
  assert.deepEqual(
    problems.map((p) => [p.code, p.severity, p.line, p.column, p.endLine, p.endColumn]),
    [
      ["unclosed-brace", "error", 2, 7, 2, 17],
      ["missing-variable", "error", 1, 1, 1, 11],
    ],
  );
});

test("unclosed brace does not swallow a later reference", () => {
  const { problems } = parseTemplate("{{prompt {{response}}", "judge");
  assert.deepEqual(
    problems.map((p) => [p.code, p.column]),
    [
      ["unclosed-brace", 1],
      ["missing-variable", 1],
    ],
  );
});

test("empty variable", () => {
  const { problems } = parseTemplate("{{prompt}} {{  }}", "actor");
  assert.deepEqual(
    problems.map((p) => [p.code, p.line, p.column, p.endColumn]),
    [["empty-variable", 1, 12, 18]],
  );
});

test("stray close is a warning and stays text", () => {
  const { template, problems } = parseTemplate("{{prompt}} }} tail", "actor");
  assert.deepEqual(
    problems.map((p) => [p.code, p.severity, p.column, p.endColumn]),
    [["stray-close", "warning", 12, 14]],
  );
  assert.equal(renderTemplate(template, { prompt: "x" }), "x }} tail");
});

test("escapes: \\{{ and \\}} are literal; {{{{ is not an escape", () => {
  const { template, problems } = parseTemplate("Write \\{{prompt}} and \\}} and \\n, then {{prompt}}", "actor");
  assert.deepEqual(problems, []);
  assert.equal(renderTemplate(template, { prompt: "P" }), "Write {{prompt}} and }} and \\n, then P");
  const quad = parseTemplate("{{{{prompt}}", "actor");
  assert.deepEqual(
    quad.problems.map((p) => p.code),
    ["unclosed-brace"],
  );
});

test("rendering: no double expansion of values", () => {
  const { template } = parseTemplate("Q: {{prompt}}\nA: {{response}}", "judge");
  const out = renderTemplate(template, { prompt: "say {{response}}", response: "{{prompt}} \\{{prompt}}" });
  assert.equal(out, "Q: say {{response}}\nA: {{prompt}} \\{{prompt}}");
});

test("rendering: the actor prompt is exactly the user's prompt, values keep their whitespace", () => {
  const { template } = parseTemplate("{{prompt}}\n\n", "actor");
  assert.equal(renderTemplate(template, { prompt: "  hello\n" }), "  hello\n");
});

test("rendering: CRLF templates render with LF, BOM ignored, columns counted without it", () => {
  const { template, problems } = parseTemplate("\uFEFFQ: {{prompt}}\r\nA: {{response}}\r\n", "judge");
  assert.deepEqual(problems, []);
  assert.equal(renderTemplate(template, { prompt: "p", response: "r" }), "Q: p\nA: r");
  const bad = parseTemplate("\uFEFF{{prompt}} {{x}}", "actor").problems[0];
  assert.equal(bad?.column, 12);
});

test("rendering: a missing value throws badInput", () => {
  const { template } = parseTemplate("{{prompt}} {{response}}", "judge", "j.md");
  assert.throws(
    () => renderTemplate(template, { prompt: "p" }),
    (err: unknown) => err instanceof MetajudgeError && err.reason === "badInput" && err.message.includes("{{response}}"),
  );
});

test("the shipped defaults parse clean and render", async () => {
  const vars = { prompt: "PROMPT", response: "RESPONSE", judgement_a: "JA", judgement_b: "JB" };
  for (const role of ROLES) {
    const loaded = await loadTemplate(join(PROMPTS_DIR, `${role}.md`), role);
    assert.deepEqual(parseTemplate(loaded.source, role).problems, [], role);
    const out = renderTemplate(loaded.template, vars);
    for (const v of TEMPLATE_VARIABLES[role]) assert.ok(out.includes(vars[v as keyof typeof vars]), `${role} renders ${v}`);
    assert.ok(!out.includes("{{"), `${role} leaves no reference`);
  }
  const actor = await loadTemplate(join(PROMPTS_DIR, "actor.md"), "actor");
  assert.equal(renderTemplate(actor.template, { prompt: "Exactly this." }), "Exactly this.");
  const judge = await loadTemplate(join(PROMPTS_DIR, "judge.md"), "judge");
  assert.match(renderTemplate(judge.template, vars), /^User: PROMPT\n<response>RESPONSE<\/response>$/m);
  assert.ok(renderTemplate(judge.template, vars).endsWith("systematically attribute points based on the outlined criteria."));
});

test("sha256 is of the file bytes and stable", async () => {
  assert.equal(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(sha256Hex("abc"), sha256Hex(Buffer.from("abc")));
  const file = join(PROMPTS_DIR, "judge.md");
  const a = await loadTemplate(file, "judge");
  const b = await loadTemplate(file, "judge");
  assert.equal(a.sha256, b.sha256);
  assert.equal(a.sha256, sha256Hex(readFileSync(file)));
  assert.match(a.sha256, /^[0-9a-f]{64}$/);
  assert.equal(a.path, file);
});

test("loadTemplate: the first error as file:line:col, with how many more", async () => {
  const file = join(tmp(), "judge.md");
  writeFileSync(file, "Rate.\nQ: {{promt}}\nA: {{respnse}}\n");
  await assert.rejects(loadTemplate(file, "judge"), (err: unknown) => {
    assert.ok(err instanceof MetajudgeError);
    assert.equal(err.reason, "badInput");
    assert.equal(
      err.message,
      `${file}:2:4: unknown variable {{promt}}: did you mean {{prompt}}? known for judge: prompt, response (and 3 more errors)`,
    );
    assert.deepEqual(err.where, { file, line: 2, column: 4 });
    return true;
  });
});

test("loadTemplate: warnings do not stop loading; unreadable files are badInput", async () => {
  const dir = tmp();
  const file = join(dir, "actor.md");
  writeFileSync(file, "{{prompt}} }}\n");
  const loaded = await loadTemplate(file, "actor");
  assert.equal(renderTemplate(loaded.template, { prompt: "p" }), "p }}");
  await assert.rejects(
    loadTemplate(join(dir, "nope.md"), "actor"),
    (err: unknown) => err instanceof MetajudgeError && err.reason === "badInput",
  );
});
