// `metajudge`: the command line over src/core. Exit 0 on success, 1 on failure with a one-line
// reason, 2 on bad usage, 130 when interrupted, 141 (silently) when the reader of its output went away.
import { parseArgs } from "node:util";
import { formatWhere, isCancelled, MetajudgeError } from "../core/errors.js";
import { VERSION } from "../core/version.js";
import { GENERATION_MODES, STAGES, type GenerationMode, type StageName } from "../core/schema.js";
import { cmdBatch, cmdExport, cmdInit, cmdPairs, cmdRun, cmdStatus, cmdValidate } from "./commands.js";
import type { RemoteOptions } from "./remote.js";
import { EXIT_OUTPUT_CLOSED, guardTerminal, type Terminal } from "./output.js";
import type { WireError } from "../shared/cli-wire.js";

const USAGE = `metajudge ${VERSION}: Meta-Rewarding iterations against any OpenAI-compatible endpoint

usage:
  metajudge init <dir>                                  create an experiment with the default rubrics
  metajudge run <experiment-dir> --iteration <t> [--stage <name> | --until <name>] [--json]
                                                        run (or resume) an iteration's stages
  metajudge status <experiment-dir> [--json]           stage states and counts of every iteration
  metajudge pairs <iteration-dir> [--allow-unreadable-annotations] [--json]
                                                        recompute both pair files from the records
  metajudge export <iteration-dir> [--allow-empty] [--json]
                                                        write dpo.jsonl (TRL conversational preference) from the pairs
  metajudge validate <experiment-dir> [--json]         check config, templates, prompts and every iteration's records
  metajudge try <experiment-dir> --role judge|meta_judge [--template <file>] [--iteration <t>] [--sample <n>] [--json]
                                                        a judge or meta-judge template (as edited) on a few records of an
                                                        iteration: its new verdicts beside the stored ones
  metajudge batch write <experiment-dir> --iteration <t> --stage <s> <requests.jsonl>
                                                        the stage's missing requests as OpenAI Batch JSONL
  metajudge batch read <experiment-dir> --iteration <t> --stage <s> <results.jsonl>
                                                        join a batch's results (vllm run-batch, OpenAI) into the records
  metajudge batch submit <experiment-dir> --iteration <t> --stage <s> [--poll-seconds 30] [--max-requests N] [--json]
                                                        run the stage's missing requests through the OpenAI Batch API
                                                        and join the results; run again to re-attach after a stop
  metajudge batch cancel <experiment-dir> --iteration <t> --stage <s>
                                                        cancel the stage's running batches and join what they finished
  metajudge hosts <experiment-dir> [--json]            host profiles: name, kind, target
  metajudge hosts check <experiment-dir> <name> [--trust-new-host-key]
                                                        connect, run \`uname -a\`, show the host key fingerprint
  metajudge launch generate <experiment-dir> --iteration <t> [--host <name>] [--mode serve|batch] [--json]
                                                        generate an iteration's responses on a GPU host
  metajudge launch train <experiment-dir> --iteration <t> [--host <name>] [--json]
                                                        DPO-train on the iteration's pairs; the checkpoint is the next actor
  metajudge jobs <experiment-dir> [--json]             remote jobs: id, kind, host, state, elapsed, detail
  metajudge jobs attach|cancel|resubmit|log <experiment-dir> <job-id>
                                                        follow a job to its end, cancel it, run it again, print its log
  metajudge serve-local [--port 8765] [--threads 1] [--seed 0] [--model <file.gguf>]
                                                        serve the embedded local model on 127.0.0.1: random weights,
                                                        meaningless output; it exists so the pipeline runs end to end

stages: ${STAGES.join(" → ")}
options:
  --json                  one JSON object a line on stdout (progress events, results)
  --allow-changed-inputs  resume although a template, the prompt set or a role's sampling changed since the
                          iteration began (the manifest records each change)
  --allow-empty           export although the pair files are missing (an empty dpo.jsonl)
  --allow-unreadable-annotations
                          compute pairs although annotation lines cannot be read (each is named; flags
                          they carry are not applied)
  --trust-new-host-key    accept an SSH host key never seen before (its fingerprint is printed); a changed
                          key is always refused
environment:
  METAJUDGE_SSH_CONFIG, METAJUDGE_KNOWN_HOSTS   instead of ~/.ssh/config and ~/.ssh/known_hosts
  METAJUDGE_SSH_PASSPHRASE                      the passphrase of an encrypted SSH key (else asked on a terminal)
`;

class UsageError extends Error {}

function stageArg(v: string | undefined, flag: string): StageName | undefined {
  if (v === undefined) return undefined;
  if (!(STAGES as readonly string[]).includes(v)) throw new UsageError(`${flag} must be one of ${STAGES.join(", ")}; got "${v}"`);
  return v as StageName;
}

export async function main(argv: string[], terminal?: Terminal): Promise<number> {
  // Its options (--port, --seed, …) are its own; it parses them itself.
  if (argv[0] === "serve-local") return (await import("./serve-local.js")).serveLocal(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      iteration: { type: "string", short: "i" },
      stage: { type: "string" },
      until: { type: "string" },
      json: { type: "boolean", default: false },
      "allow-changed-inputs": { type: "boolean", default: false },
      "allow-empty": { type: "boolean", default: false },
      "allow-unreadable-annotations": { type: "boolean", default: false },
      host: { type: "string" },
      mode: { type: "string" },
      role: { type: "string" },
      template: { type: "string" },
      sample: { type: "string" },
      "poll-seconds": { type: "string" },
      "max-requests": { type: "string" },
      "trust-new-host-key": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
      version: { type: "boolean", short: "v", default: false },
    },
  });
  const [command, target, ...rest] = positionals;
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  if (command === "batch") return batchCommand(target, rest, values);
  if (command === "hosts" || command === "launch" || command === "jobs") return remoteCommand(command, target, rest, values);
  if (command === "try") return tryCommand(target, rest, values);
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  const needTarget = (what: string): string => {
    if (!target) throw new UsageError(`${command} needs <${what}>`);
    return target;
  };
  const json = values.json ?? false;
  switch (command) {
    case "init":
      return cmdInit(needTarget("dir"), json);
    case "run": {
      const dir = needTarget("experiment-dir");
      const t = Number(values.iteration);
      if (!values.iteration || !Number.isInteger(t) || t < 1) throw new UsageError("run needs --iteration <t>, a positive integer");
      const stage = stageArg(values.stage, "--stage");
      const until = stageArg(values.until, "--until");
      if (stage && until) throw new UsageError("give --stage or --until, not both");
      // A run stops as a cancellation when its reader goes away: the stage is recorded, the records kept.
      const release = terminal?.claim();
      try {
        return await cmdRun({
          dir,
          iteration: t,
          stage,
          until,
          json,
          allowChangedInputs: values["allow-changed-inputs"] ?? false,
          stop: terminal?.closed,
        });
      } finally {
        release?.();
      }
    }
    case "status":
      return cmdStatus(needTarget("experiment-dir"), json);
    case "pairs":
      return cmdPairs(needTarget("iteration-dir"), json, values["allow-unreadable-annotations"] ?? false);
    case "export":
      return cmdExport(needTarget("iteration-dir"), json, values["allow-empty"] ?? false);
    case "validate":
      return cmdValidate(needTarget("experiment-dir"), json);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

interface BatchValues {
  iteration?: string;
  stage?: string;
  json?: boolean;
  "poll-seconds"?: string;
  "max-requests"?: string;
  "allow-changed-inputs"?: boolean;
}

function batchCommand(verb: string | undefined, args: string[], values: BatchValues): Promise<number> {
  if (verb === "submit" || verb === "cancel") return batchSubmitCommand(verb, args, values);
  if (verb !== "write" && verb !== "read") throw new UsageError("batch needs write, read, submit or cancel");
  const [dir, file, extra] = args;
  if (!dir || !file) throw new UsageError(`batch ${verb} needs <experiment-dir> and <${verb === "write" ? "requests" : "results"}.jsonl>`);
  if (extra) throw new UsageError(`unexpected argument "${extra}"`);
  const t = Number(values.iteration);
  if (!values.iteration || !Number.isInteger(t) || t < 1) throw new UsageError(`batch ${verb} needs --iteration <t>, a positive integer`);
  const stage = stageArg(values.stage, "--stage");
  if (stage !== "generate" && stage !== "judge" && stage !== "metajudge")
    throw new UsageError("batch needs --stage generate, judge or metajudge");
  return cmdBatch(verb, {
    dir,
    iteration: t,
    stage,
    file,
    json: values.json ?? false,
    allowChangedInputs: values["allow-changed-inputs"] ?? false,
  });
}

async function batchSubmitCommand(verb: "submit" | "cancel", args: string[], values: BatchValues): Promise<number> {
  const [dir, extra] = args;
  if (!dir) throw new UsageError(`batch ${verb} needs <experiment-dir>`);
  if (extra) throw new UsageError(`unexpected argument "${extra}"`);
  const t = Number(values.iteration);
  if (!values.iteration || !Number.isInteger(t) || t < 1) throw new UsageError(`batch ${verb} needs --iteration <t>, a positive integer`);
  const stage = stageArg(values.stage, "--stage");
  if (stage !== "generate" && stage !== "judge" && stage !== "metajudge")
    throw new UsageError("batch needs --stage generate, judge or metajudge");
  const poll = Number(values["poll-seconds"] ?? 30);
  if (!(poll >= 0.01 && poll <= 3600))
    throw new UsageError(`--poll-seconds must be a number of seconds from 0.01 to 3600; got "${values["poll-seconds"]}"`);
  const max = values["max-requests"] === undefined ? undefined : Number(values["max-requests"]);
  if (max !== undefined && !(Number.isInteger(max) && max >= 1 && max <= 50_000))
    throw new UsageError(`--max-requests must be an integer from 1 to 50000 (the Batch API's limit); got "${values["max-requests"]}"`);
  const { cmdBatchSubmit } = await import("./batch-submit.js");
  return cmdBatchSubmit(verb, {
    dir,
    iteration: t,
    stage,
    json: values.json ?? false,
    allowChangedInputs: values["allow-changed-inputs"] ?? false,
    pollSeconds: poll,
    ...(max !== undefined ? { maxRequests: max } : {}),
  });
}

async function tryCommand(
  dir: string | undefined,
  extra: string[],
  values: { role?: string; template?: string; iteration?: string; sample?: string; json?: boolean },
): Promise<number> {
  if (!dir) throw new UsageError("try needs <experiment-dir>");
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const role = values.role;
  if (role !== "judge" && role !== "meta_judge")
    throw new UsageError(`try needs --role judge or --role meta_judge${role === undefined ? "" : `; got "${role}"`}`);
  const t = values.iteration === undefined ? undefined : Number(values.iteration);
  if (t !== undefined && !(Number.isInteger(t) && t >= 1))
    throw new UsageError(`--iteration must be a positive integer; got "${values.iteration}"`);
  const sample = Number(values.sample ?? 3);
  if (!(Number.isInteger(sample) && sample >= 1 && sample <= 20))
    throw new UsageError(`--sample must be an integer from 1 to 20; got "${values.sample}"`);
  const { cmdTry } = await import("./try.js");
  return cmdTry({
    dir,
    role,
    sample,
    json: values.json ?? false,
    ...(values.template !== undefined ? { template: values.template } : {}),
    ...(t !== undefined ? { iteration: t } : {}),
  });
}

interface RemoteValues {
  iteration?: string;
  host?: string;
  mode?: string;
  json?: boolean;
  "trust-new-host-key"?: boolean;
}

const JOB_VERBS = ["attach", "cancel", "resubmit", "log"] as const;

async function remoteCommand(
  command: "hosts" | "launch" | "jobs",
  first: string | undefined,
  args: string[],
  values: RemoteValues,
): Promise<number> {
  const { cmdHosts, cmdHostsCheck, cmdJobs, cmdJobVerb, cmdLaunchGenerate, cmdLaunchTrain } = await import("./remote.js");
  const o: RemoteOptions = { json: values.json ?? false, trustNewHostKey: values["trust-new-host-key"] ?? false };
  const none = (extra: string[]): void => {
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  };
  if (command === "hosts") {
    if (first === "check") {
      const [dir, name, ...extra] = args;
      if (!dir || !name) throw new UsageError("hosts check needs <experiment-dir> and <name>");
      none(extra);
      return cmdHostsCheck(dir, name, o);
    }
    if (!first) throw new UsageError("hosts needs <experiment-dir>");
    none(args);
    return cmdHosts(first, o);
  }
  if (command === "jobs") {
    if ((JOB_VERBS as readonly string[]).includes(first ?? "")) {
      const [dir, id, ...extra] = args;
      if (!dir || !id) throw new UsageError(`jobs ${first} needs <experiment-dir> and <job-id>`);
      none(extra);
      return cmdJobVerb(first as (typeof JOB_VERBS)[number], dir, id, o);
    }
    if (!first) throw new UsageError("jobs needs <experiment-dir>");
    none(args);
    return cmdJobs(first, o);
  }
  if (first !== "generate" && first !== "train") throw new UsageError("launch needs generate or train");
  const [dir, ...extra] = args;
  if (!dir) throw new UsageError(`launch ${first} needs <experiment-dir>`);
  none(extra);
  const t = Number(values.iteration);
  if (!values.iteration || !Number.isInteger(t) || t < 1) throw new UsageError(`launch ${first} needs --iteration <t>, a positive integer`);
  if (first === "train") {
    if (values.mode !== undefined) throw new UsageError("--mode is for launch generate");
    return cmdLaunchTrain(dir, t, values.host, o);
  }
  const mode = values.mode;
  if (mode !== undefined && !(GENERATION_MODES as readonly string[]).includes(mode))
    throw new UsageError(`--mode must be one of ${GENERATION_MODES.join(", ")}; got "${mode}"`);
  return cmdLaunchGenerate(dir, t, values.host, mode as GenerationMode | undefined, o);
}

function report(err: unknown, json: boolean, terminal?: Terminal): number {
  if (terminal?.closed.aborted) return EXIT_OUTPUT_CLOSED;
  if (err instanceof UsageError || (err instanceof TypeError && (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))) {
    process.stderr.write(`metajudge: ${err.message}\nrun \`metajudge --help\` for usage\n`);
    return 2;
  }
  const cancelled = isCancelled(err);
  const reason = err instanceof MetajudgeError ? err.reason : cancelled ? "cancelled" : "internal";
  let message = err instanceof Error ? err.message : String(err);
  if (err instanceof MetajudgeError && err.where && !message.startsWith(err.where.file)) message = `${formatWhere(err.where)}: ${message}`;
  if (cancelled) message = "cancelled; run the same command again to resume";
  if (json) process.stdout.write(JSON.stringify({ type: "error", reason, message } satisfies WireError) + "\n");
  process.stderr.write(`metajudge: ${message.split("\n")[0]}\n`);
  if (reason === "internal" && err instanceof Error && err.stack && process.env.METAJUDGE_DEBUG) process.stderr.write(err.stack + "\n");
  return cancelled ? 130 : 1;
}

/** The `metajudge` executable (src/cli/bin.ts): runs argv and sets the exit code. */
export function runMain(): void {
  const json = process.argv.includes("--json");
  const terminal = guardTerminal();
  main(process.argv.slice(2), terminal).then(
    (code) => {
      process.exitCode = terminal.closed.aborted ? EXIT_OUTPUT_CLOSED : code;
    },
    (err: unknown) => {
      process.exitCode = report(err, json, terminal);
    },
  );
}
