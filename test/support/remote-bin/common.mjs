// Shared by the stand-ins: deterministic answers shaped like a real model's, so our parsers read
// them as they read vLLM's. Plain JS on purpose: this file runs on the "GPU host" with bare node.
import { existsSync, writeFileSync } from "node:fs";

export function hash(s, h = 0x811c9dc5) {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS =
  "the a model answer question data result method example value step first then because however clear simple learn process system measure improve".split(
    " ",
  );

function prose(r, words) {
  const out = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(r() * WORDS.length)]);
  return out.join(" ").replace(/^./, (c) => c.toUpperCase()) + ".";
}

/** The text of choice `index` for a chat body: a judge scores, a meta-judge picks, an actor writes. */
export function answer(body, index) {
  const last = [...(body.messages ?? [])].reverse().find((m) => m.role === "user")?.content ?? "";
  const r = rng(hash(last, hash(String(body.seed ?? 0))) ^ Math.imul(index + 1, 0x9e3779b1));
  const schema = body.response_format?.type === "json_schema" ? body.response_format.json_schema?.schema : undefined;
  const score = 1 + Math.floor(r() * 5);
  const winner = r() < 0.6 ? "A" : "B";
  const reason = prose(r, 8 + Math.floor(r() * 20));
  if (schema?.properties?.winner) return JSON.stringify({ reason, winner });
  if (schema?.properties?.score) return JSON.stringify({ reason, score });
  const meta = /Judg(e?)ment A/.exec(last);
  if (meta) return `${reason}\n\nWinner: ${meta[1] ? "Judgement" : "Judgment"} ${winner}`;
  if (last.includes("additive 5-point") || last.includes("Score:")) return `${reason}\n\nScore: ${score}`;
  return prose(r, 10 + Math.floor(r() * 60));
}

export function completion(body, id) {
  const n = Math.max(1, Number(body.n ?? 1));
  const choices = [];
  let completionTokens = 0;
  for (let i = 0; i < n; i++) {
    const content = answer(body, i);
    completionTokens += content.split(/\s+/).length;
    choices.push({ index: i, message: { role: "assistant", content }, logprobs: null, finish_reason: "stop" });
  }
  const promptTokens = (body.messages ?? []).reduce((s, m) => s + String(m.content).split(/\s+/).length, 0);
  return {
    id: `chatcmpl-${id}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    choices,
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}

/**
 * Fault knobs apply while the file named by MJ_FAULT_ONCE does not exist, then it is created: a test
 * can fail the first attempt and let the resubmission through.
 */
export function faultsActive() {
  const once = process.env.MJ_FAULT_ONCE;
  if (!once) return true;
  if (existsSync(once)) return false;
  writeFileSync(once, `${process.pid}\n`);
  return true;
}

export function arg(argv, ...names) {
  for (let i = 0; i < argv.length; i++) {
    for (const n of names) {
      if (argv[i] === n) return argv[i + 1];
      if (argv[i].startsWith(`${n}=`)) return argv[i].slice(n.length + 1);
    }
  }
  return undefined;
}

export const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
