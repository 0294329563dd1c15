// A paper-scale iteration on disk without a model: 5,000 prompts, K = 7, N = 11 and the meta-judge's
// battles, written in the exact shape the pipeline writes (same ids, seeds, field order, verdicts
// parsed by the same parsers), so `metajudge pairs` cannot tell it from a real run. A seeded PRNG
// makes every machine measure the same bytes, and the result is cached under .tmp/bench/ because
// writing ~0.9 GB costs more than the benchmark it feeds.
import * as fs from "node:fs";
import * as path from "node:path";
import { checkConfigText, CONFIG_FILE } from "../src/core/config.js";
import { defaultConfig, initExperiment } from "../src/core/experiment.js";
import { parseScore, parseWinner } from "../src/core/parse.js";
import { battleId, deriveSeed, judgementId, responseId } from "../src/core/pipeline/ids.js";
import { FILES, ManifestSchema, type Manifest, type StageInfo } from "../src/core/schema.js";
import { battlePlan, pickBattleResponse } from "../src/core/select.js";
import { sha256Hex } from "../src/core/templates.js";
import { VERSION } from "../src/core/version.js";

export interface SynthParams {
  prompts: number;
  k: number;
  n: number;
  seed: number;
}

export const PAPER_SCALE: SynthParams = { prompts: 5_000, k: 7, n: 11, seed: 20240726 };

/** Bump whenever the generator's output changes, so a stale cache is never measured. */
export const SYNTH_VERSION = "2";

export interface SynthCounts {
  prompts: number;
  responses: number;
  judgements: number;
  unparseable_judgements: number;
  battle_responses: number;
  meta_judgements: number;
  no_verdict: number;
  first_wins: number;
  second_wins: number;
  bytes: Record<string, number>;
}

export interface Synth {
  experimentDir: string;
  iterationDir: string;
  key: string;
  counts: SynthCounts;
  /** Seconds spent generating, or null when the cached copy was used. */
  generatedSeconds: number | null;
}

const MODEL = "meta-llama/Meta-Llama-3-8B-Instruct";
const SEEDS = { actor: 1, judge: 2, meta_judge: 3 }; // those of defaultConfig(), as a real run would use

// ---- randomness -----------------------------------------------------------------------------------

/** sfc32: small, fast, and the same sequence on every platform for a given seed. */
function prng(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

class Rand {
  constructor(readonly u: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.u() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.u() * xs.length)] as T;
  }
  normal(): number {
    const u1 = 1 - this.u();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * this.u());
  }
}

// ---- text -----------------------------------------------------------------------------------------

// Sentences come from fixed pools built once: assembling texts from whole sentences keeps generation
// fast, and a few non-ASCII characters make the UTF-8 decoding as real as model output makes it.
const WORDS = (
  "the a model answer question data result method approach example value step first then because however " +
  "therefore simple clear important consider note case use process system test measure improve learn function " +
  "input output training response user each this that which can should will often usually more less better " +
  "different specific general key part way time number small large quickly carefully memory network layer " +
  "gradient batch sample loss error rate library server request file record thread queue cache index query"
).split(" ");
const FLAVOUR = ["—", "’s", "…", "café", "naïve", "“quoted”"];

function sentence(r: Rand): string {
  const words = r.int(7, 24);
  let s = "";
  for (let w = 0; w < words; w++) {
    const word = r.u() < 0.02 ? r.pick(FLAVOUR) : r.pick(WORDS);
    s += w === 0 ? word.charAt(0).toUpperCase() + word.slice(1) : (r.u() < 0.08 ? ", " : " ") + word;
  }
  return s + ".";
}

const CRITERIA = [
  "The response is relevant and provides some information related to the user’s inquiry",
  "It addresses a substantial portion of the user’s question",
  "The answer covers the basic elements of the question in a useful way",
  "It is clearly written from an AI Assistant’s perspective and well organized",
  "The response is impeccably tailored to the question and reflects expert knowledge",
  "Some statements are vague and would benefit from concrete examples",
  "It contains minor inaccuracies that reduce its value",
  "The explanation drifts into material the user did not ask for",
];
const VERDICTS = ["so it earns this point", "which earns a point", "so this point is not awarded", "and this criterion is only partly met"];
const COMPARE = [
  "Judgement A identifies the strengths of the response more precisely than Judgement B",
  "Judgement B follows the additive rubric step by step while Judgement A skips criteria",
  "Both judgements note the relevance of the response, but one overlooks its inaccuracies",
  "Judgement A awards points the response has not earned",
  "Judgement B is better calibrated to the rubric’s fourth and fifth points",
  "The justification in Judgement A is shorter and less specific",
];

interface Pools {
  prose: string[];
  judge: string[];
  meta: string[];
}

function pools(r: Rand): Pools {
  const prose: string[] = [];
  for (let i = 0; i < 4096; i++) prose.push(sentence(r));
  const judge: string[] = [];
  for (let i = 0; i < 1024; i++) judge.push(`${r.pick(CRITERIA)}, ${r.pick(VERDICTS)}. ${sentence(r)}`);
  const meta: string[] = [];
  for (let i = 0; i < 1024; i++) meta.push(`${r.pick(COMPARE)}. ${sentence(r)}`);
  return { prose, judge, meta };
}

/** Sentences from `pool` up to a length drawn from [lo, hi], with the odd paragraph or list; never longer than hi. */
function text(r: Rand, pool: readonly string[], lo: number, hi: number, lists: boolean): string {
  const length = r.int(lo, hi);
  let out = "";
  while (out.length < length) {
    let s = r.pick(pool);
    const sep = out === "" ? "" : lists && r.u() < 0.08 ? "\n- " : r.u() < 0.12 ? "\n\n" : " ";
    const room = hi - out.length - sep.length;
    if (s.length > room) {
      // End inside the sentence, on a word, rather than run past the longest text wanted.
      const cut = s.lastIndexOf(" ", room - 1);
      if (cut <= 0) break;
      s = s.slice(0, cut).replace(/,$/, "") + ".";
    }
    out += sep + s;
  }
  return out;
}

function scoreLine(r: Rand, score: number): string {
  const u = r.u();
  if (u < 0.08) return `**Score:** ${score}/5`;
  if (u < 0.12) return `Score: **${score}**`;
  return `Score: ${score}`;
}

// ---- writing --------------------------------------------------------------------------------------

/** Buffers whole lines and writes them in ~1 MiB pieces: one record in memory at a time, not a file. */
class LineWriter {
  private fd: number;
  private pending = "";
  bytes = 0;
  lines = 0;
  constructor(readonly file: string) {
    this.fd = fs.openSync(file, "w");
  }
  write(record: object): void {
    this.pending += JSON.stringify(record) + "\n";
    this.lines++;
    if (this.pending.length >= 1 << 20) this.flush();
  }
  private flush(): void {
    if (this.pending === "") return;
    const data = Buffer.from(this.pending, "utf8");
    let off = 0;
    while (off < data.length) off += fs.writeSync(this.fd, data, off, data.length - off);
    this.bytes += data.length;
    this.pending = "";
  }
  close(): void {
    this.flush();
    // On disk before the cache is marked complete, and before anything is timed: a gigabyte of
    // writeback would otherwise run under the first measurements.
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
  }
}

// ---- the iteration --------------------------------------------------------------------------------

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const pad = (i: number): string => String(i).padStart(5, "0");

function generate(dir: string, root: string, p: SynthParams): SynthCounts {
  initExperiment(dir, root);
  const config = defaultConfig();
  config.name = "bench-paper-scale";
  config.roles.actor.sampling.n = p.k;
  config.roles.judge.sampling.n = p.n;
  const configText = JSON.stringify(config, null, 2) + "\n";
  const checked = checkConfigText(configText, CONFIG_FILE);
  if (!checked.config) throw new Error(`synthetic config is invalid: ${checked.problems.map((x) => x.message).join("; ")}`);
  fs.writeFileSync(path.join(dir, CONFIG_FILE), configText);

  const r = new Rand(prng(p.seed));
  const pool = pools(r);
  const iterDir = path.join(dir, "iterations", "1");
  fs.mkdirSync(iterDir, { recursive: true });
  const promptsOut = new LineWriter(path.join(dir, "prompts.jsonl"));
  const responsesOut = new LineWriter(path.join(iterDir, FILES.responses));
  const judgementsOut = new LineWriter(path.join(iterDir, FILES.judgements));
  const metaOut = new LineWriter(path.join(iterDir, FILES.metaJudgements));
  const counts: SynthCounts = {
    prompts: p.prompts,
    responses: 0,
    judgements: 0,
    unparseable_judgements: 0,
    battle_responses: 0,
    meta_judgements: 0,
    no_verdict: 0,
    first_wins: 0,
    second_wins: 0,
    bytes: {},
  };
  let responseChars = 0;
  let judgementChars = 0;
  let metaChars = 0;

  for (let pi = 0; pi < p.prompts; pi++) {
    const promptId = `p${pad(pi)}`;
    promptsOut.write({ id: promptId, prompt: text(r, pool.prose, 60, 600, false) });
    const difficulty = 1 + r.u() * 3.5;
    const actorSeed = deriveSeed(SEEDS.actor, promptId);
    const judged: {
      id: string;
      index: number;
      scores: (number | null)[];
      rows: { id: string; index: number; score: number | null; length: number; quality: number }[];
    }[] = [];

    for (let ri = 0; ri < p.k; ri++) {
      const rid = responseId(promptId, ri);
      const responseText = text(r, pool.prose, 800, 2000, true);
      responseChars += responseText.length;
      responsesOut.write({
        id: rid,
        prompt_id: promptId,
        index: ri,
        text: responseText,
        finish_reason: "stop",
        model: MODEL,
        seed: actorSeed,
      });
      counts.responses++;

      const quality = difficulty + 0.9 * r.normal();
      const judgeSeed = deriveSeed(SEEDS.judge, rid);
      const rows: (typeof judged)[number]["rows"] = [];
      for (let ji = 0; ji < p.n; ji++) {
        const jid = judgementId(rid, ji);
        const body = text(r, pool.judge, 380, 1060, false);
        let judgementText: string;
        if (r.u() < 0.03) {
          judgementText = `${body}\n\nOverall the response deserves a middling rating, though the rubric leaves room for doubt.`;
        } else {
          const raw = quality + 0.8 * r.normal();
          const score = r.u() < 0.06 ? clamp(Math.round(raw * 2) / 2, 0, 5) : clamp(Math.round(raw), 0, 5);
          judgementText = `${body}\n\n${scoreLine(r, score)}`;
        }
        // The record holds what the pipeline's own parser reads from the text, nothing assumed.
        const parsed = parseScore(judgementText);
        const rec: Record<string, unknown> = {
          id: jid,
          prompt_id: promptId,
          response_id: rid,
          index: ji,
          text: judgementText,
          score: parsed.score,
          finish_reason: "stop",
          model: MODEL,
          seed: judgeSeed,
        };
        if (parsed.error) {
          rec.parse_error = parsed.error;
          counts.unparseable_judgements++;
        }
        judgementsOut.write(rec);
        judgementChars += judgementText.length;
        counts.judgements++;
        rows.push({ id: jid, index: ji, score: parsed.score, length: judgementText.length, quality: r.normal() });
      }
      judged.push({ id: rid, index: ri, scores: rows.map((x) => x.score), rows });
    }

    // The meta-judge stage's own choice of response and order of battles.
    const chosen = pickBattleResponse(judged);
    if (chosen === null) continue;
    counts.battle_responses++;
    const rows = judged.find((x) => x.id === chosen)!.rows;
    const byId = new Map(rows.map((x) => [x.id, x]));
    for (const b of battlePlan(rows)) {
      const first = byId.get(b.first_id)!;
      const second = byId.get(b.second_id)!;
      const id = battleId(chosen, first.index, second.index);
      const reason = text(r, pool.meta, 260, 840, false);
      let metaText: string;
      if (r.u() < 0.03) {
        metaText = `${reason}\n\nBoth judgements have merit and neither is clearly better.`;
      } else {
        // Position bias toward the first shown, a taste for longer judgements, and real quality.
        const pFirst = sigmoid(0.4 + 0.9 * (first.quality - second.quality) + (first.length - second.length) / 600);
        metaText = `${reason}\n\nWinner: Judgement ${r.u() < pFirst ? "A" : "B"}`;
      }
      const parsed = parseWinner(metaText);
      const winner = parsed.winner === "A" ? "first" : parsed.winner === "B" ? "second" : null;
      const rec: Record<string, unknown> = {
        id,
        prompt_id: promptId,
        response_id: chosen,
        first_id: first.id,
        second_id: second.id,
        text: metaText,
        winner,
        finish_reason: "stop",
        model: MODEL,
        seed: deriveSeed(SEEDS.meta_judge, id),
      };
      if (parsed.error) rec.parse_error = parsed.error;
      metaOut.write(rec);
      metaChars += metaText.length;
      counts.meta_judgements++;
      if (winner === null) counts.no_verdict++;
      else if (winner === "first") counts.first_wins++;
      else counts.second_wins++;
    }
  }
  for (const w of [promptsOut, responsesOut, judgementsOut, metaOut]) w.close();
  counts.bytes = {
    "prompts.jsonl": promptsOut.bytes,
    [FILES.responses]: responsesOut.bytes,
    [FILES.judgements]: judgementsOut.bytes,
    [FILES.metaJudgements]: metaOut.bytes,
  };

  writeManifest(dir, iterDir, configText, counts, { responseChars, judgementChars, metaChars });
  return counts;
}

/** A manifest as a finished metajudge stage would leave it, so `status` and `pairs` see a normal iteration. */
function writeManifest(
  dir: string,
  iterDir: string,
  configText: string,
  c: SynthCounts,
  chars: { responseChars: number; judgementChars: number; metaChars: number },
): void {
  const at = "2026-01-01T00:00:00.000Z";
  const tokens = (n: number): number => Math.ceil(n / 4);
  const stage = (counts: Record<string, number>, requests: number, completionChars: number): StageInfo => ({
    state: "done",
    started_at: at,
    finished_at: at,
    seconds: 0,
    counts,
    usage: { prompt_tokens: requests * 400, completion_tokens: tokens(completionChars), requests },
  });
  const stages: Record<string, StageInfo> = {
    generate: stage({ length_cut: 0, empty: 0, records: c.responses, expected: c.responses }, c.prompts, chars.responseChars),
    judge: stage(
      {
        duplicates_skipped: 0,
        parse_failures: c.unparseable_judgements,
        scored: c.judgements - c.unparseable_judgements,
        records: c.judgements,
        expected: c.judgements,
      },
      c.responses,
      chars.judgementChars,
    ),
    metajudge: stage(
      {
        prompts_without_battle: c.prompts - c.battle_responses,
        decisive: c.meta_judgements - c.no_verdict,
        no_verdict: c.no_verdict,
        records: c.meta_judgements,
        expected: c.meta_judgements,
      },
      c.meta_judgements,
      chars.metaChars,
    ),
    pairs: { state: "pending", counts: {} },
    export: { state: "pending", counts: {} },
  };
  const usage = { prompt_tokens: 0, completion_tokens: 0, requests: 0 };
  for (const s of Object.values(stages)) {
    if (!s.usage) continue;
    usage.prompt_tokens += s.usage.prompt_tokens;
    usage.completion_tokens += s.usage.completion_tokens;
    usage.requests += s.usage.requests;
  }
  const config = JSON.parse(configText) as Record<string, unknown>;
  const templates: Record<string, { path: string; sha256: string }> = {};
  for (const role of ["actor", "judge", "meta_judge"]) {
    const rel = `prompts/${role}.md`;
    templates[role] = { path: rel, sha256: sha256Hex(fs.readFileSync(path.join(dir, rel))) };
  }
  const manifest: Manifest = ManifestSchema.parse({
    format: 1,
    iteration: 1,
    created_at: at,
    updated_at: at,
    metajudge_version: VERSION,
    config,
    settings: (config.iterations as unknown[])[0],
    models: { actor: MODEL, judge: MODEL, meta_judge: MODEL },
    templates,
    prompts: { path: "prompts.jsonl", sha256: sha256Hex(fs.readFileSync(path.join(dir, "prompts.jsonl"))), count: c.prompts },
    stages,
    usage,
  });
  fs.writeFileSync(path.join(iterDir, FILES.manifest), JSON.stringify(manifest, null, 2) + "\n");
}

/**
 * The cached synthetic experiment for `params`, generated on first use. Generation goes to a scratch
 * folder renamed into place at the end, so an interrupted run never leaves a half-written cache.
 */
export function ensureSynth(
  cacheRoot: string,
  repoRoot: string,
  params: SynthParams = PAPER_SCALE,
  log: (s: string) => void = () => {},
): Synth {
  const key = `synth-v${SYNTH_VERSION}-p${params.prompts}-k${params.k}-n${params.n}-s${params.seed}`;
  const home = path.join(cacheRoot, key);
  const experimentDir = path.join(home, "exp");
  const iterationDir = path.join(experimentDir, "iterations", "1");
  const stamp = path.join(home, "synth.json");
  fs.mkdirSync(cacheRoot, { recursive: true });
  if (fs.existsSync(stamp)) {
    const saved = JSON.parse(fs.readFileSync(stamp, "utf8")) as { key: string; counts: SynthCounts };
    // A config schema that moved on since the cache was written would make every run fail.
    const configFile = path.join(experimentDir, CONFIG_FILE);
    const stillValid = fs.existsSync(configFile) && checkConfigText(fs.readFileSync(configFile, "utf8"), configFile).config !== undefined;
    if (saved.key === key && stillValid) return { experimentDir, iterationDir, key, counts: saved.counts, generatedSeconds: null };
  }
  // Older versions are ours and nearly a gigabyte each.
  for (const name of fs.readdirSync(cacheRoot)) {
    if (name.startsWith("synth-") && name !== key) fs.rmSync(path.join(cacheRoot, name), { recursive: true, force: true });
  }
  const scratch = `${home}.tmp-${process.pid}`;
  fs.rmSync(scratch, { recursive: true, force: true });
  log(`generating ${key} (once; later runs reuse it)…`);
  const t0 = Date.now();
  const counts = generate(path.join(scratch, "exp"), repoRoot, params);
  fs.writeFileSync(path.join(scratch, "synth.json"), JSON.stringify({ key, params, counts }, null, 2) + "\n");
  fs.rmSync(home, { recursive: true, force: true });
  fs.renameSync(scratch, home);
  return { experimentDir, iterationDir, key, counts, generatedSeconds: (Date.now() - t0) / 1000 };
}
