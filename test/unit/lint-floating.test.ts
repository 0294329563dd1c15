// In src a promise is awaited or marked `void` on purpose: one left floating is a lint error.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { ESLint } from "eslint";

const root = path.join(__dirname, "..", "..");

test("the linter rejects a floating promise under src and accepts one marked void", async () => {
  const eslint = new ESLint({ cwd: root });
  const lint = async (body: string) => {
    const code = `async function later(): Promise<number> {\n  return 1;\n}\nexport function now(): void {\n  ${body}\n}\n`;
    const [r] = await eslint.lintText(code, { filePath: path.join(root, "src/core/probe.ts") });
    assert.deepEqual(
      r!.messages.filter((m) => m.fatal),
      [],
      "the probe is parsed with type information",
    );
    return r!.messages.filter((m) => m.ruleId === "@typescript-eslint/no-floating-promises");
  };
  assert.equal((await lint("later();")).length, 1);
  assert.equal((await lint("later().then((n) => n + 1);")).length, 1);
  assert.deepEqual(await lint("void later();"), []);
  assert.deepEqual(await lint("later().catch(() => undefined);"), []);
});
