// What reaches a terminal: text a server wrote never acts on it, a closed pipe stops a run cleanly,
// and the config a person saved (BOM, comments) is read as an editor reads it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { CLI, ensureBuilt, makeExperiment, runCli } from "../support/cli.js";

let server: FakeServer;

before(async () => {
  ensureBuilt();
  server = await startFakeOpenAI({ latencyMs: 1 });
});
after(() => server.close());

// Colour, a window title (OSC ended by BEL), a clipboard write (OSC 52), C1 CSI and a bidi override.
const HOSTILE = "\x1b[31mRED\x1b[0m \x1b]0;owned\x07 \x1b]52;c;ZWNobyBoaQ==\x1b\\ \u009b2J \u202eevil\u202c";
const ACTIVE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

test("an error text from the server is shown, not acted on, in text and in --json mode", async () => {
  const exp = makeExperiment(server.url, (c) => {
    c.request = { timeout_ms: 5_000, max_retries: 0 };
  });
  server.setFault({ kind: "status", status: 400, message: HOSTILE });
  try {
    const text = await runCli(["run", exp, "--iteration", "1", "--stage", "generate"]);
    assert.equal(text.code, 1, text.stderr);
    assert.match(text.stderr, /RED/, "the server's words are shown");
    assert.doesNotMatch(text.stderr, ACTIVE, JSON.stringify(text.stderr));
    assert.doesNotMatch(text.stdout, ACTIVE);
    assert.match(text.stderr, /\\u001b\[31mRED/, "the escape is made visible");

    const json = await runCli(["run", exp, "--iteration", "1", "--stage", "generate", "--json"]);
    assert.equal(json.code, 1, json.stderr);
    assert.doesNotMatch(json.stdout, ACTIVE, "no raw control or bidi character on stdout");
    assert.doesNotMatch(json.stderr, ACTIVE);
    const error = json.events.find((e) => e.type === "error");
    assert.ok(error, json.stdout);
    assert.match(String(error.message), /\x1b\[31mRED/, "JSON carries the exact text, escaped as JSON");
  } finally {
    server.setFault(null);
  }
});

test("`run --json | head -1`: the run stops as cancelled, quietly, keeping what it wrote", async () => {
  const slow = await startFakeOpenAI({ latencyMs: 40 });
  try {
    const exp = makeExperiment(slow.url, (c) => {
      c.concurrency = 2;
    });
    // A real pipe whose reader takes one line and goes away.
    const child = spawn(
      "bash",
      [
        "-c",
        `"${process.execPath}" "${CLI}" run "${exp}" --iteration 1 --stage generate --json | head -1; echo "status=\${PIPESTATUS[0]}" >&2`,
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    await new Promise((resolve) => child.on("close", resolve));
    assert.equal(stdout.trim().split("\n").length, 1, stdout);
    assert.equal(JSON.parse(stdout).type, "run-start");
    assert.match(stderr, /^status=141$/m, stderr);
    assert.doesNotMatch(stderr, /EPIPE|Error|\n\s+at /, `no stack trace: ${stderr}`);
    const manifest = JSON.parse(fs.readFileSync(path.join(exp, "iterations", "1", "manifest.json"), "utf8")) as {
      stages: Record<string, { state: string }>;
    };
    assert.equal(manifest.stages.generate?.state, "cancelled");
    // What was written is kept and a rerun finishes from there.
    const r = await runCli(["run", exp, "--iteration", "1", "--stage", "generate"], {});
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await slow.close();
  }
});

test("`status | true` (text mode, reader gone before the first line) exits 141 without a word", async () => {
  const exp = makeExperiment(server.url);
  const child = spawn(
    "bash",
    ["-c", `(sleep 0.5; exec "${process.execPath}" "${CLI}" status "${exp}") | true; echo "status=\${PIPESTATUS[0]}" >&2`],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  await new Promise((resolve) => child.on("close", resolve));
  assert.match(stderr, /^status=141$/m, stderr);
  assert.doesNotMatch(stderr, /EPIPE|Error|\n\s+at /, stderr);
});

test("validate refuses a file:// endpoint, naming file:line:col and what to write instead", async () => {
  const exp = makeExperiment("file:///etc/passwd");
  const r = await runCli(["validate", exp]);
  assert.equal(r.code, 1, r.stdout);
  const file = path.join(exp, "metajudge.json");
  const line =
    fs
      .readFileSync(file, "utf8")
      .split("\n")
      .findIndex((l) => l.includes('"base_url"')) + 1;
  assert.match(
    r.stdout,
    new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:${line}:\\d+: error: endpoint\\.base_url: .*http:// or https://`, "m"),
  );
});

test("a BOM, comments and trailing commas in metajudge.json and a BOM in prompts.jsonl are accepted", async () => {
  const exp = makeExperiment(server.url);
  const file = path.join(exp, "metajudge.json");
  const config = fs
    .readFileSync(file, "utf8")
    .replace('"concurrency": 8,', '"concurrency": 8, // requests in flight')
    .replace(/\n\}\s*$/, ",\n}\n");
  fs.writeFileSync(file, "\ufeff// experiment notes\n" + config.replace(/,(\n\})$/, "$1").replace(/(\n  \])(\n\}\n)$/, "$1,$2"));
  const prompts = path.join(exp, "prompts.jsonl");
  fs.writeFileSync(prompts, "\ufeff" + fs.readFileSync(prompts, "utf8"));
  const v = await runCli(["validate", exp]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /config, templates and prompts are valid/);
  const r = await runCli(["run", exp, "--iteration", "1", "--stage", "generate"]);
  assert.equal(r.code, 0, r.stderr);
});

test("a duplicate key in metajudge.json is refused by validate and by run, at the second key", async () => {
  const exp = makeExperiment(server.url);
  const file = path.join(exp, "metajudge.json");
  const text = fs.readFileSync(file, "utf8").replace('"concurrency": 8,', '"concurrency": 8,\n  "concurrency": 64,');
  fs.writeFileSync(file, text);
  const line = text.split("\n").findIndex((l) => l.includes('"concurrency": 64')) + 1;
  const v = await runCli(["validate", exp]);
  assert.equal(v.code, 1);
  assert.match(v.stdout, new RegExp(`metajudge\\.json:${line}:3: error: concurrency: duplicate key \\(first on line ${line - 1}\\)`));
  const r = await runCli(["run", exp, "--iteration", "1"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`metajudge\\.json:${line}:3: concurrency: duplicate key`));
});
