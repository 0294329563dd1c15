// What a DPO run reports: HF Trainer prints one Python dict a logging step
// ({'loss': 0.6931, 'rewards/margins': 0.03, ..., 'epoch': 0.5}) and keeps the same dicts in
// trainer_state.json's log_history. We read both, because the log is live and the state file is exact.

export interface MetricsEntry {
  step: number;
  metrics: Record<string, number>;
}

// One Python repr dict of string keys and numbers, as Trainer.log prints it (tqdm may prefix it).
const DICT = /\{\s*'[^'\n]+'\s*:\s*[^{}\n]*\}/g;
const PAIR = /'([^'\n]+)'\s*:\s*([^,}]+)/g;

function pyNumber(raw: string): number | undefined {
  const s = raw.trim();
  if (s === "nan" || s === "NaN") return Number.NaN;
  if (s === "inf" || s === "Infinity") return Number.POSITIVE_INFINITY;
  if (s === "-inf" || s === "-Infinity") return Number.NEGATIVE_INFINITY;
  // Newer Transformers print numpy scalars as np.float64(0.69).
  const wrapped = /^(?:np\.)?(?:float|int)\d*\((.*)\)$/.exec(s);
  if (wrapped) return pyNumber(wrapped[1]!);
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/** The numbers of one log dict; undefined when the text is not one (a config dump, a tqdm bar). */
export function parseLogDict(text: string): Record<string, number> | undefined {
  const metrics: Record<string, number> = {};
  let found = 0;
  for (const m of text.matchAll(PAIR)) {
    const v = pyNumber(m[2]!);
    if (v === undefined) return undefined;
    metrics[m[1]!] = v;
    found++;
  }
  return found > 0 ? metrics : undefined;
}

/**
 * Reads log text as it arrives in chunks: a dict split across two chunks is parsed once whole.
 * Steps count the dicts seen, as logging_steps 1 makes them equal to global steps; a dict that
 * carries `step` or `global_step` wins.
 */
export class TrainerLogParser {
  private partial = "";
  private count = 0;

  constructor(private readonly onEntry: (e: MetricsEntry) => void) {}

  push(text: string): void {
    this.partial += text;
    let nl: number;
    while ((nl = this.partial.search(/[\r\n]/)) !== -1) {
      const line = this.partial.slice(0, nl);
      this.partial = this.partial.slice(nl + 1);
      this.line(line);
    }
    // A runaway line without a newline is not a log dict; keep memory bounded.
    if (this.partial.length > 1 << 16) this.partial = "";
  }

  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = "";
  }

  private line(line: string): void {
    for (const m of line.matchAll(DICT)) {
      const metrics = parseLogDict(m[0]);
      if (!metrics) continue;
      // The closing summary (train_runtime, train_loss) belongs to the last step, not a new one.
      if (metrics.train_runtime === undefined) this.count++;
      const step = metrics.step ?? metrics.global_step ?? Math.max(this.count, 1);
      this.onEntry({ step, metrics });
    }
  }
}

export function parseTrainerLog(text: string): MetricsEntry[] {
  const out: MetricsEntry[] = [];
  const p = new TrainerLogParser((e) => out.push(e));
  p.push(text);
  p.end();
  return out;
}

/** trainer_state.json's log_history: each entry has `step` beside the logged values. */
export function parseTrainerState(json: string): MetricsEntry[] {
  let state: unknown;
  try {
    // Python's json.dumps writes NaN and Infinity bare; JSON.parse refuses them.
    state = JSON.parse(json.replace(/(?<=[:\[,]\s*)(-?Infinity|NaN)(?=\s*[,\]}])/g, '"$1"'));
  } catch {
    return [];
  }
  const history = (state as { log_history?: unknown } | null)?.log_history;
  if (!Array.isArray(history)) return [];
  const out: MetricsEntry[] = [];
  for (const entry of history) {
    if (!entry || typeof entry !== "object") continue;
    const metrics: Record<string, number> = {};
    for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
      const n = typeof v === "number" ? v : typeof v === "string" ? pyNumber(v) : undefined;
      if (n !== undefined && k !== "step") metrics[k] = n;
    }
    const step = (entry as { step?: unknown }).step;
    out.push({ step: typeof step === "number" ? step : out.length + 1, metrics });
  }
  return out;
}

/** The last value of each key over the history: what "final metrics" means for a finished run. */
export function finalMetrics(history: readonly MetricsEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of history) Object.assign(out, e.metrics);
  return out;
}
