// The embedded model: a real tokenizer (copied from a vocab-only GGUF) on a tiny llama-architecture
// network whose weights are random numbers from a seeded generator. It can run every stage of the
// pipeline on any CPU, but what it writes is meaningless token soup: it exists so the whole path
// (HTTP, sampling, n, seeds, grammars, records, pairs, export) runs for real without a GPU or a key.
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../core/fs-atomic.js";
import { metadataValue, readGguf, TensorType, toHalf, ValueType, writeGguf, type NewEntry, type NewTensor } from "./gguf.js";

export const MEANINGLESS = "random weights: its output is meaningless; it exists so the pipeline runs end to end";

export interface TinyShape {
  embedding: number;
  layers: number;
  feedForward: number;
  heads: number;
  /** What the file declares as trained context; the server's --context may not exceed it. */
  contextLength: number;
}

// Small enough to be written in well under a second and to decode ~1,000 tokens/s on one core;
// large enough that attention, RoPE and the feed-forward path all do real work.
export const TINY_SHAPE: TinyShape = { embedding: 128, layers: 2, feedForward: 256, heads: 4, contextLength: 16384 };

/** Bumped whenever the bytes written for a given seed change, so cached files are rebuilt. */
export const MODEL_FORMAT = 1;

/** mulberry32: tiny, fast, and the same sequence on every platform for a given 32-bit seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function f16Tensor(name: string, dims: number[], bound: number, next: () => number): NewTensor {
  const count = dims.reduce((a, b) => a * b, 1);
  const data = new Uint16Array(count);
  for (let i = 0; i < count; i++) data[i] = toHalf((next() * 2 - 1) * bound);
  return { name, dims, type: TensorType.F16, data: new Uint8Array(data.buffer) };
}

// Norm gains of 1 keep activations at unit scale through the layers; randomness lives in the projections.
function onesTensor(name: string, n: number): NewTensor {
  return { name, dims: [n], type: TensorType.F32, data: new Uint8Array(new Float32Array(n).fill(1).buffer) };
}

export interface VocabInfo {
  tokens: number;
  hasChatTemplate: boolean;
  tokenizerModel: string;
}

export function vocabInfo(vocab: Buffer): VocabInfo {
  const h = readGguf(vocab);
  const tokens = metadataValue(h, "tokenizer.ggml.tokens");
  if (!Array.isArray(tokens) || tokens.length === 0) throw new Error("the vocab file has no tokenizer.ggml.tokens");
  return {
    tokens: tokens.length,
    hasChatTemplate: typeof metadataValue(h, "tokenizer.chat_template") === "string",
    tokenizerModel: String(metadataValue(h, "tokenizer.ggml.model") ?? "?"),
  };
}

/**
 * A complete llama GGUF: hyperparameters, the vocab file's tokenizer.* entries byte for byte (chat
 * template included), F16 projections, F32 norms. The output projection is tied to the token
 * embedding (llama.cpp uses token_embd when output.weight is absent), which halves the file.
 * Byte-identical for the same vocab, seed and shape.
 */
export function buildTinyModel(vocab: Buffer, seed: number, shape: TinyShape = TINY_SHAPE): Buffer {
  const h = readGguf(vocab);
  const vocabSize = vocabInfo(vocab).tokens;
  const { embedding: d, layers, feedForward: ff, heads } = shape;
  if (d % heads !== 0) throw new Error(`embedding ${d} is not a multiple of heads ${heads}`);
  const u32 = (key: string, value: number): NewEntry => ({ key, type: ValueType.UINT32, value });
  const entries: NewEntry[] = [
    { key: "general.architecture", type: ValueType.STRING, value: "llama" },
    { key: "general.name", type: ValueType.STRING, value: `metajudge-random-tiny-llama seed ${seed >>> 0}` },
    { key: "general.description", type: ValueType.STRING, value: `Tiny llama with ${MEANINGLESS}.` },
    u32("general.file_type", 1), // all large tensors F16
    u32("llama.context_length", shape.contextLength),
    u32("llama.embedding_length", d),
    u32("llama.block_count", layers),
    u32("llama.feed_forward_length", ff),
    u32("llama.attention.head_count", heads),
    u32("llama.attention.head_count_kv", heads),
    u32("llama.rope.dimension_count", d / heads),
    u32("llama.vocab_size", vocabSize),
    { key: "llama.attention.layer_norm_rms_epsilon", type: ValueType.FLOAT32, value: 1e-5 },
    ...h.entries.filter((e) => e.key.startsWith("tokenizer.")).map((e) => ({ key: e.key, raw: e.raw })),
  ];
  const next = prng(seed);
  // Uniform in ±sqrt(3/fan_in) has variance 1/fan_in, so each projection roughly keeps the scale of
  // its input. The embedding's bound sets the spread of the (tied) output logits: about 1.6 standard
  // deviations over 128 dimensions, peaked enough that sampling is not uniform over the vocabulary.
  const proj = (fanIn: number): number => Math.sqrt(3 / fanIn);
  const tensors: NewTensor[] = [f16Tensor("token_embd.weight", [d, vocabSize], 0.25, next), onesTensor("output_norm.weight", d)];
  for (let i = 0; i < layers; i++) {
    const b = `blk.${i}.`;
    tensors.push(
      onesTensor(`${b}attn_norm.weight`, d),
      f16Tensor(`${b}attn_q.weight`, [d, d], proj(d), next),
      f16Tensor(`${b}attn_k.weight`, [d, d], proj(d), next),
      f16Tensor(`${b}attn_v.weight`, [d, d], proj(d), next),
      f16Tensor(`${b}attn_output.weight`, [d, d], proj(d), next),
      onesTensor(`${b}ffn_norm.weight`, d),
      f16Tensor(`${b}ffn_gate.weight`, [d, ff], proj(d), next),
      f16Tensor(`${b}ffn_up.weight`, [d, ff], proj(d), next),
      f16Tensor(`${b}ffn_down.weight`, [ff, d], proj(ff), next),
    );
  }
  return writeGguf(entries, tensors);
}

export function modelFileName(vocabName: string, seed: number): string {
  return `tiny-llama-${vocabName}-seed${seed >>> 0}-v${MODEL_FORMAT}.gguf`;
}

/** The cached model for this vocab and seed, written first if missing (atomically, so two starts cannot see half a file). */
export function ensureTinyModel(
  cacheDir: string,
  vocabFile: string,
  vocabName: string,
  seed: number,
): { file: string; built: boolean; ms: number } {
  const file = path.join(cacheDir, modelFileName(vocabName, seed));
  if (fs.existsSync(file)) return { file, built: false, ms: 0 };
  const t0 = performance.now();
  const bytes = buildTinyModel(fs.readFileSync(vocabFile), seed);
  fs.mkdirSync(cacheDir, { recursive: true });
  writeFileAtomic(file, bytes);
  return { file, built: true, ms: performance.now() - t0 };
}
