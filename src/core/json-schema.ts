// The config's JSON Schema, generated from the zod schema so the two never disagree.
import { z } from "zod";
import { ConfigSchema } from "./schema.js";

export function configJsonSchema(): Record<string, unknown> {
  // "input" describes what a person may write: fields with defaults are optional there.
  const schema = z.toJSONSchema(ConfigSchema, { io: "input", target: "draft-7" }) as Record<string, unknown>;
  // VS Code's own keywords: the file is JSON with comments, read as the CLI reads it (config.ts).
  return {
    ...schema,
    title: "Metajudge experiment (metajudge.json)",
    $id: "metajudge.schema.json",
    allowComments: true,
    allowTrailingCommas: true,
  };
}
