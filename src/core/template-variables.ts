// What each template variable is filled with, in the words completion and hover show, and where the
// references sit on a line. Plain data and string scanning, for the editor's completion and hover.
import { TEMPLATE_VARIABLES } from "./templates.js";
import { ROLES, type Role } from "./schema.js";

const FILLED_WITH: Record<Role, Record<string, string>> = {
  actor: {
    prompt:
      "The `prompt` field of one line of the prompt set (prompts.jsonl), exactly as written. The actor is sampled K times on the rendered text.",
  },
  judge: {
    prompt: "The `prompt` of the prompt set line that the response answers.",
    response: "One actor response: the `text` of a record in responses.jsonl. Exact duplicates of a prompt's responses are judged once.",
  },
  meta_judge: {
    prompt: "The `prompt` of the prompt set line under judgement.",
    response: "The response being judged: per prompt, the one whose judgement scores vary the most.",
    judgement_a:
      "The judgement shown first: the `text` of a record in judgements.jsonl. Every pair is asked in both orders, so each judgement is A once and B once.",
    judgement_b: "The judgement shown second: the `text` of another judgement of the same response.",
  },
};

export function isVariable(role: Role, name: string): boolean {
  return TEMPLATE_VARIABLES[role].includes(name);
}

export function filledWith(role: Role, name: string): string | undefined {
  return FILLED_WITH[role][name];
}

/** Roles other than `role` whose templates know `name`. */
export function otherRolesWith(role: Role, name: string): Role[] {
  return ROLES.filter((r) => r !== role && isVariable(r, name));
}

export function variableList(role: Role): string {
  return TEMPLATE_VARIABLES[role].map((v) => `{{${v}}}`).join(", ");
}

/** A `{{…}}` reference on one line; offsets are 0-based UTF-16 columns, ends exclusive. */
export interface Reference {
  name: string;
  start: number;
  end: number;
  nameStart: number;
  nameEnd: number;
}

// The same tokens as the core parser: escapes first, so "\{{" is never an opening brace.
const TOKEN = /\\\{\{|\\\}\}|\{\{|\}\}/g;

/** Offset of the "}}" closing a brace opened before `from` on this line, or -1 (another "{{" first, or none). */
function closing(line: string, from: number): number {
  const close = line.indexOf("}}", from);
  if (close === -1) return -1;
  return line.slice(from, close).includes("{{") ? -1 : close;
}

/** Every closed, unescaped reference of a line (references never span lines). */
export function references(line: string): Reference[] {
  const out: Reference[] = [];
  const token = new RegExp(TOKEN.source, "g");
  for (let m = token.exec(line); m !== null; m = token.exec(line)) {
    const start = m.index;
    if (m[0] === "\\{{") {
      const close = closing(line, start + 3);
      token.lastIndex = close === -1 ? start + 3 : close + 2;
      continue;
    }
    if (m[0] !== "{{") continue;
    const close = closing(line, start + 2);
    if (close === -1) continue;
    const inner = line.slice(start + 2, close);
    const nameStart = start + 2 + (inner.length - inner.trimStart().length);
    const name = inner.trim();
    out.push({ name, start, end: close + 2, nameStart, nameEnd: nameStart + name.length });
    token.lastIndex = close + 2;
  }
  return out;
}

export function referenceAt(line: string, column: number): Reference | undefined {
  return references(line).find((r) => column >= r.start && column < r.end);
}

/**
 * Where a variable name is being typed: the text before the cursor ends in an unescaped, unclosed
 * "{{" followed only by blanks and name characters. Returns the column where the name starts.
 */
export function openReference(before: string): { nameStart: number; typed: string } | undefined {
  const token = new RegExp(TOKEN.source, "g");
  let open = -1;
  for (let m = token.exec(before); m !== null; m = token.exec(before)) {
    if (m[0] === "\\{{") {
      const close = closing(before, m.index + 3);
      if (close === -1) return undefined; // inside an escaped, literal "{{"
      token.lastIndex = close + 2;
      open = -1;
    } else if (m[0] === "{{") open = m.index;
    else if (m[0] === "}}") open = -1;
  }
  if (open === -1) return undefined;
  const typed = /^([ \t]*)([A-Za-z0-9_]*)$/.exec(before.slice(open + 2));
  if (!typed) return undefined;
  const nameStart = open + 2 + (typed[1] ?? "").length;
  return { nameStart, typed: typed[2] ?? "" };
}

/** The name a core "unknown variable" message suggests ("did you mean {{response}}?"), if any. */
export function suggestionIn(message: string): string | undefined {
  return /did you mean \{\{([A-Za-z_][A-Za-z0-9_]*)\}\}/.exec(message)?.[1];
}
