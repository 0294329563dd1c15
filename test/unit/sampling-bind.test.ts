// Sampling binds an iteration as its rubric does, also for manifests written before the manifest
// kept it (their config snapshot says what the iteration was sampled with), and every allowed change
// is kept in order rather than lost in the snapshot.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { openRun } from "../../src/core/pipeline/context.js";
import type { InputChange } from "../../src/core/schema.js";
import { makeExperiment } from "../support/cli.js";

const open = (dir: string, allowChangedInputs = false) =>
  openRun({ experimentDir: dir, iteration: 1, emit: () => {}, signal: new AbortController().signal, allowChangedInputs });

function setSampling(dir: string, role: string, patch: Record<string, unknown>): void {
  const file = path.join(dir, "metajudge.json");
  const c = JSON.parse(fs.readFileSync(file, "utf8")) as { roles: Record<string, { sampling: Record<string, unknown> }> };
  Object.assign(c.roles[role]!.sampling, patch);
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete c.roles[role]!.sampling[k];
  fs.writeFileSync(file, JSON.stringify(c, null, 2));
}

const manifestFile = (dir: string): string => path.join(dir, "iterations", "1", "manifest.json");
const readManifest = (dir: string) =>
  JSON.parse(fs.readFileSync(manifestFile(dir), "utf8")) as { sampling?: unknown; input_changes?: InputChange[] };

test("a manifest without sampling is checked against its config snapshot", async () => {
  const dir = makeExperiment("http://127.0.0.1:9/v1");
  (await open(dir)).store.close();
  const m = readManifest(dir);
  delete m.sampling;
  fs.writeFileSync(manifestFile(dir), JSON.stringify(m));
  setSampling(dir, "judge", { max_tokens: 256 });
  await assert.rejects(open(dir), /roles\.judge\.sampling\.max_tokens is 256 but this iteration started with 512/);
});

test("a seed removed is named as unset; allowed changes accumulate oldest first", async () => {
  const dir = makeExperiment("http://127.0.0.1:9/v1");
  (await open(dir)).store.close();
  setSampling(dir, "meta_judge", { seed: undefined });
  await assert.rejects(open(dir), /roles\.meta_judge\.sampling\.seed is unset but this iteration started with 3/);
  (await open(dir, true)).store.close();
  setSampling(dir, "actor", { n: 2, top_p: 0.5 });
  (await open(dir, true)).store.close();
  const changes = readManifest(dir).input_changes ?? [];
  assert.deepEqual(
    changes.map((c) => [c.field, c.from, c.to]),
    [
      ["roles.meta_judge.sampling.seed", 3, null],
      ["roles.actor.sampling.n", 4, 2],
      ["roles.actor.sampling.top_p", 0.95, 0.5],
    ],
  );
  // Nothing changed since: opening again adds nothing.
  (await open(dir)).store.close();
  assert.equal(readManifest(dir).input_changes?.length, 3);
});
