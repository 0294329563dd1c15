// Prompt templates: plain text with {{name}} references, one template per role.
//
// Syntax, deliberately small:
// - `{{name}}` (blanks allowed inside the braces) is replaced by the value of `name`. A reference
//   must close on its own line, so a forgotten `}}` is reported where it happened instead of
//   swallowing text up to some later `}}`.
// - `\{{` writes a literal `{{` (the backslash is dropped), and the `}}` closing it on the same line
//   stays literal too: `\{{prompt}}` renders as `{{prompt}}`. `\}}` writes a lone literal `}}`.
//   A backslash anywhere else is ordinary text. `{{{{` is NOT an escape: it is an unclosed
//   reference followed by another.
// - A `}}` that closes nothing is kept as text but warned about: it usually means a broken `{{`.
//
// Rendering decisions:
// - Trailing whitespace of the template is dropped, so a file saved with a final newline still
//   renders the actor prompt as exactly the user's prompt. Values are never trimmed.
// - CRLF in the template text becomes LF, and a leading BOM is ignored, so the same template renders
//   the same prompt on every platform (the recorded sha256 still identifies the exact file bytes).
// - Substitution is a single pass over a precomputed list of parts: a value that itself contains
//   `{{prompt}}` (model output is untrusted) is inserted verbatim, never expanded.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { MetajudgeError, formatWhere, type Where } from "./errors.js";
import type { Role } from "./schema.js";

export const TEMPLATE_VARIABLES: Record<Role, readonly string[]> = Object.freeze({
  actor: Object.freeze(["prompt"]),
  judge: Object.freeze(["prompt", "response"]),
  meta_judge: Object.freeze(["prompt", "response", "judgement_a", "judgement_b"]),
});

export type TemplateProblemCode = "unknown-variable" | "missing-variable" | "unclosed-brace" | "empty-variable" | "stray-close";

/** Positions are 1-based; the end is exclusive (the character after the offending text), as editors expect. */
export interface TemplateProblem {
  severity: "error" | "warning";
  message: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  code: TemplateProblemCode;
}

export interface Template {
  readonly role: Role;
  readonly file: string;
  /** Text around the references: `literals.length === names.length + 1`. */
  readonly literals: readonly string[];
  /** The variable of each reference, in order (a variable used twice appears twice). */
  readonly names: readonly string[];
}

export interface LoadedTemplate {
  template: Template;
  sha256: string;
  path: string;
  source: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Escapes first so that "\{{" is never seen as a backslash followed by an opening brace.
const TOKEN = /\\\{\{|\\\}\}|\{\{|\}\}/g;

export function parseTemplate(source: string, role: Role, file = "<template>"): { template: Template; problems: TemplateProblem[] } {
  // Editors do not count a BOM as a column, so positions are computed without it.
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  const known = TEMPLATE_VARIABLES[role];
  const at = positions(text);
  const problems: TemplateProblem[] = [];
  const problem = (severity: TemplateProblem["severity"], code: TemplateProblemCode, start: number, end: number, message: string): void => {
    const s = at(start);
    const e = at(end);
    problems.push({ severity, code, message, line: s.line, column: s.column, endLine: e.line, endColumn: e.column });
  };

  const literals: string[] = [];
  const names: string[] = [];
  const used = new Set<string>();
  let literal = ""; // text of the current literal part, escapes already resolved
  let copied = 0; // source offset up to which `literal` has taken the text
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m !== null; m = TOKEN.exec(text)) {
    const start = m.index;
    const token = m[0];
    if (token.startsWith("\\")) {
      // "\{{name}}" shows a reference literally; its "}}" belongs to it and is no stray close.
      const close = token === "\\{{" ? closingOnLine(text, start + 3) : -1;
      const end = close === -1 ? start + 3 : close + 2;
      literal += text.slice(copied, start) + text.slice(start + 1, end);
      copied = end;
      TOKEN.lastIndex = end;
      continue;
    }
    if (token === "}}") {
      problem("warning", "stray-close", start, start + 2, "'}}' closes nothing; write \\}} for a literal '}}'");
      continue;
    }
    const close = closingOnLine(text, start + 2);
    if (close === -1) {
      const started = /^[ \t]*[A-Za-z0-9_]*/.exec(text.slice(start + 2, start + 2 + 200))?.[0] ?? "";
      problem(
        "error",
        "unclosed-brace",
        start,
        start + 2 + started.length,
        "'{{' is not closed by '}}' on the same line; write \\{{ for a literal '{{'",
      );
      continue;
    }
    TOKEN.lastIndex = close + 2;
    const inner = text.slice(start + 2, close);
    const name = inner.trim();
    if (name === "") {
      problem("error", "empty-variable", start, close + 2, `empty variable {{${inner}}}; known for ${role}: ${known.join(", ")}`);
    } else if (!NAME.test(name) || !known.includes(name)) {
      problem("error", "unknown-variable", start, close + 2, unknownMessage(name, role));
    } else {
      literals.push(literal + text.slice(copied, start));
      names.push(name);
      used.add(name);
      literal = "";
      copied = close + 2;
    }
  }
  literals.push((literal + text.slice(copied)).trimEnd());

  // A missing variable has no text of its own: it is reported on the whole first line, where a
  // reader starts and where an underline is visible even in a long file. These come after the
  // problems found in the text, so the first error shown is a misspelt reference, not its effect.
  const firstLineEnd = text.indexOf("\n") === -1 ? text.length : text.indexOf("\n");
  const firstLineCut = text.charCodeAt(firstLineEnd - 1) === 13 ? firstLineEnd - 1 : firstLineEnd;
  for (const name of known) {
    if (!used.has(name))
      problem(
        "error",
        "missing-variable",
        0,
        firstLineCut,
        `missing variable {{${name}}}: a ${role} template must use ${known.map((k) => `{{${k}}}`).join(", ")}`,
      );
  }

  const template: Template = {
    role,
    file,
    literals: literals.map((l) => l.replace(/\r\n/g, "\n")),
    names,
  };
  return { template, problems };
}

export function renderTemplate(template: Template, vars: Record<string, string>): string {
  for (const name of TEMPLATE_VARIABLES[template.role]) {
    if (typeof vars[name] !== "string") {
      throw new MetajudgeError("badInput", `no value for {{${name}}} when rendering the ${template.role} template ${template.file}`, {
        file: template.file,
      });
    }
  }
  const { literals, names } = template;
  let out = literals[0] ?? "";
  for (let i = 0; i < names.length; i++) out += (vars[names[i] as string] as string) + (literals[i + 1] as string);
  return out;
}

export async function loadTemplate(path: string, role: Role): Promise<LoadedTemplate> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new MetajudgeError("badInput", `cannot read the ${role} template ${path}: ${why}`, { file: path }, { cause: err });
  }
  const source = bytes.toString("utf8");
  const { template, problems } = parseTemplate(source, role, path);
  const errors = problems.filter((p) => p.severity === "error");
  const first = errors[0];
  if (first !== undefined) {
    const where: Where = { file: path, line: first.line, column: first.column };
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? "s" : ""})` : "";
    throw new MetajudgeError("badInput", `${formatWhere(where)}: ${first.message}${more}`, where);
  }
  return { template, sha256: sha256Hex(bytes), path, source };
}

export function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Offset of the "}}" closing a brace opened just before `from`, or -1 if the line ends or another "{{" opens first. */
function closingOnLine(text: string, from: number): number {
  const close = text.indexOf("}}", from);
  if (close === -1) return -1;
  const between = text.slice(from, close);
  return between.includes("\n") || between.includes("{{") ? -1 : close;
}

function unknownMessage(name: string, role: Role): string {
  const known = TEMPLATE_VARIABLES[role];
  const list = `known for ${role}: ${known.join(", ")}`;
  const elsewhere = (Object.keys(TEMPLATE_VARIABLES) as Role[]).filter((r) => r !== role && TEMPLATE_VARIABLES[r].includes(name));
  if (elsewhere.length > 0) return `{{${name}}} is not available in a ${role} template; ${list}`;
  const nearest = suggest(name, known);
  return nearest === undefined
    ? `unknown variable {{${name}}}; ${list}`
    : `unknown variable {{${name}}}: did you mean {{${nearest}}}? ${list}`;
}

/** The known name closest in edit distance, if close enough to be a plausible typo. */
function suggest(name: string, known: readonly string[]): string | undefined {
  // Case and separators are the commonest slips ({{Prompt}}, {{judgement-a}}, {{judgment a}}).
  const norm = (s: string): string => s.toLowerCase().replace(/[\s-]+/g, "_");
  const target = norm(name);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(target, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.max(2, Math.floor(target.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, (prev[j] as number) + 1, (cur[j - 1] as number) + 1));
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

/** Offset → 1-based line and column (UTF-16 units, as editors count). */
function positions(text: string): (offset: number) => { line: number; column: number } {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (starts[lo] as number) + 1 };
  };
}
