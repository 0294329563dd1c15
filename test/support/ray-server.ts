// Ray cannot be installed here; the client is tested against a loopback server implementing the
// documented Jobs REST API (ray-project/ray openapi.yml and rest.rst): the same paths, status codes and
// JSON shapes, with each entrypoint run as a real local process whose output is its log.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { StringDecoder } from "node:string_decoder";

type Status = "PENDING" | "RUNNING" | "STOPPED" | "SUCCEEDED" | "FAILED";

interface Job {
  submission_id: string;
  entrypoint: string;
  status: Status;
  message: string;
  metadata: Record<string, string>;
  runtime_env: Record<string, unknown>;
  entrypoint_num_gpus?: number;
  start_time: number;
  end_time: number | null;
  log: string;
  child?: ChildProcess;
}

export interface RayRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RayServerOptions {
  /** When set, every request must carry x-ray-authorization: Bearer <token>, else 401. */
  token?: string;
  /** How long a job stays PENDING before its process starts. */
  pendingMs?: number;
  /** Answer /stop with a JobStatus string (openapi.yml) instead of {"stopped": bool} (rest.rst). */
  stopAnswersStatus?: boolean;
}

export interface RayServer {
  url: string;
  requests: RayRequest[];
  jobs: Map<string, Job>;
  /** The next n requests answer this status (e.g. 500) before being handled normally. */
  failNext(n: number, status: number): void;
  close(): Promise<void>;
}

/** JSON string escaping as Python's json.dumps does by default (ensure_ascii): non-ASCII as \uXXXX. */
function pyEscape(text: string): string {
  return JSON.stringify(text)
    .slice(1, -1)
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export async function startRayServer(o: RayServerOptions = {}): Promise<RayServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mj-ray-"));
  const jobs = new Map<string, Job>();
  const requests: RayRequest[] = [];
  let failures: { left: number; status: number } = { left: 0, status: 500 };
  let serial = 0;

  const details = (j: Job): Record<string, unknown> => ({
    type: "SUBMISSION",
    job_id: null,
    submission_id: j.submission_id,
    driver_info: j.child ? { id: "01000000", node_ip_address: "127.0.0.1", pid: String(j.child.pid) } : null,
    status: j.status,
    entrypoint: j.entrypoint,
    message: j.message,
    error_type: null,
    start_time: j.start_time,
    end_time: j.end_time,
    metadata: j.metadata,
    runtime_env: j.runtime_env,
    driver_agent_http_address: null,
    driver_node_id: null,
    entrypoint_num_gpus: j.entrypoint_num_gpus ?? null,
  });

  const start = (j: Job): void => {
    if (j.status !== "PENDING") return;
    const env = { ...process.env, ...((j.runtime_env["env_vars"] as Record<string, string> | undefined) ?? {}) };
    const out = fs.openSync(j.log, "a");
    const child = spawn("/bin/sh", ["-c", j.entrypoint], { env, detached: true, stdio: ["ignore", out, out] });
    fs.closeSync(out);
    j.child = child;
    j.status = "RUNNING";
    j.message = "Job is currently running.";
    child.on("exit", (code, signal) => {
      j.end_time = Date.now();
      if (j.status === "STOPPED") return;
      if (code === 0) {
        j.status = "SUCCEEDED";
        j.message = "Job finished successfully.";
      } else {
        j.status = "FAILED";
        j.message = `Job entrypoint command failed with exit code ${code ?? signal}, last available logs (truncated to 20,000 chars):\n`;
      }
    });
  };

  const send = (res: http.ServerResponse, status: number, body: unknown): void => {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain; charset=utf-8" : "application/json; charset=utf-8" });
    res.end(text);
  };

  const streamLogs = (res: http.ServerResponse, j: Job): void => {
    // Ray builds the whole string in memory; we stream it so the test itself stays small.
    res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
    res.write('{"logs": "');
    const decoder = new StringDecoder("utf8");
    const input = fs.createReadStream(j.log);
    input.on("data", (c) => {
      if (!res.write(pyEscape(decoder.write(c as Buffer)))) {
        input.pause();
        res.once("drain", () => input.resume());
      }
    });
    input.on("end", () => res.end(pyEscape(decoder.end()) + '"}'));
    input.on("error", () => res.end('"}'));
  };

  const handle = (req: http.IncomingMessage, body: string, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://x");
    requests.push({ method: req.method ?? "", path: url.pathname, headers: req.headers, body });
    if (o.token !== undefined && req.headers["x-ray-authorization"] !== `Bearer ${o.token}`)
      return send(res, 401, "Unauthorized: missing or invalid authentication token");
    if (failures.left > 0) {
      failures.left--;
      return send(res, failures.status, "Internal Server Error");
    }
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    if (req.method === "GET" && url.pathname === "/api/version")
      return send(res, 200, { version: "4", ray_version: "2.40.0", ray_commit: "test" });
    if (parts[0] !== "api" || parts[1] !== "jobs") return send(res, 404, "Not Found");
    const id = parts[2];
    if (id === undefined) {
      if (req.method === "GET") return send(res, 200, [...jobs.values()].map(details));
      if (req.method !== "POST") return send(res, 405, "Method Not Allowed");
      let request: Record<string, unknown>;
      try {
        request = JSON.parse(body) as Record<string, unknown>;
      } catch (err) {
        return send(res, 400, `Traceback (most recent call last):\nJSONDecodeError: ${(err as Error).message}`);
      }
      if (typeof request["entrypoint"] !== "string")
        return send(res, 400, "TypeError: __init__() missing 1 required positional argument: 'entrypoint'");
      const sid = typeof request["submission_id"] === "string" ? request["submission_id"] : `raysubmit_${++serial}`;
      if (jobs.has(sid))
        return send(res, 400, `ValueError: Job with submission_id ${sid} already exists. Please use a different submission_id.`);
      const job: Job = {
        submission_id: sid,
        entrypoint: request["entrypoint"],
        status: "PENDING",
        message: "Job has not started yet.",
        metadata: (request["metadata"] as Record<string, string> | undefined) ?? {},
        runtime_env: (request["runtime_env"] as Record<string, unknown> | undefined) ?? {},
        ...(typeof request["entrypoint_num_gpus"] === "number" ? { entrypoint_num_gpus: request["entrypoint_num_gpus"] } : {}),
        start_time: Date.now(),
        end_time: null,
        log: path.join(dir, `${sid}.log`),
      };
      fs.writeFileSync(job.log, "");
      jobs.set(sid, job);
      setTimeout(() => start(job), o.pendingMs ?? 0);
      return send(res, 200, { submission_id: sid, job_id: null });
    }
    const job = jobs.get(id);
    if (!job) return send(res, 404, `Job ${id} does not exist`);
    if (req.method === "GET" && parts.length === 3) return send(res, 200, details(job));
    if (req.method === "GET" && parts[3] === "logs" && parts.length === 4) return streamLogs(res, job);
    if (req.method === "POST" && parts[3] === "stop") {
      const running = job.status === "PENDING" || job.status === "RUNNING";
      if (running) {
        job.status = "STOPPED";
        job.message = "Job was intentionally stopped.";
        job.end_time = Date.now();
        if (job.child?.pid !== undefined && job.child.exitCode === null) {
          try {
            process.kill(-job.child.pid, "SIGTERM");
          } catch {
            // already ended
          }
        }
      }
      return send(res, 200, o.stopAnswersStatus ? JSON.stringify(job.status) : { stopped: running });
    }
    if (req.method === "DELETE" && parts.length === 3) {
      if (job.status === "PENDING" || job.status === "RUNNING") return send(res, 400, `Attempted to delete job with status ${job.status}`);
      jobs.delete(id);
      return send(res, 200, true);
    }
    return send(res, 404, "Not Found");
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handle(req, Buffer.concat(chunks).toString("utf8"), res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    jobs,
    failNext(n, status) {
      failures = { left: n, status };
    },
    async close() {
      for (const j of jobs.values()) {
        if (j.child?.pid !== undefined && j.child.exitCode === null && j.child.signalCode === null) {
          try {
            process.kill(-j.child.pid, "SIGKILL");
          } catch {
            // already ended
          }
        }
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
