// Jobs on a Slurm cluster, driven through its login node's shell: sbatch, squeue, scontrol, sacct,
// scancel. The job folder holds the batch script, the Slurm id (so a second submit finds the first)
// and our exit_code file, which still answers once Slurm has forgotten the job.
import { MetajudgeError } from "../../errors.js";
import type { HostKind } from "../../schema.js";
import { quote } from "../shell.js";
import type { Executor, JobSpec, JobState, JobStatus, LogChunk, RemoteJobRef, RemoteShell } from "../types.js";
import { READ_SECRETS, jobScript, readRemoteLog, remoteFailure, secretStdin, writeRemoteFile, type ScriptProfile } from "./script.js";

export interface SlurmProfile extends ScriptProfile {
  partition?: string | undefined;
  account?: string | undefined;
  gpus?: number | undefined;
  time?: string | undefined;
  sbatch?: string[] | undefined;
}

const QUEUED = ["PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SUSPENDED", "PREEMPTED", "STOPPED"];
const RUNNING = ["RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING"];
const FAILED = ["FAILED", "NODE_FAIL", "BOOT_FAIL", "OUT_OF_MEMORY", "DEADLINE", "SPECIAL_EXIT", "REVOKED"];

/** Our state for a Slurm state name (squeue's %T or sacct's State, which may read "CANCELLED by 1000"). */
export function slurmState(name: string): JobState | undefined {
  const s = name.trim().split(/\s+/)[0]?.toUpperCase() ?? "";
  if (QUEUED.includes(s)) return "queued";
  if (RUNNING.includes(s)) return "running";
  if (s === "COMPLETED") return "succeeded";
  if (FAILED.includes(s)) return "failed";
  if (s === "CANCELLED") return "cancelled";
  if (s === "TIMEOUT") return "timeout";
  return undefined;
}

/** "3:0" → 3; "0:15" (ended by a signal) → null. */
export function slurmExitCode(value: string | undefined): number | null | undefined {
  const m = /^(\d+):(\d+)$/.exec(value?.trim() ?? "");
  if (!m) return undefined;
  return Number(m[2]) === 0 ? Number(m[1]) : null;
}

export function sbatchHeader(spec: JobSpec, profile: SlurmProfile): string[] {
  const gpus = spec.gpus ?? profile.gpus ?? 0;
  const lines = [`--job-name=${spec.id}`, `--output=${quote(`${spec.dir}/log`)}`, `--chdir=${quote(spec.dir)}`];
  if (profile.partition) lines.push(`--partition=${quote(profile.partition)}`);
  if (profile.account) lines.push(`--account=${quote(profile.account)}`);
  if (gpus > 0) lines.push(`--gres=gpu:${gpus}`);
  if (profile.time) lines.push(`--time=${profile.time}`);
  for (const extra of profile.sbatch ?? []) {
    if (/[\r\n]/.test(extra)) throw new MetajudgeError("badInput", `sbatch option "${extra}" spans lines; give one option per entry`);
    lines.push(extra);
  }
  return lines.map((l) => `#SBATCH ${l}`);
}

export class SlurmExecutor implements Executor {
  readonly kind: HostKind = "slurm";

  constructor(
    readonly shell: RemoteShell,
    private readonly profile: SlurmProfile,
  ) {}

  async submit(spec: JobSpec): Promise<RemoteJobRef> {
    const d = quote(spec.dir);
    const known = await this.shell.exec(`cat ${d}/slurm_id 2>/dev/null || true`);
    if (known.stdout.trim() !== "") return { dir: spec.dir, slurmId: known.stdout.trim() };
    await writeRemoteFile(this.shell, `${spec.dir}/job.sh`, jobScript(spec, this.profile), "700");
    // The batch script only records how job.sh ended: Slurm keeps the state, we keep the exit code
    // for when Slurm has purged the job.
    const batch = [
      "#!/bin/bash",
      ...sbatchHeader(spec, this.profile),
      `# metajudge job ${spec.id}`,
      "bash ./job.sh",
      "code=$?",
      `printf '%s\\n' "$code" >exit_code.tmp && mv -f exit_code.tmp exit_code`,
      'exit "$code"',
      "",
    ].join("\n");
    await writeRemoteFile(this.shell, `${spec.dir}/run.sh`, batch, "700");
    // sbatch hands the submitting environment to the job: secrets travel that way, never in a file we
    // write. mkdir is the lock that keeps two racing submits from queueing the job twice.
    const launch = [
      `cd ${d} || exit 1`,
      "if mkdir submitting 2>/dev/null; then",
      READ_SECRETS,
      "  out=$(sbatch --parsable ./run.sh) || { rmdir submitting; exit 3; }",
      `  id=$(printf '%s\\n' "$out" | tail -n 1 | cut -d';' -f1)`,
      `  printf '%s\\n' "$id" >slurm_id.tmp && mv -f slurm_id.tmp slurm_id`,
      "fi",
      "for i in $(seq 300); do [ -s slurm_id ] && break; sleep 0.1; done",
      "cat slurm_id",
    ].join("\n");
    const r = await this.shell.exec(`bash -c ${quote(launch)}`, { stdin: secretStdin(spec.secretEnv) });
    const slurmId = r.stdout.trim().split("\n").at(-1) ?? "";
    if (r.code !== 0 || !/^\d+(_\d+)?$/.test(slurmId))
      throw remoteFailure(this.shell, `sbatch of job ${spec.id} in ${spec.dir}`, r.stderr || r.stdout);
    return { dir: spec.dir, slurmId };
  }

  async status(ref: RemoteJobRef): Promise<JobStatus> {
    const id = await this.idOf(ref);
    if (id === undefined) return { state: "lost", exitCode: null, detail: `no Slurm job was submitted from ${ref.dir}` };
    const q = quote(id);
    const d = quote(ref.dir);
    // One round trip: the live queue, then (only when it has forgotten the job) accounting, the
    // completion log, and our own exit_code file.
    const probe = [
      `q=$(squeue -t all -j ${q} -h -o '%T|%r|%N' 2>/dev/null | head -n 1)`,
      `printf 'Q:%s\\n' "$q"`,
      `printf 'E:%s\\n' "$(cat ${d}/exit_code 2>/dev/null)"`,
      `if [ -n "$q" ]; then printf 'X:%s\\n' "$(scontrol show job -o ${q} 2>/dev/null | grep -o 'ExitCode=[0-9]*:[0-9]*' | head -n 1 | cut -d= -f2)"; fi`,
      `if [ -z "$q" ]; then printf 'A:%s\\n' "$(sacct -j ${q} -X -P -n -o JobID,State,ExitCode 2>/dev/null | grep "^${id}|" | tail -n 1)"; fi`,
      `if [ -z "$q" ]; then printf 'C:%s\\n' "$(sacct -c -j ${q} -P -n -o JobID,State,ExitCode 2>/dev/null | grep "^${id}|" | tail -n 1)"; fi`,
    ].join("\n");
    const r = await this.shell.exec(`bash -c ${quote(probe)}`);
    if (r.code !== 0) throw remoteFailure(this.shell, `checking Slurm job ${id}`, r.stderr);
    const field = (tag: string): string =>
      r.stdout
        .split("\n")
        .find((l) => l.startsWith(`${tag}:`))
        ?.slice(2)
        .trim() ?? "";
    const fileCode = field("E") === "" ? undefined : Number(field("E"));
    const queue = field("Q");
    if (queue !== "") {
      const [name = "", reason = "", node = ""] = queue.split("|");
      return this.describe(id, name, reason, node, slurmExitCode(field("X")) ?? fileCode);
    }
    for (const tag of ["A", "C"]) {
      const [, name = "", code] = field(tag).split("|");
      if (slurmState(name)) return this.describe(id, name, "", "", fileCode ?? slurmExitCode(code));
    }
    if (fileCode !== undefined) {
      return fileCode === 0 ? { state: "succeeded", exitCode: 0 } : { state: "failed", exitCode: fileCode, detail: `exit ${fileCode}` };
    }
    return { state: "lost", exitCode: null, detail: `Slurm no longer knows job ${id} and it left no exit code in ${ref.dir}` };
  }

  private describe(id: string, name: string, reason: string, node: string, exitCode: number | null | undefined): JobStatus {
    const state = slurmState(name);
    const at = node && node !== "(null)" ? { node } : {};
    const why = reason && reason !== "None" && reason !== "(null)" ? reason : "";
    if (!state) return { state: "running", detail: `Slurm state ${name}`, ...at };
    if (state === "queued") {
      const detail = why === "PartitionTimeLimit" ? "will never start: partition time limit" : why || name.toLowerCase();
      return { state, detail };
    }
    if (state === "running") return { state, ...at };
    const code = exitCode === undefined ? {} : { exitCode };
    switch (state) {
      case "succeeded":
        return { state, ...code, ...at };
      case "failed":
        return {
          state,
          ...code,
          detail: typeof exitCode === "number" && exitCode !== 0 ? `exit ${exitCode}` : `Slurm: ${name}${why ? ` (${why})` : ""}`,
          ...at,
        };
      case "timeout":
        return { state, exitCode: null, detail: `time limit reached (Slurm job ${id})`, ...at };
      default:
        return { state, exitCode: null, detail: `cancelled (Slurm job ${id})`, ...at };
    }
  }

  async readLog(ref: RemoteJobRef, offset: number, maxBytes: number): Promise<LogChunk> {
    return readRemoteLog(this.shell, `${ref.dir}/log`, offset, maxBytes);
  }

  async cancel(ref: RemoteJobRef): Promise<void> {
    const id = await this.idOf(ref);
    if (id === undefined) return;
    const r = await this.shell.exec(`scancel ${quote(id)}`);
    if (r.code !== 0) throw remoteFailure(this.shell, `scancel ${id}`, r.stderr);
  }

  close(): void {
    this.shell.close();
  }

  /** The record's Slurm id, or the one the folder holds when the record missed it (a crash mid-submit). */
  private async idOf(ref: RemoteJobRef): Promise<string | undefined> {
    let id = ref.slurmId;
    if (id === undefined) {
      const r = await this.shell.exec(`cat ${quote(ref.dir)}/slurm_id 2>/dev/null || true`);
      id = r.stdout.trim() || undefined;
    }
    if (id !== undefined && !/^\d+(_\d+)?$/.test(id))
      throw new MetajudgeError("badInput", `${this.shell.label}: "${id}" in ${ref.dir} is not a Slurm job id`);
    return id;
  }
}
