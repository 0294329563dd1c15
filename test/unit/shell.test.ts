// quote() is the one thing standing between a value and remote shell syntax: every case goes through
// a real /bin/sh and must come back byte for byte, with nothing executed on the way.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { command, quote, remotePath } from "../../src/core/remote/shell.js";

const cases: [string, string][] = [
  ["empty", ""],
  ["plain word", "model.jsonl"],
  ["spaces", "a b  c"],
  ["single quote", "it's"],
  ["only quotes", "'''"],
  ["double quotes", 'say "hi"'],
  ["command substitution", "$(touch pwned)"],
  ["backticks", "`touch pwned`"],
  ["variable", "$HOME ${PATH}"],
  ["newlines", "line1\nline2\n"],
  ["glob", "*"],
  ["leading dash", "-rf"],
  ["leading tilde", "~/x"],
  ["semicolon and pipe", "a; b | c && d"],
  ["backslashes", "a\\b\\\\"],
  ["unicode", "modèle—日本語 🚀"],
  ["tab", "a\tb"],
];

function sh(script: string, cwd: string): string {
  return execFileSync("/bin/sh", ["-c", script], { cwd, encoding: "utf8" });
}

describe("quote", () => {
  for (const [name, value] of cases) {
    it(`round-trips through /bin/sh: ${name}`, () => {
      const dir = mkdtempSync(join(tmpdir(), "mj-quote-"));
      try {
        assert.equal(sh(`printf %s ${quote(value)}`, dir), value);
        assert.deepEqual(readdirSync(dir), [], "nothing was executed");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("keeps a safe word readable and quotes anything else", () => {
    assert.equal(quote("data/pairs.jsonl"), "data/pairs.jsonl");
    assert.equal(quote("it's"), `'it'\\''s'`);
    assert.equal(quote(""), "''");
    assert.equal(quote("-n"), "'-n'");
  });
});

describe("command", () => {
  it("passes every word as one argument", () => {
    const dir = mkdtempSync(join(tmpdir(), "mj-cmd-"));
    try {
      const words = cases.map(([, v]) => v);
      const out = sh(`${command(["printf", "%s\\0", ...words])}`, dir);
      assert.deepEqual(out.split("\0").slice(0, -1), words);
      assert.equal(existsSync(join(dir, "pwned")), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("remotePath", () => {
  const table: [string, string, string][] = [
    ["~", "/home/u", "/home/u"],
    ["~/", "/home/u", "/home/u/"],
    ["~/metajudge/jobs", "/home/u", "/home/u/metajudge/jobs"],
    ["~/x", "/home/u/", "/home/u/x"],
    ["/abs/path", "/home/u", "/abs/path"],
    ["rel/path", "/home/u", "rel/path"],
    ["~other/x", "/home/u", "~other/x"],
    ["a/~/b", "/home/u", "a/~/b"],
  ];
  for (const [p, home, want] of table) it(`${JSON.stringify(p)} -> ${want}`, () => assert.equal(remotePath(p, home), want));
});
