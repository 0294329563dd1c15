// Recording a trained checkpoint as the next iteration's model in metajudge.json. The file is the
// user's: jsonc-parser edits just the one property, so comments, order and formatting survive.
import * as fs from "node:fs";
import * as path from "node:path";
import { applyEdits, findNodeAtLocation, modify, parse, parseTree } from "jsonc-parser";
import { CONFIG_FILE } from "../../config.js";
import { MetajudgeError } from "../../errors.js";
import { writeFileAtomic } from "../../fs-atomic.js";

export interface ModelSet {
  actor: string;
  judge: string;
  meta_judge: string;
}

/**
 * Sets iterations[next - 1].models; when the list has no entry for iteration `next`, appends one
 * copying the selection settings of the iteration before it.
 */
export function setIterationModels(experimentDir: string, next: number, models: ModelSet): void {
  const file = path.join(experimentDir, CONFIG_FILE);
  const text = fs.readFileSync(file, "utf8");
  const tree = parse(text) as { iterations?: unknown[] } | undefined;
  const list = Array.isArray(tree?.iterations) ? tree.iterations : undefined;
  if (!list) throw new MetajudgeError("badInput", `${file}: no "iterations" list to record the trained model in`, { file });
  const options = { formattingOptions: detectFormatting(text) };
  let out = text;
  if (list.length >= next) {
    out = applyEdits(out, modify(out, ["iterations", next - 1, "models"], models, options));
  } else if (list.length === next - 1) {
    const previous = list[next - 2];
    const copy = previous && typeof previous === "object" ? { ...(previous as Record<string, unknown>) } : {};
    delete copy.models;
    out =
      appendEntry(out, { ...copy, models }, options.formattingOptions) ??
      applyEdits(out, modify(out, ["iterations", -1], { ...copy, models }, { ...options, isArrayInsertion: true }));
  } else {
    throw new MetajudgeError(
      "badInput",
      `${file}: "iterations" lists ${list.length} entries; cannot record a model for iteration ${next}`,
      { file },
    );
  }
  writeFileAtomic(file, out);
}

/**
 * Appends after the last entry, indented as it is. jsonc-parser's own insertion reformats the line
 * it lands on, which would unfold a one-line entry the user wrote.
 */
function appendEntry(text: string, entry: unknown, f: { insertSpaces: boolean; tabSize: number; eol: string }): string | undefined {
  const tree = parseTree(text);
  const list = tree && findNodeAtLocation(tree, ["iterations"]);
  const last = list?.children?.[list.children.length - 1];
  if (!last) return undefined;
  const indent = text.slice(text.lastIndexOf("\n", last.offset) + 1, last.offset);
  if (!/^[ \t]*$/.test(indent)) return undefined;
  const unit = f.insertSpaces ? " ".repeat(f.tabSize) : "\t";
  const body = JSON.stringify(entry, null, unit)
    .split("\n")
    .join(f.eol + indent);
  const at = last.offset + last.length;
  // A line comment after the last entry belongs to it: the new entry goes on the line below.
  const comment = /^([ \t]*)(,?)([ \t]*\/\/[^\r\n]*)/.exec(text.slice(at));
  if (comment) {
    const [whole, space, comma, rest] = comment as unknown as [string, string, string, string];
    return `${text.slice(0, at)},${space}${rest}${f.eol}${indent}${body}${comma}${text.slice(at + whole.length)}`;
  }
  return `${text.slice(0, at)},${f.eol}${indent}${body}${text.slice(at)}`;
}

function detectFormatting(text: string): { insertSpaces: boolean; tabSize: number; eol: string } {
  const indent = /\n([ \t]+)"/.exec(text)?.[1] ?? "  ";
  return {
    insertSpaces: !indent.includes("\t"),
    tabSize: indent.includes("\t") ? 1 : indent.length,
    eol: text.includes("\r\n") ? "\r\n" : "\n",
  };
}
