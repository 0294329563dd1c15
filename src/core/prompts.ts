// The prompt set. Every problem is reported as file:line so the fix is one click away.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { MetajudgeError } from "./errors.js";
import { readJsonl, type LineProblem } from "./store/jsonl.js";
import type { PromptRecord } from "./schema.js";

export interface PromptSet {
  file: string;
  prompts: PromptRecord[];
  sha256: string;
}

export async function checkPrompts(file: string): Promise<{ set?: PromptSet; problems: LineProblem[] }> {
  if (!fs.existsSync(file)) {
    return { problems: [{ file, line: 0, message: 'prompt file not found; set "prompts" in metajudge.json' }] };
  }
  const prompts: PromptRecord[] = [];
  const seen = new Map<string, number>();
  const problems: LineProblem[] = [];
  const summary = await readJsonl(
    file,
    (value, line) => {
      const rec = value as Record<string, unknown>;
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        problems.push({ file, line, message: 'each line must be a JSON object with "id" and "prompt"' });
        return;
      }
      // Integer ids are common in published prompt sets; the data contract keeps ids as strings.
      const id = typeof rec.id === "number" && Number.isInteger(rec.id) ? String(rec.id) : rec.id;
      if (typeof id !== "string" || id === "") {
        problems.push({ file, line, message: '"id" must be a non-empty string' });
        return;
      }
      if (typeof rec.prompt !== "string" || rec.prompt.trim() === "") {
        problems.push({ file, line, message: `prompt ${JSON.stringify(id)}: "prompt" must be a non-empty string` });
        return;
      }
      const before = seen.get(id);
      if (before !== undefined) {
        problems.push({ file, line, message: `duplicate id ${JSON.stringify(id)} (first on line ${before})` });
        return;
      }
      seen.set(id, line);
      prompts.push({ ...rec, id, prompt: rec.prompt });
    },
    { strict: false },
  );
  problems.push(...summary.problems);
  problems.sort((a, b) => a.line - b.line);
  if (problems.length > 0) return { problems };
  if (prompts.length === 0) return { problems: [{ file, line: 1, message: "no prompts in file" }] };
  const sha256 = crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
  return { set: { file, prompts, sha256 }, problems };
}

export async function loadPrompts(file: string): Promise<PromptSet> {
  const { set, problems } = await checkPrompts(file);
  if (set) return set;
  const p = problems[0]!;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
  throw new MetajudgeError("badInput", `${p.file}:${p.line}: ${p.message}${more}`, { file: p.file, line: p.line });
}
