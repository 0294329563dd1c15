// node-llama-cpp turns a JSON Schema into a grammar but has no numeric bounds: `{"type": "number",
// "minimum": 0, "maximum": 5}` would let a random-weights model answer 6662, which a client that
// asked for a 0–5 score rightly refuses. A bounded number with a small integer range becomes the
// enum of the integers in it: every answer is then valid under the original schema (a subset of
// it: no fractions), which is what constrained decoding promises.

export const MAX_ENUMERATED = 200;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isRecord(v: Json): v is { [k: string]: Json } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function integersIn(node: { [k: string]: Json }): number[] | undefined {
  const { minimum: min, maximum: max } = node;
  const xmin = typeof node.exclusiveMinimum === "number" ? node.exclusiveMinimum : undefined;
  const xmax = typeof node.exclusiveMaximum === "number" ? node.exclusiveMaximum : undefined;
  if ((typeof min !== "number" && xmin === undefined) || (typeof max !== "number" && xmax === undefined)) return undefined;
  const from = Math.max(typeof min === "number" ? Math.ceil(min) : -Infinity, xmin !== undefined ? Math.floor(xmin) + 1 : -Infinity);
  const to = Math.min(typeof max === "number" ? Math.floor(max) : Infinity, xmax !== undefined ? Math.ceil(xmax) - 1 : Infinity);
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || to < from || to - from >= MAX_ENUMERATED) return undefined;
  const step = typeof node.multipleOf === "number" && node.multipleOf > 0 ? node.multipleOf : 1;
  const out: number[] = [];
  for (let i = from; i <= to; i++) if (Number.isInteger(i / step)) out.push(i);
  return out.length ? out : undefined;
}

/** A copy of `schema` whose small bounded numbers are enums of integers; anything else is unchanged. */
export function enumerateBoundedNumbers(schema: Json): Json {
  if (Array.isArray(schema)) return schema.map(enumerateBoundedNumbers);
  if (!isRecord(schema)) return schema;
  if ((schema.type === "number" || schema.type === "integer") && !("enum" in schema) && !("const" in schema)) {
    const values = integersIn(schema);
    if (values) {
      const { type: _t, minimum: _a, maximum: _b, exclusiveMinimum: _c, exclusiveMaximum: _d, multipleOf: _e, ...rest } = schema;
      return { ...rest, enum: values };
    }
  }
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === "enum" || k === "const" ? v : enumerateBoundedNumbers(v);
  return out;
}
