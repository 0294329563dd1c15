// Jobs on a plain machine (over SSH, or this one): a process group of its own, started with setsid and
// nohup so it outlives the connection that launched it. Everything about it lives in its folder: pid,
// log, exit_code, cancelled; so any later connection can judge it without us having watched it.
import { MetajudgeError } from "../../errors.js";
import { quote } from "../shell.js";
import type { Executor, JobSpec, JobStatus, LogChunk, RemoteJobRef, RemoteShell } from "../types.js";
import type { HostKind } from "../../schema.js";
import {
  READ_SECRETS,
  jobScript,
  readRemoteLog,
  remoteFailure,
  secretStdin,
  wrapperScript,
  writeRemoteFile,
  type ScriptProfile,
} from "./script.js";

export const LOST_DETAIL = "the process ended without writing an exit code (host rebooted or killed with SIGKILL?)";

export interface DetachedOptions {
  /** Seconds between SIGTERM and SIGKILL on cancel. */
  graceSeconds?: number;
}

export class DetachedExecutor implements Executor {
  readonly kind: HostKind;
  private readonly grace: number;

  constructor(
    readonly shell: RemoteShell,
    private readonly profile: ScriptProfile & { kind: HostKind },
    opts: DetachedOptions = {},
  ) {
    this.kind = profile.kind;
    this.grace = opts.graceSeconds ?? 10;
  }

  async submit(spec: JobSpec): Promise<RemoteJobRef> {
    const d = quote(spec.dir);
    const existing = await this.readPid(spec.dir);
    if (existing !== undefined) return { dir: spec.dir, pid: existing };
    await writeRemoteFile(this.shell, `${spec.dir}/run.sh`, jobScript(spec, this.profile), "700");
    // mkdir is the lock: of two launchers racing on one id, only one starts the job; the other waits
    // for the winner's pid file like a re-attach would.
    const launch = [
      "set -u",
      `if mkdir ${d}/launched 2>/dev/null; then`,
      READ_SECRETS,
      `  setsid nohup bash -c ${quote(wrapperScript(spec.dir, `${spec.dir}/log`))} >/dev/null 2>&1 </dev/null &`,
      "fi",
      `for i in $(seq 100); do [ -s ${d}/pid ] && break; sleep 0.1; done`,
      `cat ${d}/pid`,
    ].join("\n");
    const r = await this.shell.exec(`bash -c ${quote(launch)}`, { stdin: secretStdin(spec.secretEnv) });
    const pid = Number(r.stdout.trim());
    if (r.code !== 0 || !Number.isInteger(pid) || pid <= 0)
      throw remoteFailure(this.shell, `starting job ${spec.id} in ${spec.dir}`, r.stderr);
    return { dir: spec.dir, pid };
  }

  async status(ref: RemoteJobRef): Promise<JobStatus> {
    const d = quote(ref.dir);
    // Liveness is read before exit_code: the wrapper writes exit_code before it exits, so "not alive"
    // followed by "no exit_code" really means it died without one. A zombie awaiting its reaper is dead.
    const probe = [
      `p=$(cat ${d}/pid 2>/dev/null || true)`,
      `alive=0; if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then alive=1; [ "$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null)" = Z ] && alive=0; fi`,
      // After a reboot the pid may belong to someone else: our wrapper's command line names its folder.
      ...(ref.dir.includes("'")
        ? []
        : [
            `if [ "$alive" = 1 ] && [ -r /proc/$p/cmdline ] && ! tr '\\0' ' ' </proc/$p/cmdline | grep -qF -- ${quote(ref.dir)}; then alive=0; fi`,
          ]),
      `code=$(cat ${d}/exit_code 2>/dev/null || true)`,
      `c=0; [ -e ${d}/cancelled ] && c=1`,
      // A launch that has not written its pid after a minute is not going to.
      `s=0; [ -e ${d}/launched ] && s=1; [ -n "$(find ${d}/launched -maxdepth 0 -mmin +1 2>/dev/null)" ] && s=2`,
      `printf '%s|%s|%s|%s|%s\\n' "$p" "$alive" "$code" "$c" "$s"`,
    ].join("; ");
    const r = await this.shell.exec(probe);
    if (r.code !== 0) throw remoteFailure(this.shell, `checking job in ${ref.dir}`, r.stderr);
    const [pid = "", alive, code = "", cancelled, launched] = r.stdout.trim().split("|");
    if (code !== "") {
      const exitCode = Number(code);
      if (exitCode === 0) return { state: "succeeded", exitCode };
      if (cancelled === "1") return { state: "cancelled", exitCode, detail: `cancelled (exit ${exitCode})` };
      return { state: "failed", exitCode, detail: `exit ${exitCode}` };
    }
    if (alive === "1") return { state: "running" };
    if (cancelled === "1") return { state: "cancelled", exitCode: null, detail: "cancelled (killed)" };
    if (pid === "" && launched === "1") return { state: "submitting", detail: "starting" };
    if (pid === "" && launched === "2")
      return { state: "lost", exitCode: null, detail: `the launch in ${ref.dir} ended before the job started` };
    if (pid === "") return { state: "lost", exitCode: null, detail: `no job was started in ${ref.dir}` };
    return { state: "lost", exitCode: null, detail: LOST_DETAIL };
  }

  async readLog(ref: RemoteJobRef, offset: number, maxBytes: number): Promise<LogChunk> {
    return readRemoteLog(this.shell, `${ref.dir}/log`, offset, maxBytes);
  }

  async cancel(ref: RemoteJobRef): Promise<void> {
    const d = quote(ref.dir);
    const script = [
      `touch ${d}/cancelled`,
      `p=$(cat ${d}/pid 2>/dev/null || true)`,
      `[ -n "$p" ] || exit 0`,
      // Never signal a group whose leader is not our wrapper (a pid reused after a reboot).
      ...(ref.dir.includes("'")
        ? []
        : [`if [ -r /proc/$p/cmdline ] && ! tr '\\0' ' ' </proc/$p/cmdline | grep -qF -- ${quote(ref.dir)}; then exit 0; fi`]),
      `kill -TERM -- "-$p" 2>/dev/null || exit 0`,
      `for i in $(seq ${this.grace * 10}); do kill -0 -- "-$p" 2>/dev/null || exit 0; sleep 0.1; done`,
      `kill -KILL -- "-$p" 2>/dev/null || true`,
    ].join("\n");
    const r = await this.shell.exec(`bash -c ${quote(script)}`);
    if (r.code !== 0) throw remoteFailure(this.shell, `cancelling the job in ${ref.dir}`, r.stderr);
  }

  close(): void {
    this.shell.close();
  }

  private async readPid(dir: string): Promise<number | undefined> {
    const r = await this.shell.exec(`cat ${quote(dir)}/pid 2>/dev/null || true`);
    const pid = Number(r.stdout.trim());
    if (r.stdout.trim() === "") return undefined;
    if (!Number.isInteger(pid) || pid <= 0)
      throw new MetajudgeError("internal", `${this.shell.label}: ${dir}/pid holds "${r.stdout.trim()}", not a process id`);
    return pid;
  }
}
