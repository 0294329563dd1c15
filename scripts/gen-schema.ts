// Writes schema/metajudge.schema.json from the zod config schema (npm run schema; a test keeps it current).
import * as fs from "node:fs";
import * as path from "node:path";
import { configJsonSchema } from "../src/core/json-schema.js";

const out = path.join(__dirname, "..", "schema", "metajudge.schema.json");
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(configJsonSchema(), null, 2) + "\n");
console.log(`wrote ${path.relative(process.cwd(), out)}`);
