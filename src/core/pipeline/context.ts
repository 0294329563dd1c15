// Everything one iteration's stages share: config, templates, prompt set, store, clients, manifest.
import * as os from "node:os";
import * as path from "node:path";
import { iterationSettings, loadConfig, resolveIn, roleEndpoint } from "../config.js";
import { MetajudgeError } from "../errors.js";
import { LlmClient } from "../llm/client.js";
import { loadPrompts, type PromptSet } from "../prompts.js";
import {
  STAGES,
  type StageName,
  type Config,
  type InputChange,
  type IterationSettings,
  type Manifest,
  type Role,
  type SamplingStamp,
  type StageInfo,
  type VerdictMode,
} from "../schema.js";
import { IterationStore, iterationDir } from "../store/iteration.js";
import { ensureWriting } from "./writer.js";
import { loadTemplate } from "../templates.js";
import type { EventSink } from "./events.js";
import { VERSION } from "../version.js";

export type LoadedTemplate = Awaited<ReturnType<typeof loadTemplate>>;

export interface RunContext {
  experimentDir: string;
  iteration: number;
  config: Config;
  settings: IterationSettings;
  store: IterationStore;
  prompts: PromptSet;
  templates: Record<Role, LoadedTemplate>;
  models: Record<Role, string>;
  manifest: Manifest;
  emit: EventSink;
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
  /** The stage running now, for events raised below the stage (retries). */
  currentStage?: StageName;
  client(role: Role): LlmClient;
  saveManifest(): void;
  stageInfo(stage: string): StageInfo;
}

export interface OpenOptions {
  experimentDir: string;
  iteration: number;
  emit: EventSink;
  signal: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** Resume even though a template or the prompt set changed since the iteration started. */
  allowChangedInputs?: boolean;
  /** Sends every role to this base URL for this run only (a tunnel to a server on a remote host); metajudge.json is left as it is. */
  baseUrl?: string;
}

const ROLES: readonly Role[] = ["actor", "judge", "meta_judge"];

export async function openRun(opts: OpenOptions): Promise<RunContext> {
  const { experimentDir, iteration } = opts;
  const config = withBaseUrl(loadConfig(experimentDir), opts.baseUrl);
  const settings = iterationSettings(config, iteration);
  const prompts = await loadPrompts(resolveIn(experimentDir, config.prompts));
  const templates = {} as Record<Role, LoadedTemplate>;
  for (const role of ROLES) templates[role] = await loadTemplate(resolveIn(experimentDir, config.templates[role]), role);
  const models = Object.fromEntries(ROLES.map((r) => [r, roleEndpoint(config, r, settings).model])) as Record<Role, string>;

  const store = new IterationStore(iterationDir(experimentDir, iteration));
  store.ensureDir();
  // Repairing tails and saving the manifest are writes: never beside another writer of this iteration.
  ensureWriting(store.dir, { emit: opts.emit });
  for (const r of store.repair()) {
    opts.emit({
      type: "warning",
      message: r.savedTo
        ? `${r.file}: its last line was torn by an interrupted write; ${r.bytes} bytes moved to ${r.savedTo} and the work will be redone`
        : `${r.file}: its last record lacked a newline; added`,
    });
  }

  const now = new Date().toISOString();
  const rel = (p: string): string => path.relative(experimentDir, p) || p;
  const templateInfo = Object.fromEntries(ROLES.map((r) => [r, { path: rel(templates[r].path), sha256: templates[r].sha256 }]));
  const promptInfo = { path: rel(prompts.file), sha256: prompts.sha256, count: prompts.prompts.length };
  const modes = { judge: config.roles.judge.mode, meta_judge: config.roles.meta_judge.mode };
  const sampling = samplingOf(config);
  let manifest = store.readManifest();
  if (manifest) {
    const inputs = { templates: templateInfo, prompts: promptInfo, modes, sampling };
    if (!opts.allowChangedInputs) checkUnchanged(manifest, inputs, store.file("manifest"));
    // Allowed changes are kept, oldest first: the snapshot below is the newest inputs only.
    const changes = [...(manifest.input_changes ?? []), ...inputChanges(manifest, inputs).map((c) => ({ at: now, ...c }))];
    manifest = { ...manifest, templates: templateInfo, prompts: promptInfo, models, modes, sampling, settings, config: snapshot(config) };
    if (changes.length > 0) manifest.input_changes = changes;
  } else {
    manifest = {
      format: 1,
      iteration,
      created_at: now,
      updated_at: now,
      metajudge_version: VERSION,
      config: snapshot(config),
      settings,
      models,
      modes,
      templates: templateInfo,
      prompts: promptInfo,
      sampling,
      stages: Object.fromEntries(STAGES.map((s) => [s, { state: "pending", counts: {} }])),
      usage: { prompt_tokens: 0, completion_tokens: 0, requests: 0 },
      host: { hostname: os.hostname(), platform: `${process.platform}-${process.arch}`, node: process.version },
    };
  }

  const env = opts.env ?? process.env;
  const clients = new Map<Role, LlmClient>();
  const ctx: RunContext = {
    experimentDir,
    iteration,
    config,
    settings,
    store,
    prompts,
    templates,
    models,
    manifest,
    emit: opts.emit,
    signal: opts.signal,
    env,
    client(role) {
      let c = clients.get(role);
      if (!c) {
        const ep = roleEndpoint(config, role, settings);
        let apiKey: string | undefined;
        if (ep.api_key_env) {
          apiKey = env[ep.api_key_env];
          if (!apiKey) {
            throw new MetajudgeError(
              "auth",
              `the ${role} endpoint needs an API key in $${ep.api_key_env}, which is not set (export it, or remove "api_key_env" for a server without keys)`,
            );
          }
        }
        c = new LlmClient({
          baseURL: ep.base_url,
          apiKey,
          concurrency: config.concurrency,
          timeoutMs: config.request.timeout_ms,
          maxRetries: config.request.max_retries,
          ...(ep.api_key_env ? { apiKeyEnv: ep.api_key_env } : {}),
          onRetry: (r) => ctx.emit({ type: "retry", stage: ctx.currentStage ?? "generate", ...r }),
        });
        clients.set(role, c);
      }
      return c;
    },
    saveManifest() {
      ctx.manifest.updated_at = new Date().toISOString();
      store.writeManifest(ctx.manifest);
    },
    stageInfo(stage) {
      let info = ctx.manifest.stages[stage];
      if (!info) {
        info = { state: "pending", counts: {} };
        ctx.manifest.stages[stage] = info;
      }
      return info;
    },
  };
  ctx.saveManifest();
  return ctx;
}

function withBaseUrl(config: Config, baseUrl: string | undefined): Config {
  if (baseUrl === undefined) return config;
  // A role's own base_url would otherwise bypass the tunnel.
  const over = <R extends { endpoint?: { base_url?: string } | undefined }>(r: R): R =>
    r.endpoint?.base_url === undefined ? r : { ...r, endpoint: { ...r.endpoint, base_url: baseUrl } };
  const roles = { actor: over(config.roles.actor), judge: over(config.roles.judge), meta_judge: over(config.roles.meta_judge) };
  return { ...config, endpoint: { ...config.endpoint, base_url: baseUrl }, roles };
}

/** The config as run, with nothing secret in it (keys live in the environment, never in the file). */
function snapshot(config: Config): Record<string, unknown> {
  return JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
}

/** The sampling fields that bind an iteration, per role, as a record is stamped with them. */
const SAMPLING_FIELDS = ["n", "temperature", "top_p", "max_tokens", "seed"] as const;

function samplingOf(config: Config): Record<Role, SamplingStamp> {
  const one = (role: Role): SamplingStamp => {
    const s = config.roles[role].sampling;
    return {
      n: s.n,
      temperature: s.temperature,
      top_p: s.top_p,
      max_tokens: s.max_tokens,
      ...(s.seed === undefined ? {} : { seed: s.seed }),
    };
  };
  return { actor: one("actor"), judge: one("judge"), meta_judge: one("meta_judge") };
}

/** What an iteration was sampled with: its manifest's sampling, else (older manifests) its config snapshot's. */
function startedSampling(m: Manifest): Record<string, SamplingStamp> | undefined {
  if (m.sampling) return m.sampling;
  const roles = (m.config as { roles?: Record<string, { sampling?: SamplingStamp }> }).roles;
  if (!roles) return undefined;
  return Object.fromEntries(ROLES.filter((r) => roles[r]?.sampling).map((r) => [r, roles[r]!.sampling!]));
}

interface RunInputs {
  templates: Record<string, { path: string; sha256: string }>;
  prompts: { path: string; sha256: string };
  modes: Record<"judge" | "meta_judge", VerdictMode>;
  sampling: Record<Role, SamplingStamp>;
}

type Change = Omit<InputChange, "at">;

function inputChanges(m: Manifest, now: RunInputs): Change[] {
  const changes: Change[] = [];
  for (const [role, t] of Object.entries(now.templates)) {
    const before = m.templates[role];
    if (before && before.sha256 !== t.sha256) changes.push({ field: `templates.${role}`, from: before.sha256, to: t.sha256 });
  }
  if (m.prompts.sha256 !== now.prompts.sha256) changes.push({ field: "prompts", from: m.prompts.sha256, to: now.prompts.sha256 });
  const was = m.modes ?? { judge: "text", meta_judge: "text" };
  for (const r of ["judge", "meta_judge"] as const)
    if (was[r] !== now.modes[r]) changes.push({ field: `roles.${r}.mode`, from: was[r], to: now.modes[r] });
  const started = startedSampling(m);
  for (const role of ROLES) {
    const before = started?.[role];
    if (!before) continue;
    for (const f of SAMPLING_FIELDS) {
      const from = before[f] ?? null;
      const to = now.sampling[role][f] ?? null;
      if (from !== to) changes.push({ field: `roles.${role}.sampling.${f}`, from, to });
    }
  }
  return changes;
}

function checkUnchanged(m: Manifest, inputs: RunInputs, manifestFile: string): void {
  const { templates, prompts, modes } = inputs;
  const changed: string[] = [];
  for (const [role, t] of Object.entries(templates)) {
    const before = m.templates[role];
    if (before && before.sha256 !== t.sha256) changed.push(`${t.path} (${role} template)`);
  }
  if (m.prompts.sha256 !== prompts.sha256) changed.push(`${prompts.path} (prompt set)`);
  if (changed.length > 0) {
    throw new MetajudgeError(
      "badInput",
      `${changed.join(", ")} changed since this iteration started (${manifestFile} records the old sha256); ` +
        `records on disk were made with the old version. Start a new iteration, restore the file, or pass --allow-changed-inputs`,
      { file: manifestFile },
    );
  }
  // A mode decides what is asked and how the answer is read, so it binds an iteration as its rubric does.
  const was = m.modes ?? { judge: "text", meta_judge: "text" };
  const moved = (["judge", "meta_judge"] as const).filter((r) => was[r] !== modes[r]);
  if (moved.length > 0) {
    const list = moved.map((r) => `roles.${r}.mode is "${modes[r]}" but this iteration started with "${was[r]}"`).join(", and ");
    throw new MetajudgeError(
      "badInput",
      `${list} (${manifestFile} records the modes); records on disk were asked for and read the old way. ` +
        `Start a new iteration, set the mode back, or pass --allow-changed-inputs to mix them (each record keeps its own mode)`,
      { file: manifestFile },
    );
  }
  // Responses sampled hotter, longer or with another seed would be mixed into the same pairs unnoticed.
  const sampled = inputChanges(m, inputs).filter((c) => c.field.includes(".sampling."));
  if (sampled.length > 0) {
    const show = (v: unknown): string => (v === null ? "unset" : String(v));
    const list = sampled.map((c) => `${c.field} is ${show(c.to)} but this iteration started with ${show(c.from)}`).join(", and ");
    throw new MetajudgeError(
      "badInput",
      `${list} (${manifestFile} records the sampling); records on disk were sampled the old way. ` +
        `Start a new iteration, set it back, or pass --allow-changed-inputs to mix them (the manifest keeps the change, each record its own sampling)`,
      { file: manifestFile },
    );
  }
}
