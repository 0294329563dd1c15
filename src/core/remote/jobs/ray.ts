// Jobs on a Ray cluster through its Jobs REST API (the dashboard, usually reached through an SSH
// forward). Our job id is the submission_id, which makes a second submit find the first.
import { MetajudgeError } from "../../errors.js";
import type { HostKind } from "../../schema.js";
import { quote } from "../shell.js";
import type { Executor, JobSpec, JobState, JobStatus, LogChunk, RemoteJobRef, RemoteShell } from "../types.js";
import { LogWindow } from "./ray-logs.js";
import { checkEnvNames, type ScriptProfile } from "./script.js";

export interface RayOptions {
  token?: string | undefined;
  shell?: RemoteShell | undefined;
  profile?: (ScriptProfile & { gpus?: number | undefined }) | undefined;
  /** Retries of a 5xx or 429 answer before giving up. */
  retries?: number;
  retryDelayMs?: number;
  requestTimeoutMs?: number;
  /** Called when the executor is closed (e.g. to close the SSH forward it goes through). */
  onClose?(): void;
}

const STATES: Record<string, JobState> = {
  PENDING: "queued",
  RUNNING: "running",
  SUCCEEDED: "succeeded",
  FAILED: "failed",
  STOPPED: "cancelled",
};

interface JobDetails {
  status?: string;
  message?: string | null;
  driver_info?: { node_ip_address?: string } | null;
}

/** The most of a log kept from one download, to serve the next reads. */
const LOG_CACHE_BYTES = 8 * 1024 * 1024;

export class RayExecutor implements Executor {
  readonly kind: HostKind = "ray";
  readonly shell: RemoteShell | undefined;
  private readonly base: string;
  private cache: { id: string; start: number; data: Buffer; size: number } | undefined;

  constructor(
    address: string,
    private readonly opts: RayOptions = {},
  ) {
    this.base = address.replace(/\/+$/, "");
    this.shell = opts.shell;
  }

  async submit(spec: JobSpec): Promise<RemoteJobRef> {
    const ref = { dir: spec.dir, raySubmissionId: spec.id };
    const existing = await this.request("GET", `/api/jobs/${encodeURIComponent(spec.id)}`, { allow404: true });
    if (existing.status !== 404) return ref;
    const profile = this.opts.profile ?? {};
    checkEnvNames(profile.env, "host env");
    checkEnvNames(spec.env, `job ${spec.id} env`);
    checkEnvNames(spec.secretEnv, `job ${spec.id} secret env`);
    // Environment, secrets included, travels in runtime_env (the request body), never in the entrypoint.
    const script = [
      `mkdir -p ${quote(spec.dir)} && cd ${quote(spec.dir)} || exit 1`,
      ...(profile.setup ? [profile.setup] : []),
      spec.script,
    ].join("\n");
    const body = {
      entrypoint: `bash -c ${quote(script)}`,
      submission_id: spec.id,
      runtime_env: { env_vars: { ...profile.env, ...spec.env, ...spec.secretEnv } },
      metadata: { metajudge_job: spec.id },
      entrypoint_num_gpus: spec.gpus ?? profile.gpus ?? 0,
    };
    const r = await this.request("POST", "/api/jobs/", { body, allow400: true });
    if (r.status === 400) {
      // Another submit with this id won the race: that job is ours.
      const again = await this.request("GET", `/api/jobs/${encodeURIComponent(spec.id)}`, { allow404: true });
      if (again.status === 404)
        throw new MetajudgeError("badInput", `Ray at ${this.base} refused job ${spec.id}: ${(await r.text()).slice(0, 300)}`);
      await again.body?.cancel();
    }
    await r.body?.cancel().catch(() => undefined);
    return ref;
  }

  async status(ref: RemoteJobRef): Promise<JobStatus> {
    const id = this.idOf(ref);
    const r = await this.request("GET", `/api/jobs/${encodeURIComponent(id)}`, { allow404: true });
    if (r.status === 404) {
      await r.body?.cancel();
      return { state: "lost", exitCode: null, detail: `Ray at ${this.base} no longer knows submission ${id}` };
    }
    const details = (await r.json()) as JobDetails;
    const state = STATES[details.status ?? ""];
    if (!state)
      throw new MetajudgeError("server", `Ray at ${this.base}: job ${id} has status "${details.status}", which this version does not know`);
    const message = details.message ?? undefined;
    const node = details.driver_info?.node_ip_address ? { node: details.driver_info.node_ip_address } : {};
    const code = /exit code (-?\d+)/i.exec(message ?? "");
    if (state === "succeeded") return { state, exitCode: 0, ...node };
    if (state === "failed") {
      const exitCode = code ? Number(code[1]) : null;
      return { state, exitCode, detail: exitCode !== null ? `exit ${exitCode}` : (message ?? "failed"), ...node };
    }
    return { state, ...(message ? { detail: message } : {}), ...node };
  }

  async readLog(ref: RemoteJobRef, offset: number, maxBytes: number): Promise<LogChunk> {
    const id = this.idOf(ref);
    // Every answer carries the whole log, so one download fills a window larger than asked for and the
    // next reads are served from it. Only whole windows come from it: a short read (the end of the
    // log) is always fresh, or a follower could stop before the last lines.
    const c = this.cache;
    if (c && c.id === id && offset >= c.start && offset + maxBytes <= c.start + c.data.length) {
      return { data: c.data.subarray(offset - c.start, offset - c.start + maxBytes), size: c.size };
    }
    const r = await this.request("GET", `/api/jobs/${encodeURIComponent(id)}/logs`, { allow404: true });
    if (r.status === 404 || !r.body) {
      await r.body?.cancel();
      return { data: Buffer.alloc(0), size: 0 };
    }
    const window = new LogWindow(offset, Math.max(maxBytes, LOG_CACHE_BYTES));
    // Read to the end even when the window is full: the size is what lets a follower skip ahead.
    for await (const chunk of r.body) window.push(chunk);
    this.cache = { id, start: offset, data: window.data(), size: window.size };
    return { data: window.data().subarray(0, maxBytes), size: window.size };
  }

  async cancel(ref: RemoteJobRef): Promise<void> {
    const id = this.idOf(ref);
    const r = await this.request("POST", `/api/jobs/${encodeURIComponent(id)}/stop`, { allow404: true });
    // Answers {"stopped": bool} (rest.rst) or a status (openapi.yml); either way the job is stopping or done.
    await r.body?.cancel().catch(() => undefined);
  }

  close(): void {
    this.opts.onClose?.();
    this.shell?.close();
  }

  /** The submission id is our job id, which also names the job folder: a record that missed it still finds it. */
  private idOf(ref: RemoteJobRef): string {
    const id = ref.raySubmissionId ?? ref.dir.replace(/\/+$/, "").split("/").pop() ?? "";
    if (id === "") throw new MetajudgeError("badInput", `the job in ${ref.dir} has no Ray submission id`);
    return id;
  }

  private async request(
    method: string,
    path: string,
    o: { body?: unknown; allow404?: boolean; allow400?: boolean } = {},
  ): Promise<Response> {
    const retries = this.opts.retries ?? 4;
    const delay = this.opts.retryDelayMs ?? 500;
    const url = `${this.base}${path}`;
    const headers: Record<string, string> = { accept: "application/json" };
    if (o.body !== undefined) headers["content-type"] = "application/json";
    if (this.opts.token) headers["x-ray-authorization"] = `Bearer ${this.opts.token}`;
    for (let attempt = 0; ; attempt++) {
      let r: Response;
      try {
        r = await fetch(url, {
          method,
          headers,
          ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
          signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 60_000),
        });
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        if (e.name === "TimeoutError") throw new MetajudgeError("timeout", `Ray at ${this.base}: ${method} ${path} got no answer in time`);
        throw new MetajudgeError(
          "refused",
          `cannot reach Ray at ${this.base} (${e.cause?.code ?? e.message}); is the dashboard running, and the tunnel up?`,
          undefined,
          { cause: err },
        );
      }
      if (r.ok || (r.status === 404 && o.allow404) || (r.status === 400 && o.allow400)) return r;
      const text = (await r.text().catch(() => "")).slice(0, 300);
      if (r.status === 401 || r.status === 403) {
        throw new MetajudgeError(
          "auth",
          `Ray at ${this.base} refused ${method} ${path} (${r.status}): ${this.opts.token ? "the token was not accepted" : "it needs a token (auth_token_env)"}`,
        );
      }
      if ((r.status >= 500 || r.status === 429) && attempt < retries) {
        await new Promise((done) => setTimeout(done, delay * 2 ** attempt));
        continue;
      }
      throw new MetajudgeError(
        r.status >= 500 || r.status === 429 ? "server" : "badInput",
        `Ray at ${this.base}: ${method} ${path} answered ${r.status}${text ? `: ${text}` : ""}`,
      );
    }
  }
}
