// Guards that keep the derived files and an iteration's inputs honest, through the bundled CLI
// against a chat-completions server on 127.0.0.1: export refuses to replace dpo.jsonl from nothing,
// a stale export is shown, sampling binds an iteration, batch write never lands on the experiment's
// own files, and dpo.jsonl is always valid UTF-8.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { defaultAnswer, startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { runBatch } from "../support/batch-runner.js";
import { ensureBuilt, makeExperiment, readLines, runCli, tmpDir } from "../support/cli.js";

let server: FakeServer;
before(async () => {
  ensureBuilt();
  server = await startFakeOpenAI({ latencyMs: 1 });
});
after(() => server.close());

const sha = (f: string): string => crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex");
const iterOf = (exp: string): string => path.join(exp, "iterations", "1");

type StatusJson = {
  iterations: { iteration: number; stages: Record<string, { state: string; stale?: boolean; stale_reason?: string }> }[];
};
async function exportStatus(exp: string): Promise<{ state: string; stale?: boolean; stale_reason?: string }> {
  const r = await runCli(["status", exp, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as StatusJson).iterations[0]!.stages.export!;
}

test("export without the pair files keeps the old dpo.jsonl and says to run pairs; --allow-empty writes an empty one", async () => {
  const exp = makeExperiment(server.url);
  const iter = iterOf(exp);
  assert.equal((await runCli(["run", exp, "--iteration", "1", "--until", "metajudge"])).code, 0);
  const dpo = path.join(iter, "dpo.jsonl");
  const old = '{"prompt":[{"role":"user","content":"kept"}],"chosen":[],"rejected":[],"kind":"actor","source_ids":{}}\n';
  fs.writeFileSync(dpo, old);

  const e = await runCli(["export", iter]);
  assert.equal(e.code, 1, e.stdout + e.stderr);
  assert.match(e.stderr, /pairs\.actor\.jsonl/);
  assert.match(e.stderr, /run `metajudge pairs /);
  assert.equal(fs.readFileSync(dpo, "utf8"), old, "the old dpo.jsonl is kept byte for byte");

  // The pipeline's export stage refuses the same way (the editor's Export runs the CLI's export).
  const s = await runCli(["run", exp, "--iteration", "1", "--stage", "export"]);
  assert.equal(s.code, 1, s.stderr);
  assert.match(s.stderr, /pairs\.actor\.jsonl.*run `metajudge pairs /);
  assert.equal(fs.readFileSync(dpo, "utf8"), old);

  // Only the judge pair file missing: still refused, naming that file.
  fs.writeFileSync(path.join(iter, "pairs.actor.jsonl"), "");
  const j = await runCli(["export", iter]);
  assert.equal(j.code, 1);
  assert.match(j.stderr, /pairs\.judge\.jsonl/);
  assert.equal(fs.readFileSync(dpo, "utf8"), old);
  fs.rmSync(path.join(iter, "pairs.actor.jsonl"));

  const a = await runCli(["export", iter, "--allow-empty", "--json"]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(fs.readFileSync(dpo, "utf8"), "");
});

test("an export is stale once pairs are recomputed to something else, or dpo.jsonl is gone; re-export makes it fresh", async () => {
  const exp = makeExperiment(server.url);
  const iter = iterOf(exp);
  assert.equal((await runCli(["run", exp, "--iteration", "1"])).code, 0);
  assert.equal((await exportStatus(exp)).stale, false);

  // Recomputing to the same pairs does not make the export stale.
  assert.equal((await runCli(["pairs", iter])).code, 0);
  assert.equal((await exportStatus(exp)).stale, false);

  // A flag changes the judge pairs: the export no longer matches them.
  const pair = readLines<{ chosen_id: string }>(path.join(iter, "pairs.judge.jsonl"))[0]!;
  fs.appendFileSync(
    path.join(iter, "annotations.jsonl"),
    JSON.stringify({ target_id: pair.chosen_id, label: "suspicious", note: "", created_at: new Date().toISOString() }) + "\n",
  );
  assert.equal((await runCli(["pairs", iter])).code, 0);
  const st = await exportStatus(exp);
  assert.equal(st.stale, true);
  assert.match(st.stale_reason ?? "", /pairs changed after the export/);
  const text = await runCli(["status", exp]);
  assert.match(text.stdout, /export\s+stale/);
  assert.match(text.stdout, /pairs changed after the export; re-export/);

  assert.equal((await runCli(["export", iter])).code, 0);
  assert.equal((await exportStatus(exp)).stale, false);

  fs.rmSync(path.join(iter, "dpo.jsonl"));
  const gone = await exportStatus(exp);
  assert.equal(gone.stale, true);
  assert.match(gone.stale_reason ?? "", /dpo\.jsonl is missing/);

  assert.equal((await runCli(["export", iter])).code, 0);
  fs.appendFileSync(path.join(iter, "dpo.jsonl"), "\n");
  assert.match((await exportStatus(exp)).stale_reason ?? "", /dpo\.jsonl changed after the export/);
});

test("a sampling change is refused on resume, allowed with --allow-changed-inputs and recorded; records keep their sampling", async () => {
  const exp = makeExperiment(server.url);
  const iter = iterOf(exp);
  const configFile = path.join(exp, "metajudge.json");
  assert.equal((await runCli(["run", exp, "--iteration", "1", "--until", "generate"])).code, 0);
  const responses = path.join(iter, "responses.jsonl");
  const before = fs.readFileSync(responses);

  const c = JSON.parse(fs.readFileSync(configFile, "utf8")) as { roles: { actor: { sampling: Record<string, number> } } };
  c.roles.actor.sampling.temperature = 0.5;
  fs.writeFileSync(configFile, JSON.stringify(c, null, 2));
  const r = await runCli(["run", exp, "--iteration", "1", "--until", "judge"]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /roles\.actor\.sampling\.temperature is 0\.5 but this iteration started with 0\.8/);
  assert.match(r.stderr, /manifest\.json/);
  assert.match(r.stderr, /--allow-changed-inputs/);
  assert.ok(fs.readFileSync(responses).equals(before));
  assert.ok(!fs.existsSync(path.join(iter, "judgements.jsonl")) || fs.statSync(path.join(iter, "judgements.jsonl")).size === 0);

  const ok = await runCli(["run", exp, "--iteration", "1", "--until", "judge", "--allow-changed-inputs"]);
  assert.equal(ok.code, 0, ok.stderr);
  const m = JSON.parse(fs.readFileSync(path.join(iter, "manifest.json"), "utf8")) as {
    sampling: Record<string, { temperature: number }>;
    input_changes: { at: string; field: string; from: unknown; to: unknown }[];
  };
  assert.equal(m.sampling.actor!.temperature, 0.5);
  const change = m.input_changes.find((x) => x.field === "roles.actor.sampling.temperature");
  assert.deepEqual([change?.from, change?.to], [0.8, 0.5]);
  assert.ok(change?.at);

  // The change is now the iteration's sampling: a further resume needs no flag.
  assert.equal((await runCli(["run", exp, "--iteration", "1", "--until", "judge"])).code, 0);

  for (const rec of readLines<{ sampling?: Record<string, number> }>(responses)) {
    assert.deepEqual(rec.sampling, { n: 4, temperature: 0.8, top_p: 0.95, max_tokens: 1024 });
  }
  const judgements = readLines<{ sampling?: Record<string, number> }>(path.join(iter, "judgements.jsonl"));
  assert.ok(judgements.length > 0);
  for (const rec of judgements) assert.deepEqual(rec.sampling, { n: 5, temperature: 0.8, top_p: 0.95, max_tokens: 512 });
});

test("records joined from batch results carry their sampling too", async () => {
  const exp = makeExperiment(server.url);
  const work = tmpDir("guard-batch");
  const requests = path.join(work, "requests.jsonl");
  const results = path.join(work, "results.jsonl");
  assert.equal((await runCli(["batch", "write", exp, "--iteration", "1", "--stage", "generate", requests])).code, 0);
  await runBatch(server.url, requests, results);
  const r = await runCli(["batch", "read", exp, "--iteration", "1", "--stage", "generate", results]);
  assert.equal(r.code, 0, r.stderr);
  const recs = readLines<{ sampling?: Record<string, number> }>(path.join(iterOf(exp), "responses.jsonl"));
  assert.ok(recs.length > 0);
  for (const rec of recs) assert.deepEqual(rec.sampling, { n: 4, temperature: 0.8, top_p: 0.95, max_tokens: 1024 });
});

test("batch write refuses to write over the experiment's own files, which stay unchanged", async () => {
  const exp = makeExperiment(server.url);
  const iter = iterOf(exp);
  assert.equal((await runCli(["run", exp, "--iteration", "1", "--until", "generate"])).code, 0);
  const link = path.join(tmpDir("guard-link"), "requests.jsonl");
  fs.symlinkSync(path.join(exp, "metajudge.json"), link);
  const targets = [
    path.join(iter, "responses.jsonl"),
    path.join(iter, "manifest.json"),
    path.join(exp, "metajudge.json"),
    path.join(exp, "prompts", "judge.md"),
    path.join(exp, "prompts.jsonl"),
    path.join(exp, "metajudge.schema.json"),
    link,
  ];
  for (const t of targets) {
    const was = sha(t);
    const r = await runCli(["batch", "write", exp, "--iteration", "1", "--stage", "judge", t]);
    assert.equal(r.code, 1, `${t}: ${r.stderr}`);
    assert.match(r.stderr, /refusing to write the batch over .*: it is the experiment's own/, t);
    assert.equal(sha(t), was, `${t} unchanged`);
  }
  // Not even a new file inside the iteration folder, which is the records' alone.
  const inside = path.join(iter, "judge.requests.jsonl");
  const r = await runCli(["batch", "write", exp, "--iteration", "1", "--stage", "judge", inside]);
  assert.equal(r.code, 1);
  assert.ok(!fs.existsSync(inside));
  // A file of its own beside the experiment is fine, and no temporary file is left behind.
  const own = path.join(exp, "judge.requests.jsonl");
  const ok = await runCli(["batch", "write", exp, "--iteration", "1", "--stage", "judge", own]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(readLines(own).length > 0);
  assert.deepEqual(
    fs.readdirSync(exp).filter((f) => f.includes(".tmp")),
    [],
  );
});

test("lone surrogates in responses reach dpo.jsonl as U+FFFD, valid UTF-8 that Python reads, and are reported", async () => {
  const lone = await startFakeOpenAI({
    latencyMs: 1,
    respond: (req, i) => {
      const text = defaultAnswer(req, i);
      const last = req.messages.at(-1)?.content ?? "";
      const actor = !/Score:|additive 5-point|Judg(e?)ment A/.test(last);
      // A model cut mid-emoji: half a surrogate pair, each kind.
      return actor ? `${text} \ud83d end ${i % 2 ? "\ude00" : ""}` : text;
    },
  });
  try {
    const exp = makeExperiment(lone.url);
    const iter = iterOf(exp);
    const r = await runCli(["run", exp, "--iteration", "1", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const warning = r.events.find((e) => e.type === "warning" && /surrogate/.test(String(e.message)));
    assert.ok(warning, "the run warns about replaced surrogates");
    assert.match(String(warning.message), /U\+FFFD/);
    assert.match(String(warning.message), /starter-\d+:r\d/, "it names source ids");
    const dpoFile = path.join(iter, "dpo.jsonl");
    const dpo = readLines<{ chosen: { content: string }[] }>(dpoFile);
    assert.ok(dpo.length > 0);
    assert.ok(dpo.some((d) => d.chosen[0]!.content.includes("\ufffd")));

    const e = await runCli(["export", iter, "--json"]);
    assert.equal(e.code, 0, e.stderr);
    const res = JSON.parse(e.stdout.trim().split("\n").at(-1)!) as { counts: { surrogates_replaced: number } };
    assert.ok(res.counts.surrogates_replaced > 0);
    assert.match(e.stderr, /lone UTF-16 surrogate/);

    // What TRL's loader does: json.loads each line, then encode every string as UTF-8.
    const py = [
      "import json,sys",
      "n=0",
      "def walk(v):",
      "  if isinstance(v,str): v.encode('utf-8')",
      "  elif isinstance(v,dict): [walk(x) for x in v.values()]",
      "  elif isinstance(v,list): [walk(x) for x in v]",
      "for line in open(sys.argv[1],encoding='utf-8'):",
      "  walk(json.loads(line)); n+=1",
      "print(n)",
    ].join("\n");
    assert.equal(execFileSync("python3", ["-c", py, dpoFile], { encoding: "utf8" }).trim(), String(dpo.length));
  } finally {
    await lone.close();
  }
});
