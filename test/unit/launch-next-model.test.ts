// Recording the trained checkpoint in metajudge.json: one property edited, the rest of the user's
// file byte for byte as it was.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { setIterationModels } from "../../src/core/remote/launch/next-model.js";
import { MetajudgeError } from "../../src/core/errors.js";
import { checkConfigText } from "../../src/core/config.js";

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function withConfig(text: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "mj-next-"));
  dirs.push(d);
  fs.writeFileSync(path.join(d, "metajudge.json"), text);
  return d;
}
const read = (d: string): string => fs.readFileSync(path.join(d, "metajudge.json"), "utf8");
const M = { actor: "/ckpt", judge: "/ckpt", meta_judge: "/ckpt" };

describe("setIterationModels", () => {
  it("appends iteration t+1 after the last entry, copying its settings, in the file's tabs and CRLF", () => {
    const text =
      '{\r\n\t"name": "x",\r\n\t"iterations": [\r\n\t\t{ "rho": 0.32, "train_judge_pairs": false, "models": { "actor": "old" } }\r\n\t],\r\n\t"concurrency": 4\r\n}\r\n';
    const d = withConfig(text);
    setIterationModels(d, 2, M);
    const out = read(d);
    assert.ok(
      out.startsWith(
        '{\r\n\t"name": "x",\r\n\t"iterations": [\r\n\t\t{ "rho": 0.32, "train_judge_pairs": false, "models": { "actor": "old" } },\r\n\t\t{\r\n\t\t\t"rho": 0.32,',
      ),
      out,
    );
    assert.ok(out.endsWith('\r\n\t],\r\n\t"concurrency": 4\r\n}\r\n'));
    const parsed = JSON.parse(out) as { iterations: Record<string, unknown>[] };
    assert.deepEqual(parsed.iterations[1], { rho: 0.32, train_judge_pairs: false, models: M });
  });

  it("sets the models of an iteration that is already listed, leaving the other entries alone", () => {
    const text = '{\n  "iterations": [\n    { "rho": 0 },\n    { "rho": 0.4, "judgement_length_cap": 1000 }\n  ]\n}\n';
    const d = withConfig(text);
    setIterationModels(d, 2, M);
    const out = read(d);
    assert.ok(out.startsWith('{\n  "iterations": [\n    { "rho": 0 },\n'));
    assert.deepEqual((JSON.parse(out) as { iterations: unknown[] }).iterations[1], { rho: 0.4, judgement_length_cap: 1000, models: M });
  });

  it("keeps comments, trailing commas and a BOM byte for byte around the one value it changes", () => {
    const head =
      '\ufeff// experiment of 3 June: judge rubric v2\n{\n  "name": "x", // short name\n  /* iterations: rho from the paper */\n  "iterations": [\n    { "rho": 0 }, // seed\n    {\n      "rho": 0.32,\n      // filled in by training\n      "models": { "actor": "old" },\n    },\n';
    const tail = '  ],\n  "concurrency": 4, // keep low\n}\n';
    const d = withConfig(head + tail);
    setIterationModels(d, 2, M);
    const out = read(d);
    assert.ok(out.startsWith(head.slice(0, head.indexOf('"models"'))), out);
    assert.ok(out.endsWith(",\n    },\n" + tail), out);
    assert.match(out, /"models": \{\s*"actor": "\/ckpt",\s*"judge": "\/ckpt",\s*"meta_judge": "\/ckpt"\s*\}/);
    setIterationModels(d, 3, M);
    const again = read(d);
    assert.ok(again.startsWith(head.slice(0, head.indexOf('"models"'))), again);
    assert.ok(again.endsWith('  ],\n  "concurrency": 4, // keep low\n}\n'), again);
    const cfg = checkConfigText(again.replace(/^\ufeff/, ""), "m.json");
    assert.equal(cfg.problems.filter((p) => /syntax|duplicate/.test(p.message)).length, 0, JSON.stringify(cfg.problems));
  });

  it("appends below a line comment that ends the last entry, not inside it", () => {
    for (const [last, expected, tail] of [
      ['    { "rho": 0 } // seed\n', '    { "rho": 0 }, // seed\n    {\n', "}\n  ]\n}\n"],
      ['    { "rho": 0 }, // seed\n', '    { "rho": 0 }, // seed\n    {\n', "},\n  ]\n}\n"],
    ] as const) {
      const d = withConfig('{\n  "iterations": [\n' + last + "  ]\n}\n");
      setIterationModels(d, 2, M);
      const out = read(d);
      assert.ok(out.startsWith('{\n  "iterations": [\n' + expected), out);
      assert.ok(out.endsWith(tail), out);
    }
  });

  it("refuses a gap in the iterations list", () => {
    const d = withConfig('{ "iterations": [ { "rho": 0 } ] }');
    assert.throws(
      () => setIterationModels(d, 3, M),
      (e: unknown) => e instanceof MetajudgeError && e.reason === "badInput" && /lists 1 entries/.test(e.message),
    );
  });

  it("on a full disk names metajudge.json and what to do, keeps the file as it was and leaves no temporary file", (t) => {
    const mnt = fs.mkdtempSync(path.join(os.tmpdir(), "mj-next-full-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt], { stdio: "pipe" });
    } catch {
      fs.rmSync(mnt, { recursive: true, force: true });
      t.skip("mount -t tmpfs is not permitted here (needs root); the full-disk case cannot run");
      return;
    }
    try {
      // A long config, so the edited copy cannot fit in what is left.
      const text = '{\n  "iterations": [\n    { "rho": 0, "note": "' + "x".repeat(16 * 1024) + '" }\n  ]\n}\n';
      fs.writeFileSync(path.join(mnt, "metajudge.json"), text);
      const free = fs.statfsSync(mnt);
      fs.writeFileSync(path.join(mnt, "filler"), Buffer.alloc(Math.max(0, Number(free.bavail) * Number(free.bsize) - 4096)));
      assert.throws(
        () => setIterationModels(mnt, 2, M),
        (e: unknown) =>
          e instanceof MetajudgeError &&
          /metajudge\.json: no space left on device \(ENOSPC\) while writing; free space and run again \(the previous version of the file is kept\)/.test(
            e.message,
          ),
      );
      assert.equal(fs.readFileSync(path.join(mnt, "metajudge.json"), "utf8"), text);
      assert.deepEqual(fs.readdirSync(mnt).sort(), ["filler", "metajudge.json"]);
    } finally {
      execFileSync("umount", [mnt]);
      fs.rmSync(mnt, { recursive: true, force: true });
    }
  });
});
