// SIGKILL the CLI in the middle of the judge stage, again and again, then resume: the records must
// be exactly those of an uninterrupted run against the same deterministic server.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { startFakeOpenAI, type FakeServer } from "../support/fake-openai.js";
import { collect, ensureBuilt, makeExperiment, readLines, runCli, spawnCli } from "../support/cli.js";

let server: FakeServer;

before(async () => {
  ensureBuilt();
  // Latency spread per request so completions interleave and a kill lands between and during writes.
  server = await startFakeOpenAI({ latencyMs: (req) => 5 + (JSON.stringify(req.messages).length % 37) });
});
after(() => server.close());

const RECORD_FILES = [
  "responses.jsonl",
  "judgements.jsonl",
  "meta_judgements.jsonl",
  "pairs.actor.jsonl",
  "pairs.judge.jsonl",
  "dpo.jsonl",
];

function makeBigExperiment(): string {
  const dir = makeExperiment(server.url, (c) => {
    c.roles.actor.sampling.n = 4;
    c.roles.judge.sampling.n = 6;
    c.concurrency = 6;
  });
  // 60 prompts: enough judge requests that several kills fit inside the stage.
  const lines = Array.from({ length: 60 }, (_, i) =>
    JSON.stringify({ id: `q${i}`, prompt: `Question ${i}: explain topic number ${i * 7} briefly.` }),
  );
  fs.writeFileSync(path.join(dir, "prompts.jsonl"), lines.join("\n") + "\n");
  return dir;
}

/** Records as a sorted list of canonical strings, so sets compare whatever order they were written in. */
function canonical(file: string): string[] {
  return readLines(file)
    .map((r) => JSON.stringify(r, Object.keys(r).sort()))
    .sort();
}

function idsUnique(file: string): void {
  const ids = readLines<{ id?: string }>(file)
    .map((r) => r.id)
    .filter((x) => x !== undefined);
  assert.equal(new Set(ids).size, ids.length, `duplicate ids in ${path.basename(file)}`);
}

test("killed with SIGKILL mid-judge several times, the resumed iteration equals an uninterrupted one", async () => {
  const reference = makeBigExperiment();
  const ref = await runCli(["run", reference, "--iteration", "1"]);
  assert.equal(ref.code, 0, ref.stderr);

  const crashed = makeBigExperiment();
  const judgements = path.join(crashed, "iterations", "1", "judgements.jsonl");
  const kills: number[] = [];
  const warnings: string[] = [];
  for (let attempt = 0; attempt < 4; attempt++) {
    const child = spawnCli(["run", crashed, "--iteration", "1", "--json"]);
    let killed = false;
    const res = await collect(child, (e) => {
      if (e.type === "warning") warnings.push(String(e.message));
      // Kill once this run has written a few more judgement groups than the last run left.
      if (!killed && e.type === "progress" && e.stage === "judge" && (e.done as number) > (kills.at(-1) ?? 0) + 40) {
        killed = true;
        kills.push(e.done as number);
        child.kill("SIGKILL");
      }
    });
    assert.equal(res.signal, "SIGKILL", `attempt ${attempt} should have been killed mid-judge: ${res.stderr}`);
    idsUnique(judgements);
    if (attempt === 1) {
      // A write cut in half by the kill: the next run must set it aside, not lose or duplicate it.
      fs.appendFileSync(judgements, '{"id":"q1:r0:j0","prompt_id":"q1","response_id":"q1:r0","index":0,"text":"Score: 4 — tor');
    }
  }
  assert.equal(kills.length, 4);
  assert.ok(
    kills.every((k, i) => i === 0 || k > kills[i - 1]!),
    `each resume made progress: ${kills.join(", ")}`,
  );

  const final = await runCli(["run", crashed, "--iteration", "1", "--json"]);
  assert.equal(final.code, 0, final.stderr);
  assert.ok(
    warnings.some((m) => m.includes("judgements.jsonl") && m.includes("torn")),
    `the torn line is reported: ${warnings.join(" | ")}`,
  );
  assert.ok(fs.readFileSync(`${judgements}.torn`, "utf8").includes("tor"), "its bytes are kept beside the file");

  for (const f of RECORD_FILES) {
    const a = path.join(reference, "iterations", "1", f);
    const b = path.join(crashed, "iterations", "1", f);
    idsUnique(b);
    const ra = canonical(a);
    const rb = canonical(b);
    assert.equal(rb.length, ra.length, `${f}: record count`);
    assert.deepEqual(rb, ra, `${f}: same records as the uninterrupted run`);
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(crashed, "iterations", "1", "manifest.json"), "utf8"));
  assert.equal(manifest.stages.judge.state, "done");
  assert.equal(manifest.stages.export.state, "done");
});

test("Ctrl-C (SIGINT) stops cleanly: exit 130, the stage marked cancelled, and the next run resumes", async () => {
  const dir = makeBigExperiment();
  const child = spawnCli(["run", dir, "--iteration", "1", "--json"]);
  let sent = false;
  const res = await collect(child, (e) => {
    if (!sent && e.type === "progress" && e.stage === "judge" && (e.done as number) > 30) {
      sent = true;
      child.kill("SIGINT");
    }
  });
  assert.equal(res.code, 130, res.stderr);
  assert.match(res.stderr, /cancelled; run the same command again to resume/);
  const iter = path.join(dir, "iterations", "1");
  const manifest = JSON.parse(fs.readFileSync(path.join(iter, "manifest.json"), "utf8"));
  assert.equal(manifest.stages.generate.state, "done");
  assert.equal(manifest.stages.judge.state, "cancelled");
  const partial = readLines(path.join(iter, "judgements.jsonl")).length;
  assert.ok(partial > 0 && partial < manifest.stages.judge.counts.expected, `partial judge stage: ${partial}`);
  assert.equal(manifest.stages.judge.counts.records, partial, "the manifest counts what is on disk");
  const again = await runCli(["run", dir, "--iteration", "1"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /judge: [\d,]+\/[\d,]+ on disk, resuming/);
  idsUnique(path.join(iter, "judgements.jsonl"));
});
