// Bad input and failing endpoints: each ends with one clear line naming the file:line or the URL,
// a non-zero exit, and nothing already on disk lost.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { ensureBuilt, makeExperiment, runCli } from "../support/cli.js";

let server: FakeServer;

before(async () => {
  ensureBuilt();
  server = await startFakeOpenAI({ latencyMs: 1 });
});
after(() => server.close());

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name !== "manifest.json") out[path.relative(dir, p)] = fs.readFileSync(p, "utf8");
    }
  };
  walk(dir);
  return out;
}

/** Everything that was on disk is still there, byte for byte (files may only have grown). */
function assertNothingLost(before: Record<string, string>, dir: string): void {
  const now = snapshot(dir);
  for (const [f, text] of Object.entries(before)) {
    assert.ok(now[f] !== undefined, `${f} still exists`);
    assert.ok(now[f]!.startsWith(text), `${f} kept its content`);
  }
}

async function generated(): Promise<string> {
  const exp = makeExperiment(server.url);
  const r = await runCli(["run", exp, "--iteration", "1", "--stage", "generate"]);
  assert.equal(r.code, 0, r.stderr);
  return exp;
}

const lastLine = (s: string): string => s.trim().split("\n").at(-1) ?? "";

test("a malformed line in prompts.jsonl names file:line, and the run touches nothing", async () => {
  const exp = await generated();
  const before = snapshot(exp);
  const prompts = path.join(exp, "prompts.jsonl");
  const lines = fs.readFileSync(prompts, "utf8").split("\n");
  lines[2] = '{"id": "starter-03", "prompt": "unterminated}';
  fs.writeFileSync(prompts, lines.join("\n"));
  const r = await runCli(["run", exp, "--iteration", "1"]);
  assert.equal(r.code, 1);
  assert.match(lastLine(r.stderr), new RegExp(`^metajudge: ${prompts.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3: not valid JSON`));
  delete before["prompts.jsonl"];
  assertNothingLost(before, exp);
});

test("a config that fails the schema is reported at its line and column", async () => {
  const exp = makeExperiment(server.url, (c) => {
    (c as unknown as { concurrency: unknown }).concurrency = "lots";
  });
  const file = path.join(exp, "metajudge.json");
  const line =
    fs
      .readFileSync(file, "utf8")
      .split("\n")
      .findIndex((l) => l.includes('"concurrency"')) + 1;
  const r = await runCli(["run", exp, "--iteration", "1"]);
  assert.equal(r.code, 1);
  assert.match(lastLine(r.stderr), new RegExp(`metajudge\\.json:${line}:3: concurrency: .*expected number`));
  const v = await runCli(["validate", exp]);
  assert.equal(v.code, 1);
  assert.match(v.stdout, new RegExp(`metajudge\\.json:${line}:3: error: concurrency`));
});

test("an unknown template variable is reported at line:column with a suggestion", async () => {
  const exp = await generated();
  const before = snapshot(exp);
  const judge = path.join(exp, "prompts", "judge.md");
  const src = fs.readFileSync(judge, "utf8").replace("{{response}}", "{{respnse}}");
  fs.writeFileSync(judge, src);
  const lines = src.split("\n");
  const line = lines.findIndex((l) => l.includes("{{respnse}}")) + 1;
  const column = lines[line - 1]!.indexOf("{{respnse}}") + 1;
  const r = await runCli(["run", exp, "--iteration", "1"]);
  assert.equal(r.code, 1);
  assert.ok(lastLine(r.stderr).includes(`judge.md:${line}:${column}`), r.stderr);
  assert.match(lastLine(r.stderr), /unknown variable \{\{respnse\}\}: did you mean \{\{response\}\}/);
  const v = await runCli(["validate", exp, "--json"]);
  const findings = (JSON.parse(v.stdout) as { findings: { file: string; line: number; column: number; message: string }[] }).findings;
  assert.ok(findings.some((f) => f.file === judge && f.line === line && f.column === column));
  delete before["prompts/judge.md"];
  assertNothingLost(before, exp);
});

test("an unreachable endpoint: the URL is named and records on disk are kept", async () => {
  const exp = await generated();
  const before = snapshot(exp);
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const cfgFile = path.join(exp, "metajudge.json");
  const cfg = JSON.parse(fs.readFileSync(cfgFile, "utf8"));
  cfg.endpoint.base_url = `http://127.0.0.1:${port}/v1`;
  cfg.request.max_retries = 1;
  fs.writeFileSync(cfgFile, JSON.stringify(cfg, null, 2));
  const r = await runCli(["run", exp, "--iteration", "1", "--json"]);
  assert.equal(r.code, 1);
  assert.ok(lastLine(r.stderr).includes(`http://127.0.0.1:${port}/v1`), r.stderr);
  const err = r.events.find((e) => e.type === "error");
  assert.equal(err?.reason, "refused");
  const manifest = JSON.parse(fs.readFileSync(path.join(exp, "iterations", "1", "manifest.json"), "utf8"));
  assert.equal(manifest.stages.judge.state, "failed");
  assert.ok(manifest.stages.judge.error.includes(`127.0.0.1:${port}`));
  delete before["metajudge.json"];
  assertNothingLost(before, exp);
});

test("a server that always answers 500: retried, then a clear failure; a later run resumes", async () => {
  const exp = await generated();
  const judged = await runCli(["run", exp, "--iteration", "1", "--stage", "judge"]);
  assert.equal(judged.code, 0);
  const before = snapshot(exp);
  const cfgFile = path.join(exp, "metajudge.json");
  const cfg = JSON.parse(fs.readFileSync(cfgFile, "utf8"));
  cfg.request.max_retries = 2;
  fs.writeFileSync(cfgFile, JSON.stringify(cfg, null, 2));
  server.setFault({ kind: "status", status: 500 });
  const start = server.stats.requests;
  let r;
  try {
    r = await runCli(["run", exp, "--iteration", "1", "--stage", "metajudge", "--json"]);
  } finally {
    server.setFault(null);
  }
  assert.equal(r.code, 1);
  assert.ok(server.stats.requests - start >= 3, "each request was tried 1 + max_retries times");
  assert.ok(lastLine(r.stderr).includes(server.url), r.stderr);
  assert.match(lastLine(r.stderr), /500/);
  assert.equal(r.events.find((e) => e.type === "error")?.reason, "server");
  delete before["metajudge.json"];
  assertNothingLost(before, exp);
  const resumed = await runCli(["run", exp, "--iteration", "1", "--stage", "metajudge"]);
  assert.equal(resumed.code, 0, resumed.stderr);
});

test("a changed rubric is not silently mixed into a half-done iteration", async () => {
  const exp = await generated();
  fs.appendFileSync(path.join(exp, "prompts", "judge.md"), "\nBe strict.\n");
  const r = await runCli(["run", exp, "--iteration", "1"]);
  assert.equal(r.code, 1);
  assert.match(lastLine(r.stderr), /judge\.md \(judge template\) changed since this iteration started/);
  const ok = await runCli(["run", exp, "--iteration", "1", "--stage", "judge", "--allow-changed-inputs"]);
  assert.equal(ok.code, 0, ok.stderr);
});

test("usage errors exit 2 with a pointer to --help", async () => {
  for (const args of [["run", "x"], ["frobnicate"], ["run", "x", "--iteration", "1", "--stage", "nope"], ["run", "x", "--bogus"]]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, /metajudge --help/);
  }
  const h = await runCli(["--help"]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /metajudge run <experiment-dir> --iteration <t>/);
});
