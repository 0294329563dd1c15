import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { checkConfigText, iterationSettings, loadConfig, roleEndpoint } from "../../src/core/config.js";
import { defaultConfig, initExperiment } from "../../src/core/experiment.js";
import { configJsonSchema } from "../../src/core/json-schema.js";
import { ConfigSchema } from "../../src/core/schema.js";
import { VERSION } from "../../src/core/version.js";
import { checkPrompts } from "../../src/core/prompts.js";

const root = path.join(__dirname, "..", "..");

test("the default config is valid and its defaults are filled in", () => {
  const c = ConfigSchema.parse(defaultConfig());
  assert.equal(c.roles.actor.sampling.n, 7);
  assert.equal(c.roles.judge.sampling.n, 11);
  assert.equal(iterationSettings(c, 2).rho, 0.32);
  assert.throws(() => iterationSettings(c, 5), /iteration 5 has no settings: "iterations" in metajudge.json lists 4/);
});

test("role endpoints inherit the top level; an iteration's model overrides it", () => {
  const c = ConfigSchema.parse({
    ...defaultConfig(),
    roles: { ...defaultConfig().roles, judge: { endpoint: { base_url: "http://127.0.0.1:9/v1" }, sampling: { n: 3 } } },
    iterations: [{ models: { actor: "ckpt-1" } }],
  });
  const s = iterationSettings(c, 1);
  assert.equal(roleEndpoint(c, "actor", s).model, "ckpt-1");
  assert.equal(roleEndpoint(c, "judge", s).base_url, "http://127.0.0.1:9/v1");
  assert.equal(roleEndpoint(c, "judge", s).model, defaultConfig().endpoint.model);
});

test("schema errors point at the line and column of the offending key", () => {
  const text = JSON.stringify({ ...defaultConfig(), concurrency: 0 }, null, 2);
  const { config, problems } = checkConfigText(text, "x/metajudge.json");
  assert.equal(config, undefined);
  const line = text.split("\n").findIndex((l) => l.includes('"concurrency"')) + 1;
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.line, line);
  assert.equal(problems[0]!.column, 3);
  assert.match(problems[0]!.message, /^concurrency: /);
});

test("nested errors and unknown keys are located too", () => {
  const cfg = defaultConfig() as Record<string, unknown>;
  const text = JSON.stringify({ ...cfg, roles: { ...(cfg.roles as object), judge: { sampling: { n: 11, temprature: 0.7 } } } }, null, 2);
  const { problems } = checkConfigText(text, "m.json");
  assert.equal(problems.length, 1);
  const line = text.split("\n").findIndex((l) => l.includes('"temprature"')) + 1;
  assert.equal(problems[0]!.line, line);
  assert.match(problems[0]!.message, /roles\.judge\.sampling: .*temprature/);
});

test("JSON syntax errors come with line and column", () => {
  const { problems } = checkConfigText('{\n  "name": "x",\n  "concurrency": 4,,\n}', "m.json");
  assert.ok(problems.length >= 1);
  assert.equal(problems[0]!.line, 3);
  assert.match(problems[0]!.message, /JSON syntax/);
});

test("loadConfig: a missing file says how to make one", () => {
  assert.throws(
    () => loadConfig(fs.mkdtempSync(path.join(os.tmpdir(), "mj-cfg-"))),
    /not found; create an experiment with `metajudge init <dir>`/,
  );
});

test("the shipped JSON Schema is the one generated from the zod schema", () => {
  const shipped = JSON.parse(fs.readFileSync(path.join(root, "schema", "metajudge.schema.json"), "utf8"));
  assert.deepEqual(shipped, JSON.parse(JSON.stringify(configJsonSchema())), "run `npm run schema`");
});

test("VERSION matches package.json", () => {
  assert.equal(VERSION, JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version);
});

test("init writes a working skeleton and refuses to overwrite it", async () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mj-init-")), "exp");
  const written = initExperiment(dir, root);
  assert.deepEqual(
    written.sort(),
    ["metajudge.json", "metajudge.schema.json", "prompts.jsonl", "prompts/actor.md", "prompts/judge.md", "prompts/meta_judge.md"].sort(),
  );
  assert.ok(loadConfig(dir));
  const { set } = await checkPrompts(path.join(dir, "prompts.jsonl"));
  assert.ok(set && set.prompts.length >= 20);
  assert.throws(() => initExperiment(dir, root), /already exists/);
});

test("prompt problems: malformed line, missing field, duplicate id, integer ids accepted", async () => {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mj-p-")), "prompts.jsonl");
  fs.writeFileSync(f, '{"id":1,"prompt":"a"}\n{"id":"2","prompt":"b"}\n{oops\n{"id":"4"}\n{"id":"2","prompt":"c"}\n');
  const { set, problems } = await checkPrompts(f);
  assert.equal(set, undefined);
  assert.deepEqual(
    problems.map((p) => p.line),
    [3, 4, 5],
  );
  assert.match(problems[2]!.message, /duplicate id "2" \(first on line 2\)/);
  fs.writeFileSync(f, '{"id":1,"prompt":"a"}\n');
  assert.equal((await checkPrompts(f)).set?.prompts[0]?.id, "1");
});

// ---- what a person saves: BOM, comments, trailing commas, duplicate keys, URLs --------------------

const sampleText = (): string => JSON.stringify(defaultConfig(), null, 2);

test("a UTF-8 BOM before metajudge.json is ignored, and positions stay those an editor shows", () => {
  const { config, problems } = checkConfigText("\ufeff" + sampleText(), "m.json");
  assert.deepEqual(problems, []);
  assert.equal(config?.name, "my-experiment");
  const bad = "\ufeff" + JSON.stringify({ ...defaultConfig(), concurrency: 0 }, null, 2);
  const p = checkConfigText(bad, "m.json").problems;
  assert.equal(p[0]!.line, bad.split("\n").findIndex((l) => l.includes('"concurrency"')) + 1);
  assert.equal(p[0]!.column, 3);
});

test("comments and trailing commas are accepted, as in VS Code's own settings", () => {
  const text = sampleText()
    .replace('{\n  "$schema"', '// my experiment\n{\n  /* the schema */ "$schema"')
    .replace('"concurrency": 16,', '"concurrency": 16, // requests in flight')
    .replace(/\}\n\]\n\}$/, "},\n  ],\n}\n")
    .replace(/\}(\s*\]\s*\}\s*)$/, "},$1");
  assert.match(text, /\/\/ requests in flight/);
  const { config, problems } = checkConfigText(text, "m.json");
  assert.deepEqual(problems, []);
  assert.equal(config?.concurrency, 16);
  assert.equal(config?.iterations.length, 4);
});

test("a syntax error in JSONC still comes with line and column", () => {
  const { problems } = checkConfigText('{\n  // fine\n  "name": "x"\n  "concurrency": 4\n}', "m.json");
  assert.equal(problems[0]!.line, 4);
  assert.equal(problems[0]!.column, 3);
  assert.match(problems[0]!.message, /JSON syntax: CommaExpected/);
});

test("a duplicate key is refused at the second occurrence, with its key path", () => {
  const text = '{\n  "name": "a",\n  "endpoint": { "base_url": "http://h/v1", "model": "m",\n    "model": "n" },\n  "name": "b"\n}\n';
  const { config, problems } = checkConfigText(text, "m.json");
  assert.equal(config, undefined);
  assert.deepEqual(
    problems.map((p) => [p.line, p.column, p.message]),
    [
      [4, 5, "endpoint.model: duplicate key (first on line 3); JSON keeps only the last one, so remove one of them"],
      [5, 3, "name: duplicate key (first on line 2); JSON keeps only the last one, so remove one of them"],
    ],
  );
});

test("the same key in two different objects is not a duplicate", () => {
  const c = defaultConfig();
  const text = JSON.stringify(
    {
      ...c,
      roles: { ...c.roles, judge: { ...c.roles.judge, endpoint: { model: "j" } }, actor: { ...c.roles.actor, endpoint: { model: "a" } } },
    },
    null,
    2,
  );
  assert.deepEqual(checkConfigText(text, "m.json").problems, []);
});

for (const url of ["file:///etc/passwd", "ftp://h/v1", "javascript:alert(1)", "127.0.0.1:8000/v1"]) {
  test(`an endpoint base_url of ${url} is refused where it is written`, () => {
    const text = JSON.stringify({ ...defaultConfig(), endpoint: { base_url: url, model: "m" } }, null, 2);
    const { config, problems } = checkConfigText(text, "m.json");
    assert.equal(config, undefined);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.line, text.split("\n").findIndex((l) => l.includes('"base_url"')) + 1);
    assert.match(problems[0]!.message, /^endpoint\.base_url: .*http:\/\/ or https:\/\//);
  });
}

test("a role's endpoint override is checked the same way", () => {
  const c = defaultConfig();
  const text = JSON.stringify(
    { ...c, roles: { ...c.roles, judge: { ...c.roles.judge, endpoint: { base_url: "file:///tmp/x" } } } },
    null,
    2,
  );
  const { problems } = checkConfigText(text, "m.json");
  assert.match(problems[0]?.message ?? "", /^roles\.judge\.endpoint\.base_url: /);
});

test("http and https base URLs are accepted", () => {
  for (const url of ["http://127.0.0.1:8000/v1", "https://api.openai.com/v1"]) {
    assert.deepEqual(
      checkConfigText(JSON.stringify({ ...defaultConfig(), endpoint: { base_url: url, model: "m" } }), "m.json").problems,
      [],
    );
  }
});

test("loadConfig reads a file with a BOM, comments and trailing commas", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mj-cfg-"));
  fs.writeFileSync(
    path.join(dir, "metajudge.json"),
    "\ufeff// notes\n" + sampleText().replace('"concurrency": 16,', '"concurrency": 3, /* small */'),
  );
  assert.equal(loadConfig(dir).concurrency, 3);
});

test("a BOM before prompts.jsonl is ignored", async () => {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mj-p-")), "prompts.jsonl");
  fs.writeFileSync(f, '\ufeff{"id":"a","prompt":"x"}\r\n{"id":"b","prompt":"y"}\r\n');
  const { set, problems } = await checkPrompts(f);
  assert.deepEqual(problems, []);
  assert.deepEqual(
    set?.prompts.map((p) => p.id),
    ["a", "b"],
  );
});

test("the README's sample configuration, comments and all, is a valid metajudge.json", () => {
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
  const sample = /```jsonc\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf("## Configuration")))?.[1];
  assert.ok(sample && /\/\//.test(sample), "a commented sample under ## Configuration");
  assert.deepEqual(checkConfigText(sample, "README.md").problems, []);
});

test("the shipped JSON Schema lets VS Code accept comments and trailing commas", () => {
  const shipped = JSON.parse(fs.readFileSync(path.join(root, "schema", "metajudge.schema.json"), "utf8")) as Record<string, unknown>;
  assert.equal(shipped.allowComments, true);
  assert.equal(shipped.allowTrailingCommas, true);
  const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
    contributes: { languages: { id: string; filenames?: string[] }[] };
  };
  assert.ok(
    manifest.contributes.languages.some((l) => l.id === "jsonc" && l.filenames?.includes("metajudge.json")),
    "metajudge.json opens as JSON with comments",
  );
});
