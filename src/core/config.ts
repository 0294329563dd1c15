// Loading metajudge.json: JSON errors and schema errors both come back as file:line:col, because a
// researcher fixes them in an editor, not by reading a JSON path. Comments are welcome (JSONC).
import * as fs from "node:fs";
import * as path from "node:path";
import { findNodeAtLocation, getNodeValue, parseTree, type ParseError, printParseErrorCode, type Node, visit } from "jsonc-parser";
import { ConfigSchema, type Config, type Endpoint, type IterationSettings, type Role } from "./schema.js";
import { MetajudgeError, formatWhere, type Where } from "./errors.js";

export const CONFIG_FILE = "metajudge.json";

export interface ConfigProblem extends Where {
  message: string;
}

/** Offset in text → 1-based line and column. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lastNl = -1;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    lastNl = i;
  }
  return { line, column: offset - lastNl };
}

/**
 * Validates config text; returns the parsed config or every problem found, each with a position.
 * The file is read as VS Code reads its own settings: JSON with comments and trailing commas, a
 * leading BOM ignored. Duplicate keys are refused, because JSON silently keeps only the last one.
 */
export function checkConfigText(source: string, file: string): { config?: Config; problems: ConfigProblem[] } {
  // Editors do not count a BOM as a column, so positions are computed without it.
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0 || !tree) {
    const problems = errors.map((e) => ({ file, ...lineColumn(text, e.offset), message: `JSON syntax: ${printParseErrorCode(e.error)}` }));
    return { problems: problems.length ? problems : [{ file, line: 1, column: 1, message: "empty file" }] };
  }
  const duplicates = duplicateKeys(text).map((d) => ({
    file,
    ...lineColumn(text, d.offset),
    message: `${d.path.join(".")}: duplicate key (first on line ${lineColumn(text, d.firstOffset).line}); JSON keeps only the last one, so remove one of them`,
  }));
  if (duplicates.length > 0) return { problems: duplicates };
  // Through JSON.parse so every object is a plain one, as the rest of the code expects.
  const raw: unknown = JSON.parse(JSON.stringify(getNodeValue(tree)));
  const result = ConfigSchema.safeParse(raw);
  if (result.success) return { config: result.data, problems: [] };
  const problems = result.error.issues.map((issue) => {
    // An unknown key is best shown at the key itself, not at the object that holds it.
    const extra = issue.code === "unrecognized_keys" && issue.keys[0] !== undefined ? [issue.keys[0]] : [];
    const node = nearestNode(tree, [...(issue.path as (string | number)[]), ...extra]);
    const pos = lineColumn(text, node.offset);
    const at = issue.path.length ? issue.path.join(".") : "(top level)";
    return { file, ...pos, message: `${at}: ${issue.message}` };
  });
  return { problems };
}

/** Every key written twice in the same object: where the second one is, and where the first was. */
function duplicateKeys(text: string): { path: (string | number)[]; offset: number; firstOffset: number }[] {
  const found: { path: (string | number)[]; offset: number; firstOffset: number }[] = [];
  const objects: Map<string, number>[] = [];
  visit(
    text,
    {
      onObjectBegin: () => void objects.push(new Map()),
      onObjectEnd: () => void objects.pop(),
      onObjectProperty: (key, offset, _length, _line, _col, pathSupplier) => {
        const seen = objects[objects.length - 1];
        if (!seen) return;
        const first = seen.get(key);
        if (first === undefined) seen.set(key, offset);
        else found.push({ path: [...pathSupplier(), key], offset, firstOffset: first });
      },
    },
    { allowTrailingComma: true, disallowComments: false },
  );
  return found;
}

function nearestNode(tree: Node, p: (string | number)[]): Node {
  for (let n = p.length; n >= 0; n--) {
    const node = findNodeAtLocation(tree, p.slice(0, n));
    if (node) {
      // Point at the property name when there is one: that is what the eye looks for.
      return node.parent?.type === "property" && node.parent.children?.[0] ? node.parent.children[0] : node;
    }
  }
  return tree;
}

export function loadConfig(dir: string): Config {
  const file = path.join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MetajudgeError(
      "badInput",
      code === "ENOENT" ? `${file}: not found; create an experiment with \`metajudge init <dir>\`` : `${file}: ${(err as Error).message}`,
      { file },
    );
  }
  const { config, problems } = checkConfigText(text, file);
  if (!config) {
    const first = problems[0]!;
    const more =
      problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? "s" : ""}; run \`metajudge validate\`)` : "";
    throw new MetajudgeError("badInput", `${formatWhere(first)}: ${first.message}${more}`, first);
  }
  return config;
}

/** Settings of iteration t (1-based), which must be listed. */
export function iterationSettings(config: Config, t: number): IterationSettings {
  const s = config.iterations[t - 1];
  if (!s) {
    throw new MetajudgeError(
      "badInput",
      `iteration ${t} has no settings: "iterations" in ${CONFIG_FILE} lists ${config.iterations.length}; add an entry for it`,
    );
  }
  return s;
}

export interface ResolvedEndpoint extends Endpoint {
  role: Role;
}

/** The endpoint a role talks to in iteration t: top level, then the role's overrides, then the iteration's model. */
export function roleEndpoint(config: Config, role: Role, settings?: IterationSettings): ResolvedEndpoint {
  const merged = { ...config.endpoint, ...config.roles[role].endpoint };
  const model = settings?.models?.[role] ?? merged.model;
  return { ...merged, model, role } as ResolvedEndpoint;
}

export function resolveIn(dir: string, p: string): string {
  return path.isAbsolute(p) ? p : path.join(dir, p);
}
