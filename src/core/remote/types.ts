// The contracts of remote execution: a shell on a host (SSH or this machine), the executors that run
// jobs through it (detached process, Slurm, Ray's Jobs API), and what the host layer needs from its
// embedder (CLI or editor): host-key confirmation, passphrases, secrets. No vscode here.
import type { HostKind } from "../schema.js";

// ---- a shell on a host ---------------------------------------------------------------------------

export interface ExecOptions {
  /** Streamed output; when set, that stream is not collected into the result. */
  onStdout?(chunk: Buffer): void;
  onStderr?(chunk: Buffer): void;
  stdin?: string | Buffer;
  signal?: AbortSignal;
  /** Kill the command (and reject with reason "timeout") after this long. */
  timeoutMs?: number;
}

export interface ExecResult {
  code: number | null; // null when ended by a signal
  signal?: string;
  stdout: string; // collected unless onStdout was given (bounded: the first 4 MiB)
  stderr: string; // collected unless onStderr was given (bounded: the first 4 MiB)
}

export interface TransferOptions {
  signal?: AbortSignal;
  onProgress?(done: number, total: number): void;
}

export interface TransferResult {
  bytes: number; // size of the file
  sha256: string; // verified on both ends
  skipped: boolean; // the destination already held this exact file
  resumedFrom: number; // bytes already present in a partial copy (<dest>.part) that were kept
}

export interface Forward {
  localPort: number; // on 127.0.0.1
  close(): Promise<void>;
}

/** A POSIX shell on a host. Commands run as `sh -c` strings: quote every interpolated value (shell.ts). */
export interface RemoteShell {
  /** For messages: "ssh gpu-box (alice@10.0.0.5:22)" or "local". */
  readonly label: string;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** The remote $HOME, absolute: SFTP does not expand "~". */
  home(): Promise<string>;
  /** Copies through <remote>.part, resuming a partial copy, then verifies sha256 on both ends and renames. */
  upload(localPath: string, remotePath: string, opts?: TransferOptions): Promise<TransferResult>;
  /** Copies through <local>.part, resuming a partial copy, then verifies sha256 on both ends and renames. */
  download(remotePath: string, localPath: string, opts?: TransferOptions): Promise<TransferResult>;
  /** A listener on 127.0.0.1:<ephemeral> whose connections reach targetHost:targetPort as seen from the host. */
  forward(targetHost: string, targetPort: number): Promise<Forward>;
  /** Releases the connection (pooled SSH connections: one reference). */
  close(): void;
}

// ---- host keys, passphrases, secrets: what the embedder answers ------------------------------------

export interface HostKeyInfo {
  host: string; // as written in known_hosts: "name" or "[name]:port"
  keyType: string; // "ssh-ed25519", ...
  fingerprint: string; // "SHA256:..." as OpenSSH prints it
  status: "unknown" | "changed";
  knownHostsFile: string;
  line?: number; // 1-based line of the old key, for "changed"
}

export interface HostDeps {
  sshConfigFile: string; // default ~/.ssh/config
  knownHostsFile: string; // default ~/.ssh/known_hosts; a confirmed unknown key is appended here
  /** Asked only for an unknown key; a changed key is refused without asking. */
  confirmHostKey(info: HostKeyInfo): Promise<boolean>;
  /** Passphrase of an encrypted private key; undefined = none available (the key is skipped). */
  passphrase(identityFile: string): Promise<string | undefined>;
  /** A named secret (e.g. a Ray token by its env var name). */
  secret(name: string): Promise<string | undefined>;
  log?(message: string): void;
}

// ---- jobs ----------------------------------------------------------------------------------------

export const JOB_STATES = ["submitting", "queued", "running", "succeeded", "failed", "cancelled", "timeout", "lost"] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(["succeeded", "failed", "cancelled", "timeout", "lost"]);

/** What a job runs: a bash script body in a folder of its own on the host. */
export interface JobSpec {
  id: string; // ours, stable: submitting twice with one id starts one job
  dir: string; // absolute job folder on the host; the log is <dir>/log
  script: string; // bash, run with cwd = dir
  env?: Record<string, string>; // non-secret values, written into the job script
  secretEnv?: Record<string, string>; // passed at launch time only, never written to files or command lines
  gpus?: number;
}

/** Where a submitted job lives on its host: enough to find it again after a restart. */
export interface RemoteJobRef {
  dir: string;
  pid?: number; // detached process (ssh, local): the process group leader
  slurmId?: string;
  raySubmissionId?: string;
}

export interface JobStatus {
  state: JobState;
  exitCode?: number | null;
  detail?: string; // Slurm pending reason, Ray message, "exit 3", ...
  node?: string; // where it runs (Slurm node, Ray node ip): serve mode tunnels there
}

export interface LogChunk {
  data: Buffer; // bytes [offset, offset + data.length) of the job's log
  size?: number; // the log's size now, when the executor knows it
}

export interface Executor {
  readonly kind: HostKind;
  /** The host's shell for staging files; absent for a Ray host without a tunnel. */
  readonly shell?: RemoteShell;
  submit(spec: JobSpec): Promise<RemoteJobRef>;
  status(ref: RemoteJobRef): Promise<JobStatus>;
  /** At most maxBytes of the log from offset; never reads the whole log into memory. */
  readLog(ref: RemoteJobRef, offset: number, maxBytes: number): Promise<LogChunk>;
  cancel(ref: RemoteJobRef): Promise<void>;
  close(): void;
}
