// `metajudge serve-local`: the embedded random-weights model behind an OpenAI-compatible endpoint on
// this machine, so `metajudge run` works end to end with no GPU, no key and no download.
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { LocalEngine } from "../local/engine.js";
import { ensureTinyModel, MEANINGLESS } from "../local/model.js";
import { isLoopback, startLocalServer } from "../local/server.js";
import { defaultCacheDir, DEFAULT_VOCAB, ensureVocab, LocalModelError } from "../local/vocab.js";

export const SERVE_LOCAL_USAGE = `usage: metajudge serve-local [--port 8765] [--host 127.0.0.1] [--threads 1] [--seed 0]
                             [--model <file.gguf>] [--context 4096] [--cache-dir <dir>]

Serves a tiny llama with ${MEANINGLESS}.
It builds the model on first use (a few MB, from the tokenizer shipped inside node-llama-cpp),
then answers GET /v1/models and POST /v1/chat/completions on this machine only. Point an
experiment's endpoint at the printed url, with the printed model name.

options:
  --port <p>        TCP port; 0 picks a free one (default 8765)
  --host <h>        a loopback address: 127.0.0.1, ::1 or localhost (default 127.0.0.1)
  --threads <t>     CPU threads for the model (default 1: tiny models run slower on more)
  --seed <s>        seed of the random weights; each seed is another (equally meaningless) model
  --model <file>    serve this GGUF file instead of building the random one
  --context <c>     tokens per sequence, prompt plus completion (default 4096)
  --sequences <k>   choices of one request generated side by side in one batch (default 1). More is
                    faster for n > 1, but batching changes floating-point rounding from run to run,
                    so the same seed no longer gives exactly the same text
  --max-queue <q>   requests waiting before 429 (default 64)
  --cache-dir <d>   where the tokenizer and the model are kept (default $XDG_CACHE_HOME/metajudge/local-model,
                    else .tmp/local-model in the metajudge folder)
`;

/** The metajudge folder: the CLI runs from dist/ in it, the tests from src/cli. */
function projectRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      if ((JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string }).name === "metajudge") return dir;
    } catch {
      // no package.json here; keep climbing
    }
    if (path.dirname(dir) === dir) return process.cwd();
  }
}

function usage(message: string): number {
  process.stderr.write(`metajudge serve-local: ${message}\nrun \`metajudge serve-local --help\` for usage\n`);
  return 2;
}

function int(v: string | undefined, name: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`--${name} must be an integer from ${min} to ${max}; got "${v}"`);
  return n;
}

export async function serveLocal(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        port: { type: "string", default: "8765" },
        host: { type: "string", default: "127.0.0.1" },
        threads: { type: "string", default: "1" },
        seed: { type: "string", default: "0" },
        model: { type: "string" },
        context: { type: "string", default: "4096" },
        sequences: { type: "string", default: "1" },
        "max-queue": { type: "string", default: "64" },
        "cache-dir": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    return usage((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(SERVE_LOCAL_USAGE);
    return 0;
  }
  let port: number, threads: number, seed: number, context: number, sequences: number, maxQueue: number;
  try {
    port = int(values.port, "port", 0, 65535);
    threads = int(values.threads, "threads", 1, 256);
    seed = int(values.seed, "seed", 0, 2 ** 32 - 1);
    context = int(values.context, "context", 64, 16384);
    sequences = int(values.sequences, "sequences", 1, 64);
    maxQueue = int(values["max-queue"], "max-queue", 0, 100_000);
  } catch (e) {
    return usage((e as Error).message);
  }
  if (!isLoopback(values.host)) return usage(`--host ${values.host} is not a loopback address: the local model serves this machine only`);
  const say = (line: string): boolean => process.stderr.write(`metajudge serve-local: ${line}\n`);
  const t0 = performance.now();

  let modelPath = values.model;
  let modelId: string;
  try {
    if (modelPath) {
      if (!fs.existsSync(modelPath)) throw new LocalModelError(`--model ${modelPath}: no such file`);
      modelId = path.basename(modelPath).replace(/\.gguf$/i, "");
    } else {
      const cacheDir = values["cache-dir"] ?? defaultCacheDir(projectRoot());
      const vocab = ensureVocab(cacheDir);
      if (vocab.extracted)
        say(`took the ${DEFAULT_VOCAB} tokenizer out of node-llama-cpp's llama.cpp bundle in ${Math.round(vocab.ms)} ms`);
      const built = ensureTinyModel(cacheDir, vocab.file, DEFAULT_VOCAB, seed);
      if (built.built) say(`wrote ${built.file} (${(fs.statSync(built.file).size / 1e6).toFixed(1)} MB) in ${Math.round(built.ms)} ms`);
      modelPath = built.file;
      modelId = `tiny-random-llama-seed${seed}`;
    }
  } catch (e) {
    if (e instanceof LocalModelError) {
      say(e.message);
      return 1;
    }
    throw e;
  }

  let engine: LocalEngine;
  try {
    engine = await LocalEngine.load({ modelPath, threads, contextSize: context, sequences });
  } catch (e) {
    say((e as Error).message);
    return 1;
  }
  let server;
  try {
    server = await startLocalServer(engine, { host: values.host, port, modelId, maxQueue, log: say });
  } catch (e) {
    await engine.close();
    say(`cannot listen on ${values.host}:${port}: ${(e as Error).message}`);
    return 1;
  }
  say(
    `${server.url} serves ${modelId} (${MEANINGLESS}); ` +
      `${threads} thread${threads > 1 ? "s" : ""}, context ${engine.contextSize}, ${engine.sequences} sequence${engine.sequences > 1 ? "s" : ""}, ` +
      `chat template ${engine.chatWrapperName}; ready in ${((performance.now() - t0) / 1000).toFixed(1)} s. Ctrl-C stops it.`,
  );
  // Last, so a program that waits for this line finds the human one already written.
  process.stdout.write(JSON.stringify({ url: server.url, port: server.port, model: modelId, note: MEANINGLESS }) + "\n");

  const live = server;
  await new Promise<void>((resolve) => {
    const stop = (sig: NodeJS.Signals): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      say(`${sig}: stopping`);
      void live
        .close()
        .then(() => engine.close())
        .finally(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  return 0;
}
