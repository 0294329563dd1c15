// The data contract: the experiment config (metajudge.json) and every record an iteration writes.
// The JSON Schema shipped in schema/ is generated from these (npm run schema), so editors and this
// code validate the same thing.
import { z } from "zod";

export const ROLES = ["actor", "judge", "meta_judge"] as const;
export type Role = (typeof ROLES)[number];

export const STAGES = ["generate", "judge", "metajudge", "pairs", "export"] as const;
export type StageName = (typeof STAGES)[number];

// Only HTTP reaches a model server; a file: or javascript: URL here is a mistake or a trap.
const urlScheme = (v: unknown): string | undefined => (typeof v === "string" ? /^([a-z][a-z0-9+.-]*:)/i.exec(v)?.[1] : undefined);
const HttpUrlSchema = z
  .string()
  .regex(/^https?:\/\/[^\s/?#]+/i, {
    abort: true,
    error: (issue) => {
      const scheme = urlScheme(issue.input);
      return scheme && /^https?:$/i.test(scheme)
        ? `needs a host after "${scheme}//", e.g. http://127.0.0.1:8000/v1`
        : `must be an http:// or https:// URL such as http://127.0.0.1:8000/v1 (the server's OpenAI-compatible API root)${scheme ? `, not ${scheme}` : ""}`;
    },
  })
  .refine((v) => URL.canParse(v), { error: "is not a valid URL; write it as http://host:port/v1" });

const EndpointSchema = z
  .object({
    base_url: HttpUrlSchema.meta({
      description: "OpenAI-compatible base URL (http:// or https://), e.g. http://127.0.0.1:8000/v1",
      // VS Code shows this instead of the bare pattern.
      patternErrorMessage: "an http:// or https:// URL, e.g. http://127.0.0.1:8000/v1",
    }),
    model: z.string().min(1).describe("Model name sent in each request"),
    api_key_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional()
      .describe("Name of the environment variable holding the API key (the key itself never goes in this file)"),
  })
  .strict();
export type Endpoint = z.infer<typeof EndpointSchema>;

const SamplingSchema = z
  .object({
    n: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe(
        "Samples per request: K responses per prompt (actor), N judgements per response (judge); the meta-judge gives one verdict per ordered battle",
      ),
    temperature: z.number().min(0).max(2).default(0.8),
    top_p: z.number().gt(0).max(1).default(0.95),
    max_tokens: z.number().int().min(1).default(1024),
    seed: z.number().int().min(0).optional().describe("Base seed; each request gets a seed derived from it and its id"),
  })
  .strict();
export type Sampling = z.infer<typeof SamplingSchema>;

const RoleSchema = z
  .object({
    endpoint: EndpointSchema.partial().strict().optional().describe("Overrides of the top-level endpoint for this role"),
    sampling: SamplingSchema,
  })
  .strict();

export const VERDICT_MODES = ["text", "json_schema"] as const;
export type VerdictMode = (typeof VERDICT_MODES)[number];

export const REASON_MAX_LENGTH = 1000;

// The judge and the meta-judge give verdicts, so they also choose how a verdict is asked for and read.
const JudgingRoleSchema = RoleSchema.extend({
  mode: z
    .enum(VERDICT_MODES)
    .default("text")
    .describe(
      'How the verdict is read. "text": the last "Score: X" / "Winner: Judgement A|B" in free text, as in the paper. ' +
        '"json_schema": each request carries an OpenAI-style response_format json_schema, so a server with constrained decoding ' +
        '(vLLM, SGLang, llama.cpp server, OpenAI) can only answer {"reason": ..., "score": 0-5} or {"reason": ..., "winner": "A"|"B"}',
    ),
  reason_max_length: z
    .number()
    .int()
    .min(1)
    .nullable()
    .default(REASON_MAX_LENGTH)
    .describe(
      'json_schema mode: maxLength of the "reason" string, so the grammar closes it and reaches the verdict even when the model ' +
        "would write on (random weights always do); keep it well within max_tokens. null leaves maxLength out (OpenAI's strict mode has refused it)",
    ),
}).strict();

const IterationSettingsSchema = z
  .object({
    rho: z.number().min(0).max(1).default(0).describe("Length-control quality tier for actor pairs; 0 = best vs worst"),
    judgement_length_cap: z
      .number()
      .int()
      .positive()
      .nullable()
      .default(null)
      .describe("Drop a judge pair whose chosen judgement is longer than this many characters; null = off"),
    train_judge_pairs: z.boolean().default(true).describe("Whether judge pairs go into dpo.jsonl"),
    models: z
      .object({ actor: z.string(), judge: z.string(), meta_judge: z.string() })
      .partial()
      .strict()
      .optional()
      .describe("Model names for this iteration (M_t), overriding the endpoint's model"),
  })
  .strict();
export type IterationSettings = z.infer<typeof IterationSettingsSchema>;

// ---- remote hosts and launch settings ------------------------------------------------------------

const HostName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' or '-'");

/** How to reach a machine over SSH: an alias from ~/.ssh/config or a plain host name. */
export const SshTargetSchema = z
  .object({
    host: z
      .string()
      .min(1)
      .describe("Host alias from ~/.ssh/config (its HostName, User, Port, IdentityFile, ProxyJump are honoured) or a host name"),
    user: z.string().min(1).optional().describe("Overrides User from ~/.ssh/config"),
    port: z.number().int().min(1).max(65535).optional().describe("Overrides Port from ~/.ssh/config"),
    identity_file: z
      .string()
      .min(1)
      .optional()
      .describe("Overrides IdentityFile from ~/.ssh/config; its passphrase is kept in the editor's secret store"),
  })
  .strict();
export type SshTarget = z.infer<typeof SshTargetSchema>;

const HostCommon = {
  workdir: z
    .string()
    .min(1)
    .default("~/metajudge")
    .describe("Folder on the host under which every job gets a folder of its own (jobs/<job id>/); ~ is the remote home"),
  setup: z.string().optional().describe('Shell lines run before every job, e.g. "source ~/venv/bin/activate" or "module load cuda"'),
  env: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string())
    .optional()
    .describe("Environment variables set for every job (no secrets: they are written to the job script)"),
  secret_env: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/))
    .optional()
    .describe(
      'Names of secret environment variables every job needs, e.g. ["HF_TOKEN"] for a gated model. Their values come from your environment (CLI) ' +
        "or the editor's secret store when a job starts, and reach the job at launch only: never the job script, a record or a log",
    ),
};

export const SshHostSchema = z
  .object({ kind: z.literal("ssh"), ssh: SshTargetSchema, ...HostCommon })
  .strict()
  .describe("A machine reached by SSH; jobs run detached (setsid/nohup) and survive a dropped connection");

export const SlurmHostSchema = z
  .object({
    kind: z.literal("slurm"),
    ssh: SshTargetSchema.describe("The cluster's login node"),
    ...HostCommon,
    partition: z.string().min(1).optional(),
    account: z.string().min(1).optional(),
    gpus: z.number().int().min(0).default(1).describe("GPUs per job (--gres=gpu:N); 0 asks for none"),
    time: z
      .string()
      .regex(/^(\d+-)?\d{1,2}(:\d{2}){0,2}$/, "Slurm time: minutes, MM:SS, HH:MM:SS or D-HH:MM:SS")
      .optional()
      .describe("Time limit (--time)"),
    sbatch: z.array(z.string()).default([]).describe('Extra #SBATCH lines, e.g. "--mem=64G" or "--constraint=a100"'),
  })
  .strict()
  .describe("A Slurm cluster reached through its login node over SSH");

export const RayHostSchema = z
  .object({
    kind: z.literal("ray"),
    address: z.string().url().describe("Ray Jobs API (the dashboard), e.g. http://127.0.0.1:8265"),
    tunnel: SshTargetSchema.optional().describe(
      "Reach the address through an SSH local forward to this host (the dashboard has no security of its own); files are staged over SFTP on it",
    ),
    auth_token_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional()
      .describe("Environment variable holding a Ray token, sent as x-ray-authorization: Bearer <token> (in the editor: the secret store)"),
    ...HostCommon,
    gpus: z.number().min(0).default(1).describe("entrypoint_num_gpus"),
  })
  .strict()
  .describe("A Ray cluster's Jobs API");

export const LocalHostSchema = z
  .object({ kind: z.literal("local"), ...HostCommon })
  .strict()
  .describe("This machine: jobs run detached in a folder of their own, as on an SSH host");

export const HostProfileSchema = z.discriminatedUnion("kind", [SshHostSchema, SlurmHostSchema, RayHostSchema, LocalHostSchema]);
export type HostProfile = z.infer<typeof HostProfileSchema>;
export type HostKind = HostProfile["kind"];
export const HostsSchema = z.record(HostName, HostProfileSchema);

export const GENERATION_MODES = ["serve", "batch"] as const;
export type GenerationMode = (typeof GENERATION_MODES)[number];

export const DEFAULT_SERVE_COMMAND = "vllm serve {model} --host 127.0.0.1 --port {port}";
export const DEFAULT_BATCH_COMMAND = "vllm run-batch -i {input} -o {output} --model {model}";
export const DEFAULT_TRAIN_COMMAND = "trl dpo --config {config}";
export const DEFAULT_TRAIN_COMMAND_MULTI_GPU = "accelerate launch --num_processes {gpus} -m trl.cli dpo --config {config}";

const GenerationSettingsSchema = z
  .object({
    host: z.string().optional().describe("Host profile name (from hosts here or the metajudge.hosts setting)"),
    mode: z
      .enum(GENERATION_MODES)
      .default("serve")
      .describe('"serve": vllm serve behind an SSH tunnel, stages run live; "batch": vllm run-batch on Batch JSONL'),
    serve_command: z.string().default(DEFAULT_SERVE_COMMAND).describe("Placeholders: {model} {port}"),
    batch_command: z.string().default(DEFAULT_BATCH_COMMAND).describe("Placeholders: {input} {output} {model}"),
    port: z.number().int().min(1024).max(65535).default(8000).describe("Port vllm serve listens on, on the host"),
    ready_timeout_s: z.number().int().min(10).default(1800).describe("How long to wait for /v1/models to answer (model load)"),
  })
  .strict();
export type GenerationSettings = z.infer<typeof GenerationSettingsSchema>;

const TrainingSettingsSchema = z
  .object({
    host: z.string().optional().describe("Host profile name"),
    command: z
      .string()
      .default(DEFAULT_TRAIN_COMMAND)
      .describe("Placeholders: {config} {gpus} {output}; use accelerate launch for several GPUs"),
    model: z
      .string()
      .optional()
      .describe("Model trained in iteration 1 (path or hub name on the host); later iterations start from the previous checkpoint"),
    trainer: z
      .record(z.string(), z.unknown())
      .default({})
      .describe(
        "DPOConfig fields written to the trainer's YAML config (beta, learning_rate, num_train_epochs, loss_type, ...); they override the defaults",
      ),
  })
  .strict();
export type TrainingSettings = z.infer<typeof TrainingSettingsSchema>;

export const RemoteSettingsSchema = z
  .object({
    generation: GenerationSettingsSchema.prefault({}),
    training: TrainingSettingsSchema.prefault({}),
  })
  .strict();
export type RemoteSettings = z.infer<typeof RemoteSettingsSchema>;

export const ConfigSchema = z
  .object({
    $schema: z.string().optional(),
    name: z.string().min(1).optional(),
    prompts: z.string().default("prompts.jsonl").describe("Prompt set, JSONL with id and prompt, relative to this file"),
    templates: z
      .object({
        actor: z.string().default("prompts/actor.md"),
        judge: z.string().default("prompts/judge.md"),
        meta_judge: z.string().default("prompts/meta_judge.md"),
      })
      .strict()
      .default({ actor: "prompts/actor.md", judge: "prompts/judge.md", meta_judge: "prompts/meta_judge.md" }),
    endpoint: EndpointSchema.describe("Default endpoint for every role"),
    roles: z
      .object({
        actor: RoleSchema,
        judge: JudgingRoleSchema,
        meta_judge: JudgingRoleSchema,
      })
      .strict(),
    concurrency: z.number().int().min(1).max(4096).default(16).describe("Most model requests in flight at once"),
    request: z
      .object({
        timeout_ms: z.number().int().positive().default(120_000),
        max_retries: z.number().int().min(0).default(6),
      })
      .strict()
      .default({ timeout_ms: 120_000, max_retries: 6 }),
    iterations: z.array(IterationSettingsSchema).min(1).describe("Selection settings per iteration: entry t-1 is iteration t"),
    hosts: HostsSchema.optional().describe(
      "Host profiles for this experiment; they add to (and override by name) the metajudge.hosts setting",
    ),
    remote: RemoteSettingsSchema.optional().describe("Where and how generation and DPO training are launched"),
  })
  .strict();
export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

// ---- records -------------------------------------------------------------------------------------

const Usage = z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }).partial();

/** The sampling a record was asked for with (its own seed is the record's `seed`), or an iteration's sampling per role. */
export const SamplingStampSchema = z
  .object({
    n: z.number().int().optional(),
    temperature: z.number().optional(),
    top_p: z.number().optional(),
    max_tokens: z.number().int().optional(),
    seed: z.number().int().optional(),
  })
  .passthrough();
export type SamplingStamp = z.infer<typeof SamplingStampSchema>;

export const PromptRecordSchema = z.object({ id: z.string().min(1), prompt: z.string() }).passthrough();
export type PromptRecord = z.infer<typeof PromptRecordSchema>;

export const ResponseRecordSchema = z
  .object({
    id: z.string(),
    prompt_id: z.string(),
    index: z.number().int().min(0),
    text: z.string(),
    finish_reason: z.string().nullable().optional(),
    duplicate_of: z.string().optional(),
    model: z.string().optional(),
    seed: z.number().int().optional(),
    usage: Usage.optional(),
    sampling: SamplingStampSchema.optional(), // absent in records written before it was kept
  })
  .passthrough();
export type ResponseRecord = z.infer<typeof ResponseRecordSchema>;

export const JudgementRecordSchema = z
  .object({
    id: z.string(),
    prompt_id: z.string(),
    response_id: z.string(),
    index: z.number().int().min(0),
    text: z.string(),
    score: z.number().min(0).max(5).nullable(),
    parse_error: z.string().optional(),
    // Written only in json_schema mode, so text-mode records stay as they always were: absent means text.
    mode: z.enum(VERDICT_MODES).optional(),
    finish_reason: z.string().nullable().optional(),
    model: z.string().optional(),
    seed: z.number().int().optional(),
    usage: Usage.optional(),
    sampling: SamplingStampSchema.optional(), // absent in records written before it was kept
  })
  .passthrough();
export type JudgementRecord = z.infer<typeof JudgementRecordSchema>;

export const MetaJudgementRecordSchema = z
  .object({
    id: z.string(),
    prompt_id: z.string(),
    response_id: z.string(),
    first_id: z.string(),
    second_id: z.string(),
    text: z.string(),
    winner: z.enum(["first", "second"]).nullable(),
    parse_error: z.string().optional(),
    mode: z.enum(VERDICT_MODES).optional(), // absent means text, as for judgements
    finish_reason: z.string().nullable().optional(),
    model: z.string().optional(),
    seed: z.number().int().optional(),
    usage: Usage.optional(),
    sampling: SamplingStampSchema.optional(), // absent in records written before it was kept
  })
  .passthrough();
export type MetaJudgementRecord = z.infer<typeof MetaJudgementRecordSchema>;

export const ActorPairSchema = z
  .object({
    prompt_id: z.string(),
    chosen_id: z.string(),
    rejected_id: z.string(),
    chosen_score: z.number(),
    rejected_score: z.number(),
    chosen_length: z.number().int(),
    rejected_length: z.number().int(),
    upper_bound: z.number().optional(),
    lower_bound: z.number().optional(),
  })
  .passthrough();
export type ActorPair = z.infer<typeof ActorPairSchema>;

export const JudgePairSchema = z
  .object({
    prompt_id: z.string(),
    response_id: z.string(),
    chosen_id: z.string(),
    rejected_id: z.string(),
    elo: z.record(z.string(), z.number()),
    chosen_length: z.number().int().optional(),
    rejected_length: z.number().int().optional(),
  })
  .passthrough();
export type JudgePair = z.infer<typeof JudgePairSchema>;

const Message = z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string() }).strict();
export const DpoRecordSchema = z
  .object({
    prompt: z.array(Message).min(1),
    chosen: z.array(Message).length(1),
    rejected: z.array(Message).length(1),
    kind: z.enum(["actor", "judge"]),
    source_ids: z.object({ prompt_id: z.string(), response_id: z.string().optional(), chosen_id: z.string(), rejected_id: z.string() }),
  })
  .passthrough();
export type DpoRecord = z.infer<typeof DpoRecordSchema>;

export const ANNOTATION_LABELS = ["suspicious", "confirmed", "cleared"] as const;
export const AnnotationSchema = z
  .object({
    target_id: z.string(),
    label: z.enum(ANNOTATION_LABELS),
    note: z.string(),
    created_at: z.string(),
    reason: z.string().optional(),
    target_kind: z.enum(["response", "judgement", "meta_judgement"]).optional(),
    author: z.string().optional(),
  })
  .passthrough();
export type Annotation = z.infer<typeof AnnotationSchema>;

export const STAGE_STATES = ["pending", "running", "done", "failed", "cancelled"] as const;
export type StageState = (typeof STAGE_STATES)[number];

const TokenUsage = z.object({ prompt_tokens: z.number(), completion_tokens: z.number(), requests: z.number() });
export type TokenUsage = z.infer<typeof TokenUsage>;

/** A file as a derived stage found or wrote it; mtime_ms spares the hash when the file was not touched since. */
export const FileStampSchema = z.object({ size: z.number().int().min(0), mtime_ms: z.number(), sha256: z.string() });
export type FileStamp = z.infer<typeof FileStampSchema>;

export const StageInfoSchema = z.object({
  state: z.enum(STAGE_STATES),
  started_at: z.string().optional(),
  finished_at: z.string().optional(),
  seconds: z.number().optional(),
  counts: z.record(z.string(), z.number()).default({}),
  usage: TokenUsage.optional(),
  error: z.string().optional(),
  // The export's: the pair files it was built from (null: missing) and the dpo.jsonl it wrote, so a
  // recompute of the pairs after it, or a changed dpo.jsonl, shows the export stale.
  inputs: z.record(z.string(), FileStampSchema.nullable()).optional(),
  output: FileStampSchema.optional(),
});
export type StageInfo = z.infer<typeof StageInfoSchema>;

export const InputChangeSchema = z.object({
  at: z.string(),
  field: z.string().describe('What changed, e.g. "roles.actor.sampling.temperature", "templates.judge" (sha256), "prompts" (sha256)'),
  from: z.unknown(),
  to: z.unknown(),
});
export type InputChange = z.infer<typeof InputChangeSchema>;

export const ManifestSchema = z
  .object({
    format: z.literal(1),
    iteration: z.number().int().min(1),
    created_at: z.string(),
    updated_at: z.string(),
    metajudge_version: z.string(),
    config: z.record(z.string(), z.unknown()),
    settings: z.record(z.string(), z.unknown()),
    models: z.object({ actor: z.string(), judge: z.string(), meta_judge: z.string() }),
    // Manifests written before modes existed lack it: their iterations were read as text.
    modes: z.object({ judge: z.enum(VERDICT_MODES), meta_judge: z.enum(VERDICT_MODES) }).optional(),
    templates: z.record(z.string(), z.object({ path: z.string(), sha256: z.string() })),
    prompts: z.object({ path: z.string(), sha256: z.string(), count: z.number().int() }),
    // Sampling per role binds an iteration as its rubric does. Older manifests lack it: their config snapshot says.
    sampling: z.record(z.string(), SamplingStampSchema).optional(),
    // Every input changed on a resume with --allow-changed-inputs, oldest first, so the snapshot above never hides one.
    input_changes: z.array(InputChangeSchema).optional(),
    stages: z.record(z.string(), StageInfoSchema),
    usage: TokenUsage,
    host: z.object({ hostname: z.string(), platform: z.string(), node: z.string() }).partial().optional(),
  })
  .passthrough();
export type Manifest = z.infer<typeof ManifestSchema>;

/** File names inside iterations/<t>/, as the data contract fixes them. */
export const FILES = {
  responses: "responses.jsonl",
  judgements: "judgements.jsonl",
  metaJudgements: "meta_judgements.jsonl",
  actorPairs: "pairs.actor.jsonl",
  judgePairs: "pairs.judge.jsonl",
  dpo: "dpo.jsonl",
  annotations: "annotations.jsonl",
  manifest: "manifest.json",
} as const;
