// Typed, discriminated failures: the CLI prints `message` as its one-line reason; the extension maps
// `reason` to an action (Open Settings, Show Logs, Retry).

export type ErrorReason =
  | "badInput" // a file the user wrote is wrong: config, template, prompts
  | "auth" // 401/403 from an endpoint
  | "refused" // nothing listens / DNS / connection reset before an answer
  | "timeout" // the endpoint did not answer in time, after retries
  | "rateLimited" // 429 after retries
  | "server" // 5xx after retries, or an answer we cannot use
  | "hostKey" // an SSH host key that is unknown (and not confirmed) or changed: never accepted silently
  | "jobFailed" // a remote job ended other than successfully (exit code, Slurm/Ray state)
  | "locked" // another process is writing the iteration (iterations/<t>/.lock names it)
  | "io" // a file could not be written: disk full, read-only, permissions
  | "cancelled"
  | "internal";

export interface Where {
  file: string;
  line?: number; // 1-based
  column?: number; // 1-based
}

export class MetajudgeError extends Error {
  override readonly name = "MetajudgeError";
  constructor(
    readonly reason: ErrorReason,
    message: string,
    readonly where?: Where,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** "file:line:col" in the form editors and terminals turn into links. */
export function formatWhere(w: Where): string {
  return w.line === undefined ? w.file : w.column === undefined ? `${w.file}:${w.line}` : `${w.file}:${w.line}:${w.column}`;
}

export function isCancelled(err: unknown): boolean {
  return (err instanceof MetajudgeError && err.reason === "cancelled") || (err instanceof Error && err.name === "AbortError");
}
