// The read side of one iteration, for the workbench: summaries, pages of prompts, a response's
// judgements and battles, the inspector's data and per-line hints, all answered from the byte-offset
// index (store/index.ts) without holding a single text. Opening a paper-scale iteration streams
// ~1 GB once and saves the index; later opens read the saved index, and refresh() scans only what a
// running stage appended.
import * as path from "node:path";
import { parseScore, parseWinner } from "../parse.js";
import { FILES, STAGES, type Annotation, type Manifest, type StageName, type VerdictMode } from "../schema.js";
import { IterationIndex, type IndexChanges, type IndexOptions } from "../store/index.js";
import { iterationDir } from "../store/iteration.js";
import { exportStaleness } from "../pipeline/stages/export.js";
import { Aggregates } from "./aggregate.js";
import { RecordGraph } from "./graph.js";
import { buildInspector } from "./inspector.js";
import { lineInfo, recordAtLine } from "./lines.js";
import {
  battleRecords,
  battleRow,
  judgePair,
  judgementRecords,
  judgementRow,
  LOOKUP_ORDER,
  responseRecords,
  responseRow,
  type ViewData,
} from "./rows.js";
import {
  configFile,
  NO_PAIRS,
  readLatestAnnotations,
  readManifestLenient,
  readPairFile,
  viewSettings,
  Watched,
  type PairFile,
  type ViewSettings,
} from "./side-files.js";
import { readObjects } from "./texts.js";
import type {
  AnnotationLabel,
  BattleRow,
  FlaggedItem,
  InspectorData,
  IterationSummary,
  TrainingSummary,
  JudgementRow,
  LineInfo,
  PromptRow,
  PromptSort,
  RecordLocation,
  ResponseRow,
  StageSummary,
  TargetKind,
} from "./types.js";

export type OpenOptions = IndexOptions;

export class IterationModel {
  private data: ViewData | null = null;
  private disposed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private settings: ViewSettings;
  private readonly annotations: Watched<Map<string, Annotation>>;
  private readonly actorPairs: Watched<PairFile>;
  private readonly judgePairs: Watched<PairFile>;
  private readonly manifest: Watched<Manifest | null>;
  private readonly config: Watched<null>;
  private readonly graph: RecordGraph;

  private constructor(
    readonly experimentDir: string,
    readonly iteration: number,
    readonly dir: string,
    private readonly index: IterationIndex,
    settings: ViewSettings,
    manifest: Watched<Manifest | null>,
    config: Watched<null>,
  ) {
    this.settings = settings;
    this.manifest = manifest;
    this.config = config;
    this.annotations = new Watched(path.join(dir, FILES.annotations), readLatestAnnotations, new Map());
    this.actorPairs = new Watched(path.join(dir, FILES.actorPairs), readPairFile, NO_PAIRS);
    this.judgePairs = new Watched(path.join(dir, FILES.judgePairs), readPairFile, NO_PAIRS);
    this.graph = new RecordGraph(index);
  }

  static async open(experimentDir: string, iteration: number, opts: OpenOptions = {}): Promise<IterationModel> {
    const root = path.resolve(experimentDir);
    const dir = iterationDir(root, iteration);
    const manifest = new Watched(path.join(dir, FILES.manifest), readManifestLenient, null);
    const config = new Watched<null>(configFile(root), async () => null, null);
    await Promise.all([manifest.reload(), config.reload()]);
    const settings = viewSettings(root, iteration, manifest.value);
    const index = await IterationIndex.open(dir, settings.promptsFile, opts);
    const model = new IterationModel(root, iteration, dir, index, settings, manifest, config);
    await model.sync(null);
    return model;
  }

  /** Picks up appended records, annotations, pair files, manifest and config; cheap (stats) when nothing moved. */
  refresh(): Promise<{ changed: boolean }> {
    const run = this.queue.then(async () => {
      let changed = false;
      const [config, manifest] = await Promise.all([this.config.reload(), this.manifest.reload()]);
      if (config || manifest) {
        const next = viewSettings(this.experimentDir, this.iteration, this.manifest.value);
        // The manifest is rewritten as stages progress; only a change of setting means new selections.
        const modesMoved = next.modes.judge !== this.settings.modes.judge || next.modes.meta_judge !== this.settings.modes.meta_judge;
        if (
          next.rho !== this.settings.rho ||
          next.lengthCap !== this.settings.lengthCap ||
          next.promptsFile !== this.settings.promptsFile ||
          next.problem !== this.settings.problem ||
          modesMoved
        ) {
          this.settings = next;
          this.index.setPromptsFile(next.promptsFile);
        }
        changed = true;
      }
      const changes = await this.index.refresh();
      return { changed: (await this.sync(changes)) || changed || changes.appended.length + changes.rebuilt.length > 0 };
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Saves the index if records were added since it was last saved; the model is unusable afterwards. */
  dispose(): void {
    this.disposed = true;
    if (this.index.dirty) void this.index.save().catch(() => undefined);
    this.index.dispose();
    this.data = null;
  }

  /** Bytes of record files scanned since open: 0 when the saved index was current. */
  get scannedBytes(): number {
    return this.index.scannedBytes;
  }

  /** Why metajudge.json could not be used (the settings then come from the manifest), if it could not. */
  get configProblem(): string | undefined {
    return this.settings.problem;
  }

  summary(): IterationSummary {
    const v = this.view();
    const m = this.manifest.value;
    const done: Record<StageName, number> = {
      generate: v.agg.distinct.response,
      judge: v.agg.distinct.judgement,
      metajudge: v.agg.distinct.meta_judgement,
      pairs: v.actorPairs.lines + v.judgePairs.lines,
      // The export stage counts what it wrote as `total` (beside `actor` and `judge`), not `records`.
      export: m?.stages.export?.counts.records ?? m?.stages.export?.counts.total ?? 0,
    };
    const stages: StageSummary[] = STAGES.map((stage) => {
      const info = m?.stages[stage];
      const expected = info?.counts.expected;
      // Records written by another tool have no manifest: records on disk then say the stage ran.
      const state = info?.state ?? (done[stage] > 0 ? "done" : "pending");
      const summary: StageSummary = {
        stage,
        state,
        done: done[stage],
        total: expected ?? (state === "done" ? done[stage] : null),
        counts: { ...(info?.counts ?? {}) },
      };
      const stale = stage === "export" ? exportStaleness(this.dir, m) : null;
      if (stale) summary.stale = stale;
      return summary;
    });
    return {
      iteration: this.iteration,
      dir: this.dir,
      models: m?.models ?? null,
      stages,
      training: trainingSummary((m as Record<string, unknown> | null | undefined)?.training),
      prompts: v.agg.rowKeys.length,
      flagged: v.agg.flaggedItems.length,
      usage: m?.usage ?? null,
    };
  }

  prompts(opts: { offset: number; limit: number; sort: PromptSort; flaggedOnly?: boolean }): { total: number; rows: PromptRow[] } {
    const v = this.view();
    const { agg, index } = v;
    let order: ArrayLike<number> = agg.order(opts.sort);
    if (opts.flaggedOnly) order = Array.prototype.filter.call(order, (row: number) => agg.rowFlags[row]! > 0) as number[];
    const from = Math.max(0, Math.floor(opts.offset));
    const to = Math.min(order.length, from + Math.max(0, Math.floor(opts.limit)));
    const rows: PromptRow[] = [];
    const P = v.tables.prompt;
    for (let i = from; i < to; i++) {
      const row = order[i]!;
      const key = agg.rowKeys[row]!;
      const p = v.graph.record("prompt", key);
      const spread = agg.rowSpread[row]!;
      rows.push({
        id: index.pool.get(key),
        preview: p >= 0 ? (P.previews[p] ?? "") : "",
        responses: agg.rowResponses[row]!,
        judgements: agg.rowJudgements[row]!,
        parseFailures: agg.rowFailures[row]!,
        spread: Number.isNaN(spread) ? null : spread,
        flags: agg.rowFlags[row]!,
        hasActorPair: agg.hasActorPair(row),
        hasJudgePair: agg.hasJudgePair(row),
      });
    }
    return { total: order.length, rows };
  }

  responses(promptId: string): ResponseRow[] {
    const v = this.view();
    const key = v.index.pool.find(promptId);
    return key < 0 ? [] : responseRecords(v, key).map((r) => responseRow(v, r));
  }

  judgements(responseId: string): JudgementRow[] {
    const v = this.view();
    const key = v.index.pool.find(responseId);
    if (key < 0) return [];
    const elo = judgePair(v, key)?.elo;
    return judgementRecords(v, key).map((j) => judgementRow(v, j, elo));
  }

  battles(responseId: string): BattleRow[] {
    const v = this.view();
    const key = v.index.pool.find(responseId);
    return key < 0 ? [] : battleRecords(v, key).map((b) => battleRow(v, b));
  }

  /** Items whose latest annotation is "suspicious", by prompt, then kind, then line: a stable walk for "Next Suspicious Item". */
  flagged(): FlaggedItem[] {
    return this.view().agg.flaggedItems.slice();
  }

  annotation(id: string): Annotation | undefined {
    return this.view().annotations.get(id);
  }

  locate(id: string): RecordLocation | null {
    const v = this.view();
    const key = v.index.pool.find(id);
    if (key < 0) return null;
    for (const kind of LOOKUP_ORDER) {
      const r = v.graph.record(kind, key);
      if (r < 0) continue;
      const t = v.tables[kind];
      return { file: v.index.file(kind), line: t.line[r]!, offset: t.offset[r]!, length: t.bytes[r]! };
    }
    return null;
  }

  kindOf(id: string): TargetKind | "prompt" | null {
    const v = this.view();
    const key = v.index.pool.find(id);
    if (key >= 0) for (const kind of LOOKUP_ORDER) if (v.graph.record(kind, key) >= 0) return kind;
    return null;
  }

  /** The whole record, read from its line; null when the id is unknown or its line no longer parses. */
  async readRecord(id: string): Promise<Record<string, unknown> | null> {
    const loc = this.locate(id);
    if (!loc) return null;
    const [obj] = await readObjects(loc.file, [{ offset: loc.offset, bytes: loc.length }]);
    return obj ?? null;
  }

  recordAtLine(file: string, line: number): { id: string; kind: TargetKind } | null {
    return recordAtLine(this.view(), file, line);
  }

  lineInfo(file: string, fromLine: number, toLine: number): LineInfo[] {
    return lineInfo(this.view(), file, fromLine, toLine);
  }

  /**
   * Where the parsed verdict sits in a judgement's or battle's text, for highlighting. Pass the
   * record's `mode` when at hand: without it the iteration's mode is assumed, which is wrong only
   * for records of an iteration whose mode was changed midway.
   */
  scoreSpan(id: string, text: string, mode?: VerdictMode): [number, number] | undefined {
    const kind = this.kindOf(id);
    const modes = this.view().settings.modes;
    if (kind === "judgement") return parseScore(text, mode ?? modes.judge).span;
    if (kind === "meta_judgement") return parseWinner(text, mode ?? modes.meta_judge).span;
    return undefined;
  }

  async inspector(promptId: string): Promise<InspectorData> {
    // Texts are read after the record lists are taken; if a refresh landed in between, take them again.
    for (let attempt = 0; ; attempt++) {
      const v = this.view();
      const data = await buildInspector(v, this.experimentDir, this.iteration, promptId);
      if (v === this.data || attempt === 2) return data;
    }
  }

  /** Latest label per target, for callers that only need the flag. */
  label(id: string): AnnotationLabel | undefined {
    return this.view().annotations.get(id)?.label;
  }

  private view(): ViewData {
    if (!this.data) throw new Error("IterationModel used after dispose()");
    return this.data;
  }

  /** Re-links and re-aggregates after a change; true when anything the views show may differ. */
  private async sync(changes: IndexChanges | null): Promise<boolean> {
    const side = await Promise.all([this.annotations.reload(), this.actorPairs.reload(), this.judgePairs.reload()]);
    if (this.disposed) return false;
    const moved = changes === null || changes.appended.length + changes.rebuilt.length > 0;
    if (!moved && !side.some(Boolean) && this.data && this.data.settings === this.settings) return false;
    this.graph.update(changes ?? undefined);
    const pool = this.index.pool;
    const suspicious = new Uint8Array(pool.count);
    for (const [id, a] of this.annotations.value) {
      if (a.label !== "suspicious") continue;
      const key = pool.find(id);
      if (key >= 0) suspicious[key] = 1;
    }
    const tables = { ...this.index.tables };
    const agg = new Aggregates(this.index, tables, this.graph, suspicious, this.actorPairs.value, this.judgePairs.value);
    this.data = {
      index: this.index,
      tables,
      graph: this.graph,
      agg,
      annotations: this.annotations.value,
      actorPairs: this.actorPairs.value,
      judgePairs: this.judgePairs.value,
      settings: this.settings,
      judgePairMemo: new Map(),
    };
    return true;
  }
}

/** The manifest's training section, read defensively: another tool (or an older version) may have written it. */
function trainingSummary(raw: unknown): TrainingSummary | null {
  if (!raw || typeof raw !== "object") return null;
  const t = raw as Record<string, unknown>;
  if (typeof t.job_id !== "string" || typeof t.checkpoint !== "string") return null;
  const final: Record<string, number> = {};
  if (t.final && typeof t.final === "object") {
    for (const [k, v] of Object.entries(t.final as Record<string, unknown>)) if (typeof v === "number" && Number.isFinite(v)) final[k] = v;
  }
  return {
    jobId: t.job_id,
    host: typeof t.host === "string" ? t.host : "",
    checkpoint: t.checkpoint,
    ...(typeof t.base_model === "string" ? { baseModel: t.base_model } : {}),
    ...(typeof t.finished_at === "string" ? { finishedAt: t.finished_at } : {}),
    final,
    steps: Array.isArray(t.history) ? t.history.length : 0,
  };
}
