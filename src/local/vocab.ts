// The embedded model's tokenizer: a vocab-only GGUF (tokens, scores, merges, chat template, no
// weights) taken out of the llama.cpp source bundle that node-llama-cpp ships in its npm package, so
// nothing is downloaded. The bundle is a git bundle; git reads one file out of it without a work tree.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeFileAtomic } from "../core/fs-atomic.js";

export const DEFAULT_VOCAB = "phi-3";

export class LocalModelError extends Error {}

/** Where node-llama-cpp is installed, or a LocalModelError saying how to get it. */
export function engineDir(): string {
  let entry: string;
  try {
    entry = require.resolve("node-llama-cpp");
  } catch {
    throw new LocalModelError("node-llama-cpp is not installed: run `npm ci` in the metajudge folder (it is a development dependency)");
  }
  // <pkg>/dist/index.js → <pkg>
  return path.dirname(path.dirname(entry));
}

/** The cache folder: --cache-dir, else $XDG_CACHE_HOME/metajudge/local-model, else .tmp/local-model in the project. */
export function defaultCacheDir(projectRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_CACHE_HOME) return path.join(env.XDG_CACHE_HOME, "metajudge", "local-model");
  return path.join(projectRoot, ".tmp", "local-model");
}

function git(args: string[], opts: { cwd?: string; input?: string } = {}): Buffer {
  try {
    return execFileSync("git", args, {
      cwd: opts.cwd,
      stdio: ["pipe", "pipe", "pipe"],
      maxBuffer: 64 << 20,
      env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === "ENOENT") {
      throw new LocalModelError(
        "git is not installed, and the local model's tokenizer is read out of a git bundle: install git (e.g. `apt-get install git`) or pass --model <file.gguf>",
      );
    }
    throw new LocalModelError(
      `git ${args[0]} failed: ${
        String(err.stderr ?? err.message)
          .trim()
          .split("\n")[0]
      }`,
    );
  }
}

/**
 * The vocab file `models/ggml-vocab-<name>.gguf`, extracted once into `<cacheDir>/vocab/`. Returns
 * its path. The temporary bare repository (the bundle's 35 MB of objects) is removed afterwards.
 */
export function ensureVocab(
  cacheDir: string,
  name = DEFAULT_VOCAB,
  bundle = path.join(engineDir(), "llama", "gitRelease.bundle"),
): { file: string; extracted: boolean; ms: number } {
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(name)) throw new LocalModelError(`bad vocab name "${name}"`);
  const file = path.join(cacheDir, "vocab", `ggml-vocab-${name}.gguf`);
  if (fs.existsSync(file)) return { file, extracted: false, ms: 0 };
  if (!fs.existsSync(bundle)) throw new LocalModelError(`${bundle} is missing: reinstall node-llama-cpp (npm ci)`);
  const t0 = performance.now();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), "metajudge-vocab-"));
  try {
    git(["init", "-q", "--bare", repo]);
    // Unbundling prints "<sha> <ref>" per head; the bundle holds one commit of the source tree.
    const heads = git(["bundle", "unbundle", bundle], { cwd: repo }).toString("utf8");
    const sha = /^([0-9a-f]{40})\s/m.exec(heads)?.[1];
    if (!sha) throw new LocalModelError(`${bundle}: no commit in the bundle`);
    const target = `models/ggml-vocab-${name}.gguf`;
    let bytes: Buffer;
    try {
      bytes = git(["show", `${sha}:${target}`], { cwd: repo });
    } catch {
      const known = git(["ls-tree", "--name-only", sha, "models/"], { cwd: repo })
        .toString("utf8")
        .split("\n")
        .map((f) => /^models\/ggml-vocab-(.+)\.gguf$/.exec(f)?.[1])
        .filter((v): v is string => !!v);
      throw new LocalModelError(`no vocab "${name}" in the bundle; there are: ${known.join(", ")}`);
    }
    writeFileAtomic(file, bytes);
  } finally {
    fs.rmSync(repo, { recursive: true, force: true });
  }
  return { file, extracted: true, ms: performance.now() - t0 };
}
