// Command templates from the settings (serve_command, batch_command, training.command): the user
// writes the command line, we fill in paths, ports and model names. Every filled-in value is quoted,
// so a model id or a folder name can never become shell syntax on the host.
import { MetajudgeError } from "../../errors.js";
import { quote } from "../shell.js";

export const PLACEHOLDERS = ["model", "port", "input", "output", "config", "gpus"] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export type TemplateValues = Partial<Record<Placeholder, string | number>>;

function isPlaceholder(name: string): name is Placeholder {
  return (PLACEHOLDERS as readonly string[]).includes(name);
}

/**
 * Fills `{name}` placeholders. `{{` and `}}` stand for literal braces; `${...}` is left to the shell,
 * because users write environment expansions in these commands. `setting` names where the template
 * came from ("metajudge.json: remote.generation.batch_command") for the error message.
 */
export function renderCommand(template: string, values: TemplateValues, setting: string): string {
  const available = PLACEHOLDERS.filter((p) => values[p] !== undefined);
  const known = available.map((p) => `{${p}}`).join(" ");
  let out = "";
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if (ch === "{" && template[i + 1] === "{") {
      out += "{";
      i++;
      continue;
    }
    if (ch === "}" && template[i + 1] === "}") {
      out += "}";
      i++;
      continue;
    }
    if (ch === "{" && template[i - 1] === "$") {
      const close = template.indexOf("}", i);
      if (close === -1) throw unclosed(setting, i);
      out += template.slice(i, close + 1);
      i = close;
      continue;
    }
    if (ch !== "{") {
      out += ch;
      continue;
    }
    const close = template.indexOf("}", i);
    const nextOpen = template.indexOf("{", i + 1);
    if (close === -1 || (nextOpen !== -1 && nextOpen < close)) throw unclosed(setting, i);
    const name = template.slice(i + 1, close);
    const value = isPlaceholder(name) ? values[name] : undefined;
    if (value === undefined) {
      const what = isPlaceholder(name) ? "placeholder not available here" : "unknown placeholder";
      throw new MetajudgeError("badInput", `${setting}: ${what} {${name}} at column ${i + 1}; known: ${known || "(none)"}`);
    }
    out += quote(String(value));
    i = close;
  }
  return out;
}

function unclosed(setting: string, index: number): MetajudgeError {
  return new MetajudgeError("badInput", `${setting}: "{" at column ${index + 1} is not closed; write {{ for a literal brace`);
}
