// The GGUF reader and writer, and the random-weights model built with them: exact bytes for a seed,
// metadata that survives a round trip, and a tokenizer copied unchanged from the vocab file.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  DEFAULT_ALIGNMENT,
  fromHalf,
  GGUF_MAGIC,
  metadataValue,
  readGguf,
  TensorType,
  toHalf,
  ValueType,
  writeGguf,
  type NewEntry,
} from "../../src/local/gguf.js";
import { buildTinyModel, ensureTinyModel, modelFileName, prng, TINY_SHAPE } from "../../src/local/model.js";
import { ensureVocab } from "../../src/local/vocab.js";

/** A vocab-only GGUF like the ones llama.cpp ships: tokenizer entries, no tensors. */
function fakeVocab(tokens = 300): Buffer {
  const s = (key: string, value: string): NewEntry => ({ key, type: ValueType.STRING, value });
  const arr = (key: string, itemType: ValueType, values: (string | number)[]): NewEntry => {
    const parts: Buffer[] = [];
    const head = Buffer.alloc(12);
    head.writeUInt32LE(itemType, 0);
    head.writeBigUInt64LE(BigInt(values.length), 4);
    parts.push(head);
    for (const v of values) {
      if (typeof v === "string") {
        const b = Buffer.from(v, "utf8");
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(b.length));
        parts.push(len, b);
      } else {
        const b = Buffer.alloc(4);
        if (itemType === ValueType.FLOAT32) b.writeFloatLE(v);
        else b.writeInt32LE(v);
        parts.push(b);
      }
    }
    const k = Buffer.from(key, "utf8");
    const kl = Buffer.alloc(8);
    kl.writeBigUInt64LE(BigInt(k.length));
    const t = Buffer.alloc(4);
    t.writeUInt32LE(ValueType.ARRAY);
    return { key, raw: Buffer.concat([kl, k, t, ...parts]) };
  };
  const words = Array.from({ length: tokens }, (_, i) => (i < 3 ? ["<unk>", "<s>", "</s>"][i]! : `▁w${i}`));
  return writeGguf(
    [
      s("general.architecture", "llama"),
      s("tokenizer.ggml.model", "llama"),
      arr("tokenizer.ggml.tokens", ValueType.STRING, words),
      arr(
        "tokenizer.ggml.scores",
        ValueType.FLOAT32,
        words.map((_, i) => -i),
      ),
      arr(
        "tokenizer.ggml.token_type",
        ValueType.INT32,
        words.map((_, i) => (i < 3 ? 3 : 1)),
      ),
      { key: "tokenizer.ggml.bos_token_id", type: ValueType.UINT32, value: 1 },
      { key: "tokenizer.ggml.add_bos_token", type: ValueType.BOOL, value: true },
      s("tokenizer.chat_template", "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}<|assistant|>"),
    ],
    [],
  );
}

const sha = (b: Buffer): string => crypto.createHash("sha256").update(b).digest("hex");

describe("half floats", () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff], // largest finite half
    [1e6, 0x7c00], // overflow → infinity
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -26, 0x0000], // rounds to zero
    [1 + 2 ** -11, 0x3c00], // halfway: ties to even (down)
    [1 + 3 * 2 ** -11, 0x3c02], // halfway: ties to even (up)
    [0.1, 0x2e66],
  ];
  for (const [v, bits] of cases) it(`${v} → 0x${bits.toString(16)}`, () => assert.equal(toHalf(v), bits));
  it("fromHalf inverts toHalf on representable values", () => {
    for (const v of [0, 1, -1, 0.5, 0.25, 3.140625, 65504, 2 ** -24, -(2 ** -14)]) assert.equal(fromHalf(toHalf(v)), v);
    assert.ok(Number.isNaN(fromHalf(toHalf(NaN))));
  });
});

describe("GGUF reader and writer", () => {
  it("round-trips metadata of every written type and lays tensors out aligned", () => {
    const f32 = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    const f16 = new Uint8Array(new Uint16Array([toHalf(0.5), toHalf(-1)]).buffer);
    const buf = writeGguf(
      [
        { key: "general.architecture", type: ValueType.STRING, value: "llama" },
        { key: "a.u32", type: ValueType.UINT32, value: 4_000_000_000 },
        { key: "a.f32", type: ValueType.FLOAT32, value: 0.25 },
        { key: "a.bool", type: ValueType.BOOL, value: true },
        { key: "a.text", type: ValueType.STRING, value: "naïve ✓" },
      ],
      [
        { name: "x", dims: [3], type: TensorType.F32, data: f32 },
        { name: "y", dims: [2, 1], type: TensorType.F16, data: f16 },
      ],
    );
    assert.equal(buf.readUInt32LE(0), GGUF_MAGIC);
    assert.equal(buf.toString("latin1", 0, 4), "GGUF");
    const h = readGguf(buf);
    assert.equal(h.version, 3);
    assert.deepEqual(
      h.entries.map((e) => [e.key, e.value]),
      [
        ["general.architecture", "llama"],
        ["a.u32", 4_000_000_000],
        ["a.f32", 0.25],
        ["a.bool", true],
        ["a.text", "naïve ✓"],
      ],
    );
    assert.deepEqual(
      h.tensors.map((t) => [t.name, t.dims, t.type, t.offset]),
      [
        ["x", [3], TensorType.F32, 0n],
        ["y", [2, 1], TensorType.F16, 32n],
      ],
    );
    assert.equal(h.dataOffset % DEFAULT_ALIGNMENT, 0);
    assert.deepEqual(new Uint8Array(buf.subarray(h.dataOffset, h.dataOffset + 12)), f32);
    assert.deepEqual(new Uint8Array(buf.subarray(h.dataOffset + 32, h.dataOffset + 36)), f16);
    assert.equal(buf.length % DEFAULT_ALIGNMENT, 0);
  });

  it("keeps each entry's bytes, so copying them reproduces the entry", () => {
    const vocab = fakeVocab();
    const h = readGguf(vocab);
    const copy = readGguf(
      writeGguf(
        h.entries.map((e) => ({ key: e.key, raw: e.raw })),
        [],
      ),
    );
    assert.deepEqual(
      copy.entries.map((e) => [e.key, e.type, e.value]),
      h.entries.map((e) => [e.key, e.type, e.value]),
    );
    assert.equal((metadataValue(h, "tokenizer.ggml.tokens") as string[])[5], "▁w5");
  });

  it("rejects what is not GGUF, and says where a file ends early", () => {
    assert.throws(() => readGguf(Buffer.from("not a model at all")), /bad magic/);
    const v = fakeVocab();
    assert.throws(() => readGguf(v.subarray(0, 200)), /truncated GGUF/);
  });
});

describe("the random-weights model", () => {
  const vocab = fakeVocab();

  it("is byte-identical for the same seed and differs for another", () => {
    const a = buildTinyModel(vocab, 7);
    assert.equal(sha(buildTinyModel(vocab, 7)), sha(a));
    assert.notEqual(sha(buildTinyModel(vocab, 8)), sha(a));
  });

  it("declares a llama with the tiny shape, tied output and the vocab's tokenizer byte for byte", () => {
    const bytes = buildTinyModel(vocab, 0);
    const h = readGguf(bytes);
    const v = readGguf(vocab);
    const get = (k: string): unknown => metadataValue(h, k);
    assert.equal(get("general.architecture"), "llama");
    assert.match(String(get("general.description")), /meaningless/);
    assert.equal(get("llama.embedding_length"), TINY_SHAPE.embedding);
    assert.equal(get("llama.block_count"), TINY_SHAPE.layers);
    assert.equal(get("llama.attention.head_count"), TINY_SHAPE.heads);
    assert.equal(get("llama.vocab_size"), 300);
    for (const e of v.entries.filter((x) => x.key.startsWith("tokenizer."))) {
      assert.ok(h.entries.find((x) => x.key === e.key)?.raw.equals(e.raw), `${e.key} copied unchanged`);
    }
    const names = h.tensors.map((t) => t.name);
    assert.equal(names.length, 2 + 9 * TINY_SHAPE.layers);
    assert.ok(!names.includes("output.weight"), "the output projection is tied to token_embd");
    assert.deepEqual(h.tensors.find((t) => t.name === "token_embd.weight")?.dims, [TINY_SHAPE.embedding, 300]);
    assert.deepEqual(h.tensors.find((t) => t.name === "blk.1.ffn_down.weight")?.dims, [TINY_SHAPE.feedForward, TINY_SHAPE.embedding]);
    const last = h.tensors.at(-1)!;
    assert.equal(bytes.length, h.dataOffset + Number(last.offset) + 2 * last.dims[0]! * last.dims[1]!);
  });

  it("draws weights from a seeded generator that repeats exactly", () => {
    const a = prng(42);
    const b = prng(42);
    const xs = Array.from({ length: 5 }, a);
    assert.deepEqual(Array.from({ length: 5 }, b), xs);
    assert.ok(xs.every((x) => x >= 0 && x < 1));
  });

  it("is cached by seed under the cache folder", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mj-local-"));
    const vf = path.join(dir, "vocab.gguf");
    fs.writeFileSync(vf, vocab);
    const first = ensureTinyModel(dir, vf, "fake", 3);
    assert.ok(first.built);
    assert.equal(path.basename(first.file), modelFileName("fake", 3));
    assert.equal(ensureTinyModel(dir, vf, "fake", 3).built, false);
    assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp")).length, 0);
  });
});

describe("the shipped tokenizer", () => {
  it("comes out of node-llama-cpp's bundle with a chat template, and makes a model of a few MB", { timeout: 60_000 }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mj-vocab-"));
    const v = ensureVocab(dir);
    assert.ok(v.extracted);
    const h = readGguf(fs.readFileSync(v.file));
    assert.equal(h.tensors.length, 0, "vocab-only");
    assert.equal((metadataValue(h, "tokenizer.ggml.tokens") as string[]).length, 32064);
    assert.equal(typeof metadataValue(h, "tokenizer.chat_template"), "string");
    assert.equal(ensureVocab(dir).extracted, false, "extracted once");
    const t0 = performance.now();
    const model = buildTinyModel(fs.readFileSync(v.file), 0);
    const ms = performance.now() - t0;
    assert.ok(model.length > 5e6 && model.length < 15e6, `${model.length} bytes`);
    assert.ok(ms < 5000, `built in ${Math.round(ms)} ms`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
