// The pieces every executor shares: the job script (setup, environment, body) and the wrapper that
// records how the script ended in <dir>/exit_code, which is how a job is judged after the connection,
// the launcher or our whole process has gone away.
import { MetajudgeError } from "../../errors.js";
import { quote, remotePath } from "../shell.js";
import type { JobSpec, RemoteShell } from "../types.js";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface ScriptProfile {
  setup?: string | undefined;
  env?: Record<string, string> | undefined;
}

export function checkEnvNames(env: Record<string, string> | undefined, what: string): void {
  for (const name of Object.keys(env ?? {})) {
    if (!ENV_NAME.test(name))
      throw new MetajudgeError("badInput", `${what}: "${name}" is not an environment variable name (letters, digits, '_')`);
  }
}

function exports(env: Record<string, string> | undefined): string[] {
  return Object.entries(env ?? {}).map(([k, v]) => `export ${k}=${quote(v)}`);
}

/** The body of run.sh: no secrets ever (they arrive in the environment at launch). */
export function jobScript(spec: JobSpec, profile: ScriptProfile, header: string[] = []): string {
  checkEnvNames(profile.env, "host env");
  checkEnvNames(spec.env, `job ${spec.id} env`);
  return [
    "#!/bin/bash",
    ...header,
    `# metajudge job ${spec.id}`,
    ...(profile.setup ? [profile.setup] : []),
    ...exports(profile.env),
    ...exports(spec.env),
    spec.script,
    "",
  ].join("\n");
}

/**
 * Runs run.sh in the job folder and writes its exit status to exit_code (tmp + mv, so a reader never
 * sees half a number). It survives SIGTERM sent to the whole group (cancel) long enough to record the
 * status of run.sh; only SIGKILL leaves no exit_code behind.
 */
export function wrapperScript(dir: string, log: string): string {
  const d = quote(dir);
  return [
    "trap 'true' TERM HUP INT",
    `cd ${d} || exit 1`,
    // $$ rather than the launcher's $!: setsid may fork, and this process leads the new group either way.
    `printf '%s\\n' "$$" >${d}/pid.tmp && mv -f ${d}/pid.tmp ${d}/pid`,
    `bash ./run.sh >>${quote(log)} 2>&1 </dev/null`,
    "code=$?",
    `printf '%s\\n' "$code" >${d}/exit_code.tmp && mv -f ${d}/exit_code.tmp ${d}/exit_code`,
  ].join("\n");
}

/** Secrets go to the launcher on stdin as NAME=value records separated by NUL, never on a command line. */
export function secretStdin(secretEnv: Record<string, string> | undefined): string {
  checkEnvNames(secretEnv, "secret env");
  return Object.entries(secretEnv ?? {})
    .map(([k, v]) => {
      if (v.includes("\0")) throw new MetajudgeError("badInput", `secret ${k} contains a NUL byte`);
      return `${k}=${v}\0`;
    })
    .join("");
}

/** bash lines that export every NAME=value record read from stdin. */
export const READ_SECRETS = `while IFS= read -r -d '' kv; do export "$kv"; done`;

/** Writes a file on the host from stdin, atomically. */
export async function writeRemoteFile(shell: RemoteShell, file: string, content: string, mode?: string): Promise<void> {
  const f = quote(file);
  const chmod = mode ? ` && chmod ${quote(mode)} ${f}.tmp` : "";
  const r = await shell.exec(`mkdir -p "$(dirname ${f})" && cat >${f}.tmp${chmod} && mv -f ${f}.tmp ${f}`, { stdin: content });
  if (r.code !== 0) throw remoteFailure(shell, `writing ${file}`, r.stderr);
}

export function remoteFailure(
  shell: RemoteShell,
  what: string,
  stderr: string,
  reason: "internal" | "jobFailed" = "internal",
): MetajudgeError {
  const text = stderr.trim().split("\n").slice(-3).join(" / ");
  return new MetajudgeError(reason, `${shell.label}: ${what} failed${text ? `: ${text}` : ""}`);
}

/** <workdir>/jobs/<id>, absolute on the host. */
export async function jobDir(shell: RemoteShell, workdir: string, id: string): Promise<string> {
  const base = remotePath(workdir, await shell.home()).replace(/\/+$/, "");
  return `${base}/jobs/${id}`;
}

/** Reads the log's size and at most maxBytes from offset, as bytes (a multibyte character may be split). */
export async function readRemoteLog(
  shell: RemoteShell,
  log: string,
  offset: number,
  maxBytes: number,
): Promise<{ data: Buffer; size?: number }> {
  const f = quote(log);
  const parts: Buffer[] = [];
  const r = await shell.exec(
    `if [ -f ${f} ]; then wc -c <${f}; tail -c +${Math.floor(offset) + 1} ${f} | head -c ${Math.floor(maxBytes)}; else echo -1; fi`,
    { onStdout: (c) => parts.push(c) },
  );
  if (r.code !== 0) throw remoteFailure(shell, `reading ${log}`, r.stderr);
  const all = Buffer.concat(parts);
  const nl = all.indexOf(0x0a);
  const size = Number(all.subarray(0, nl).toString().trim());
  if (nl < 0 || !Number.isFinite(size)) throw new MetajudgeError("internal", `${shell.label}: unexpected answer reading ${log}`);
  if (size < 0) return { data: Buffer.alloc(0), size: 0 };
  return { data: all.subarray(nl + 1), size };
}
