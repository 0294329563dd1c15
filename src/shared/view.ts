// What the workbench shows of an iteration: plain data, shared by the tree, the inspector (through
// the webview protocol) and the inline record hints. Produced by IterationModel from the indexes.
// It lives in src/shared so the browser bundle can use it without reaching into src/core; the
// unions below mirror src/core/schema.ts, and src/core/view/types.ts fails to compile if they drift.

export type StageName = "generate" | "judge" | "metajudge" | "pairs" | "export";
export type StageState = "pending" | "running" | "done" | "failed" | "cancelled";
export type VerdictMode = "text" | "json_schema";

export type AnnotationLabel = "suspicious" | "confirmed" | "cleared";
export type TargetKind = "response" | "judgement" | "meta_judgement";
export type PairRole = "chosen" | "rejected";

export interface StageSummary {
  stage: StageName;
  state: StageState;
  /** Records on disk / records the stage holds when complete (null when not yet known). */
  done: number;
  total: number | null;
  counts: Record<string, number>;
  /** The export only: why dpo.jsonl no longer matches its pairs (recomputed since) or what it wrote; absent when current. */
  stale?: string;
}

/** The DPO training of this iteration's pairs, as a remote launch recorded it in the manifest. */
export interface TrainingSummary {
  jobId: string;
  host: string;
  checkpoint: string;
  baseModel?: string;
  finishedAt?: string;
  /** loss, rewards/margins, rewards/accuracies, train_loss: whichever the trainer logged. */
  final: Record<string, number>;
  steps: number;
}

export interface IterationSummary {
  iteration: number;
  dir: string;
  models: { actor: string; judge: string; meta_judge: string } | null;
  stages: StageSummary[];
  training: TrainingSummary | null;
  prompts: number;
  flagged: number;
  usage: { prompt_tokens: number; completion_tokens: number; requests: number } | null;
}

export type PromptSort = "id" | "spread" | "parse_failures" | "flags";

export interface PromptRow {
  id: string;
  /** The first ~160 characters, on one line. */
  preview: string;
  responses: number;
  judgements: number;
  parseFailures: number;
  /** Highest minus lowest mean response score; null when fewer than two responses are scored. */
  spread: number | null;
  flags: number;
  hasActorPair: boolean;
  hasJudgePair: boolean;
}

export interface ResponseRow {
  id: string;
  promptId: string;
  index: number;
  length: number;
  meanScore: number | null;
  judgements: number;
  validJudgements: number;
  /** Variance of valid judgement scores (what picks the battled response). */
  variance: number | null;
  duplicateOf?: string;
  pairRole?: PairRole;
  battled: boolean;
  flag?: AnnotationLabel;
}

export interface JudgementRow {
  id: string;
  responseId: string;
  index: number;
  score: number | null;
  parseError?: string;
  length: number;
  elo?: number;
  pairRole?: PairRole;
  flag?: AnnotationLabel;
}

export interface BattleRow {
  id: string;
  firstId: string;
  secondId: string;
  winner: "first" | "second" | null;
  parseError?: string;
  flag?: AnnotationLabel;
}

/** An item flagged suspicious, for "Next Suspicious Item". */
export interface FlaggedItem {
  id: string;
  kind: TargetKind;
  promptId: string;
}

/** What the inline hints show beside one line of a record file. */
export interface LineInfo {
  line: number; // 1-based
  id: string;
  kind: TargetKind;
  /** Judgements: the stored score. */
  score?: number | null;
  /** Meta-judgements: the stored verdict. */
  winner?: "first" | "second" | null;
  /** Judgements of a battled response: Elo from its unflagged battles. */
  elo?: number;
  /** Responses: mean of the unflagged valid judgement scores. */
  meanScore?: number | null;
  flag?: AnnotationLabel;
  parseError?: string;
}

/** Where a record lives, so an editor can open the file at its line. */
export interface RecordLocation {
  file: string;
  line: number; // 1-based
  offset: number; // byte offset of the line
  length: number; // bytes, without the newline
}

// ---- the inspector: everything about one prompt --------------------------------------------------

export interface InspectorJudgement extends JudgementRow {
  text: string;
  /** [start, end) of the parsed "Score: X" (or the JSON `"score": X`) in `text` (UTF-16 offsets), for highlighting. */
  scoreSpan?: [number, number];
  note?: string;
  /** Set when the record was read as JSON; absent means text, as in the record. */
  mode?: VerdictMode;
}

export interface InspectorResponse extends ResponseRow {
  text: string;
  scores: (number | null)[];
  note?: string;
  judgementList: InspectorJudgement[];
}

export interface InspectorBattle extends BattleRow {
  text: string;
  winnerSpan?: [number, number];
  /** As for judgements: absent means text. */
  mode?: VerdictMode;
}

export interface InspectorBattles {
  responseId: string;
  /** Judgement ids in index order: the rows and columns of the matrix. */
  judgementIds: string[];
  battles: InspectorBattle[];
  /** Unordered pairs {a, b} whose two orders gave contradicting verdicts (each order won by its first, or each by its second). */
  inconsistent: [string, string][];
  elo: Record<string, number>;
  stats: { win_1st: number; win_2nd: number; w1: number; w2: number; decisive: number; battles: number } | null;
  pair: { chosenId: string; rejectedId: string } | null;
  skip?: string;
  /** The skip reason's particulars, e.g. how many judgements share the top Elo. */
  skipDetail?: string;
}

export interface InspectorActorPair {
  chosenId: string | null;
  rejectedId: string | null;
  rho: number;
  /** Chosen must score at least `upper`; rejected at most `lower`. */
  upper: number | null;
  lower: number | null;
  sMax: number | null;
  sMin: number | null;
  skip?: string;
  skipDetail?: string;
}

export interface InspectorData {
  experimentDir: string;
  iteration: number;
  prompt: { id: string; text: string };
  responses: InspectorResponse[];
  battles: InspectorBattles | null;
  actorPair: InspectorActorPair;
  /**
   * Which parser produced the scores (text = "Score: X" parsing): the mode of this prompt's
   * judgements when they agree, else the iteration's; judgements read otherwise carry their own `mode`.
   */
  judgeMode: VerdictMode;
  /** The same for the meta-judge's verdicts. */
  metaJudgeMode?: VerdictMode;
}
