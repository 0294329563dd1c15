// Export: the pairs as TRL conversational preference data (dpo.jsonl). Actor pairs train the answer
// to the rendered actor prompt; judge pairs train the judgement of (x, y) under the judge rubric.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DpoRecord, FileStamp, IterationSettings, Manifest, PromptRecord, StageInfo } from "../../schema.js";
import { FILES } from "../../schema.js";
import { IterationStore } from "../../store/iteration.js";
import { readJsonl, toJsonl, writeFileAtomic } from "../../store/jsonl.js";
import { loadJudgements, loadResponses } from "../../store/records.js";
import { renderTemplate, type Template } from "../../templates.js";
import { ActorPairSchema, JudgePairSchema, type ActorPair, type JudgePair } from "../../schema.js";
import { MetajudgeError } from "../../errors.js";

export interface ExportInput {
  iterDir: string;
  prompts: readonly PromptRecord[];
  actorTemplate: Template;
  judgeTemplate: Template;
  settings: Pick<IterationSettings, "train_judge_pairs">;
  signal?: AbortSignal;
  /** Export although a pair file is missing (an empty dpo.jsonl, if both are); otherwise that is refused. */
  allowEmpty?: boolean;
}

/** What an export replaced lone surrogates in: Python's json decodes them, then cannot encode them as UTF-8. */
export interface SurrogateRepair {
  records: number;
  sourceIds: string[];
}

export interface DpoBuild {
  records: DpoRecord[];
  counts: Record<string, number>;
  repaired: SurrogateRepair;
  /** The pair files as they were read (null: missing), so a later recompute shows the export stale. */
  inputs: Record<string, FileStamp | null>;
}

async function readPairs<T>(
  file: string,
  schema: {
    safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { message: string; path: PropertyKey[] }[] } };
  },
): Promise<T[]> {
  const out: T[] = [];
  await readJsonl(file, (v, line) => {
    const r = schema.safeParse(v);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new MetajudgeError(
        "badInput",
        `${file}:${line}: ${issue.path.join(".")}: ${issue.message}; recompute it with \`metajudge pairs\``,
        { file, line },
      );
    }
    out.push(r.data);
  });
  return out;
}

export async function buildDpo(input: ExportInput): Promise<DpoBuild> {
  const store = new IterationStore(input.iterDir);
  const pairFiles = input.settings.train_judge_pairs ? [store.file("actorPairs"), store.file("judgePairs")] : [store.file("actorPairs")];
  // Stamped before reading: a recompute racing this export can only make it look stale, never fresh.
  const inputs: Record<string, FileStamp | null> = {};
  for (const f of pairFiles) inputs[path.basename(f)] = stampFile(f);
  const missing = pairFiles.filter((f) => inputs[path.basename(f)] === null);
  if (missing.length > 0 && !input.allowEmpty) {
    throw new MetajudgeError(
      "badInput",
      `${missing.join(" and ")} not found: the pairs were never computed, so the export would be empty; ` +
        `run \`metajudge pairs ${input.iterDir}\` first (or export with --allow-empty); dpo.jsonl was left as it was`,
      { file: missing[0]! },
    );
  }
  const actorPairs = await readPairs<ActorPair>(store.file("actorPairs"), ActorPairSchema);
  const judgePairs = input.settings.train_judge_pairs ? await readPairs<JudgePair>(store.file("judgePairs"), JudgePairSchema) : [];

  const needResponses = new Set<string>();
  for (const p of actorPairs) needResponses.add(p.chosen_id).add(p.rejected_id);
  for (const p of judgePairs) needResponses.add(p.response_id);
  const needJudgements = new Set<string>();
  for (const p of judgePairs) needJudgements.add(p.chosen_id).add(p.rejected_id);

  const responseText = new Map<string, string>();
  for (const r of await loadResponses(store.file("responses"), true, input.signal))
    if (needResponses.has(r.id)) responseText.set(r.id, r.text!);
  const judgementText = new Map<string, string>();
  for (const j of await loadJudgements(store.file("judgements"), needJudgements, input.signal))
    if (j.text !== undefined) judgementText.set(j.id, j.text);
  const promptText = new Map(input.prompts.map((p) => [p.id, p.prompt]));

  const text = (m: Map<string, string>, id: string, what: string): string => {
    const t = m.get(id);
    if (t === undefined) {
      throw new MetajudgeError(
        "badInput",
        `${what} ${id} is named by a pair but missing from the records; recompute pairs with \`metajudge pairs ${input.iterDir}\``,
      );
    }
    return t;
  };

  const records: DpoRecord[] = [];
  for (const p of actorPairs) {
    const prompt = text(promptText, p.prompt_id, "prompt");
    records.push({
      prompt: [{ role: "user", content: renderTemplate(input.actorTemplate, { prompt }) }],
      chosen: [{ role: "assistant", content: text(responseText, p.chosen_id, "response") }],
      rejected: [{ role: "assistant", content: text(responseText, p.rejected_id, "response") }],
      kind: "actor",
      source_ids: { prompt_id: p.prompt_id, chosen_id: p.chosen_id, rejected_id: p.rejected_id },
    });
  }
  for (const p of judgePairs) {
    const prompt = text(promptText, p.prompt_id, "prompt");
    const response = text(responseText, p.response_id, "response");
    records.push({
      prompt: [{ role: "user", content: renderTemplate(input.judgeTemplate, { prompt, response }) }],
      chosen: [{ role: "assistant", content: text(judgementText, p.chosen_id, "judgement") }],
      rejected: [{ role: "assistant", content: text(judgementText, p.rejected_id, "judgement") }],
      kind: "judge",
      source_ids: { prompt_id: p.prompt_id, response_id: p.response_id, chosen_id: p.chosen_id, rejected_id: p.rejected_id },
    });
  }
  const repaired = repairSurrogates(records);
  const counts: Record<string, number> = { actor: actorPairs.length, judge: judgePairs.length, total: records.length };
  if (repaired.records > 0) counts.surrogates_replaced = repaired.records;
  return { records, counts, repaired, inputs };
}

/** Writes dpo.jsonl and returns its stamp, which the manifest keeps to tell when it was changed or removed. */
export function writeDpo(iterDir: string, records: readonly DpoRecord[]): FileStamp {
  const file = new IterationStore(iterDir).file("dpo");
  const data = Buffer.from(toJsonl(records), "utf8");
  writeFileAtomic(file, data);
  return { size: data.length, mtime_ms: fs.statSync(file).mtimeMs, sha256: sha256(data) };
}

/** The manifest fields of a finished export: what it was built from and what it wrote. */
export function exportStamp(build: DpoBuild, output: FileStamp): Pick<StageInfo, "inputs" | "output"> {
  return { inputs: build.inputs, output };
}

export function surrogateWarning(r: SurrogateRepair): string {
  const shown = r.sourceIds.slice(0, 5).join(", ");
  const more = r.sourceIds.length > 5 ? ` and ${r.sourceIds.length - 5} more` : "";
  return (
    `${r.records} DPO example${r.records === 1 ? "" : "s"} held lone UTF-16 surrogates (half an emoji, as a model cut mid-character writes), ` +
    `which Python cannot encode as UTF-8; each was replaced with U+FFFD in dpo.jsonl (the records keep the original). Sources: ${shown}${more}`
  );
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function repairSurrogates(records: DpoRecord[]): SurrogateRepair {
  const out: SurrogateRepair = { records: 0, sourceIds: [] };
  for (const r of records) {
    let changed = false;
    for (const m of [...r.prompt, ...r.chosen, ...r.rejected]) {
      LONE_SURROGATE.lastIndex = 0;
      if (!LONE_SURROGATE.test(m.content)) continue;
      m.content = m.content.replace(LONE_SURROGATE, "\uFFFD");
      changed = true;
    }
    if (!changed) continue;
    out.records++;
    const s = r.source_ids;
    const ids = [s.prompt_id, s.response_id, s.chosen_id, s.rejected_id].filter((x): x is string => x !== undefined);
    out.sourceIds.push(ids.join("/"));
  }
  return out;
}

function sha256(data: Buffer): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}

function fileSha256(file: string): string {
  const hash = crypto.createHash("sha256");
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}

function stampFile(file: string): FileStamp | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  return { size: st.size, mtime_ms: st.mtimeMs, sha256: fileSha256(file) };
}

/** Whether a file still holds what the stamp says; size and mtime spare the hash when nothing was touched. */
function sameAs(file: string, stamp: FileStamp | null): boolean {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return stamp === null;
    throw err;
  }
  if (stamp === null) return false;
  if (st.size !== stamp.size) return false;
  return st.mtimeMs === stamp.mtime_ms || fileSha256(file) === stamp.sha256;
}

/**
 * Why the iteration's dpo.jsonl no longer matches its pairs (they were recomputed to something else
 * after the export) or is not what the export wrote; null when it is current, or when the export
 * never finished or predates these stamps.
 */
export function exportStaleness(iterDir: string, manifest: Pick<Manifest, "stages"> | null | undefined): string | null {
  const info = manifest?.stages.export;
  if (!info || info.state !== "done" || !info.inputs || !info.output) return null;
  const changed = Object.entries(info.inputs)
    .filter(([name, stamp]) => !sameAs(path.join(iterDir, name), stamp))
    .map(([name]) => name);
  if (changed.length > 0) {
    return `pairs changed after the export; re-export with \`metajudge export ${iterDir}\` (${changed.join(" and ")} no longer what it was built from)`;
  }
  const dpo = path.join(iterDir, FILES.dpo);
  if (!fs.existsSync(dpo)) return `${FILES.dpo} is missing; re-export with \`metajudge export ${iterDir}\``;
  if (!sameAs(dpo, info.output)) return `${FILES.dpo} changed after the export; re-export with \`metajudge export ${iterDir}\``;
  return null;
}
