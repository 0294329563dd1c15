// A real HTTP server speaking the OpenAI Files and Batches API as the `openai` SDK calls it
// (POST /v1/files multipart, GET /v1/files/{id}/content, POST/GET /v1/batches, GET /v1/batches/{id},
// POST /v1/batches/{id}/cancel). It "runs" a batch by sending each chat-completions line to a
// fake-openai server, so its answers are exactly those of a live run against that server. Per-line
// errors, a failed batch, an expired one with partial output, a held one and dropped polls are scripted.
import http from "node:http";

export interface ScriptedError {
  code: string;
  message: string;
  line?: number;
  param?: string | null;
}

export interface BatchServerOptions {
  /** Base URL (ending in /v1) of the chat-completions server that answers each line. */
  chatUrl: string;
  apiKey?: string;
  /** Lines answered with an HTTP 500 error line in the error file instead of a completion. */
  failLine?: (customId: string, index: number) => boolean;
  /** How the next batch ends other than "completed". */
  outcome?: { kind: "failed"; errors: ScriptedError[] } | { kind: "expired"; after: number } | null;
  /** Pause between state changes. Default 5 ms. */
  stepMs?: number;
  /** Keep batches in_progress (after the first line) until release(). */
  hold?: boolean;
  /** Answer the next upload with this 400 message. */
  rejectUpload?: string | null;
}

export interface BatchServerStats {
  filesUploaded: number;
  batchesCreated: number;
  retrieves: number;
  cancels: number;
  unauthorized: number;
  dropped: number;
}

interface StoredFile {
  id: string;
  purpose: string;
  filename: string;
  bytes: Buffer;
  created_at: number;
}

type Counts = { total: number; completed: number; failed: number };

interface BatchObject {
  id: string;
  object: "batch";
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  status: string;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: Counts;
  errors: { object: "list"; data: ScriptedError[] } | null;
  metadata: Record<string, string> | null;
}

export interface BatchServer {
  url: string; // base URL ending in /v1
  stats: BatchServerStats;
  options: BatchServerOptions; // change between calls to script the next batch
  batches: Map<string, BatchObject>;
  /** The custom_ids a batch was asked to run, in file order. */
  inputIds(batchId: string): string[];
  /** Lets held batches go on. */
  release(): void;
  /** The next n polls of a batch have their connection dropped before any answer. */
  dropRetrieves(n: number): void;
  close(): Promise<void>;
}

const now = (): number => Math.floor(Date.now() / 1000);

function errorBody(message: string, type: string, code: string | null = null, param: string | null = null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

/** multipart/form-data fields by name: the SDK sends `purpose` and `file`. */
function parseMultipart(body: Buffer, contentType: string): Map<string, { filename?: string; data: Buffer }> {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  if (!m) throw new Error("multipart body without a boundary");
  const delimiter = Buffer.from(`--${m[1] ?? m[2]}`);
  const fields = new Map<string, { filename?: string; data: Buffer }>();
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === "--") break;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    const part = body.subarray(start + 2, next - 2); // past the CRLF after the delimiter, before the one ending the part
    const split = part.indexOf("\r\n\r\n");
    const headers = part.subarray(0, split).toString("utf8");
    const name = /name="([^"]*)"/.exec(headers)?.[1];
    const filename = /filename="([^"]*)"/.exec(headers)?.[1];
    if (name !== undefined) fields.set(name, { ...(filename !== undefined ? { filename } : {}), data: part.subarray(split + 4) });
    at = next;
  }
  return fields;
}

export function startOpenAIBatchServer(options: BatchServerOptions): Promise<BatchServer> {
  const files = new Map<string, StoredFile>();
  const batches = new Map<string, BatchObject>();
  const stats: BatchServerStats = { filesUploaded: 0, batchesCreated: 0, retrieves: 0, cancels: 0, unauthorized: 0, dropped: 0 };
  const cancelled = new Set<string>();
  let waiting: (() => void)[] = [];
  let drop = 0;
  let seq = 0;
  let closed = false;
  const self: BatchServer = {
    url: "",
    stats,
    options,
    batches,
    inputIds(batchId) {
      const f = files.get(batches.get(batchId)?.input_file_id ?? "");
      if (!f) return [];
      return f.bytes
        .toString("utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => (JSON.parse(l) as { custom_id: string }).custom_id);
    },
    release() {
      self.options.hold = false;
      for (const w of waiting) w();
      waiting = [];
    },
    dropRetrieves(n) {
      drop = n;
    },
    close: async () => {},
  };

  const pause = (ms = self.options.stepMs ?? 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

  function send(res: http.ServerResponse, status: number, body: string | Buffer, type = "application/json"): void {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
    res.end(body);
  }

  function storeFile(purpose: string, filename: string, lines: string[]): string | null {
    if (lines.length === 0) return null;
    const id = `file-${++seq}`;
    files.set(id, { id, purpose, filename, bytes: Buffer.from(lines.join("\n") + "\n"), created_at: now() });
    return id;
  }

  async function run(b: BatchObject, script: BatchServerOptions["outcome"], failLine: BatchServerOptions["failLine"]): Promise<void> {
    await pause();
    const input = files
      .get(b.input_file_id)!
      .bytes.toString("utf8")
      .split("\n")
      .filter((l) => l.trim() !== "");
    const requests: { custom_id: string; body: unknown }[] = [];
    const invalid: ScriptedError[] = [];
    input.forEach((l, i) => {
      try {
        const r = JSON.parse(l) as { custom_id?: unknown; method?: unknown; url?: unknown; body?: unknown };
        if (typeof r.custom_id !== "string" || r.method !== "POST" || r.url !== b.endpoint || typeof r.body !== "object")
          invalid.push({
            code: "invalid_request",
            message: "each line needs custom_id, method POST, the batch's url and a body",
            line: i + 1,
            param: null,
          });
        else requests.push({ custom_id: r.custom_id, body: r.body });
      } catch {
        invalid.push({ code: "invalid_json_line", message: `line ${i + 1} is not valid JSON`, line: i + 1, param: null });
      }
    });
    if (script?.kind === "failed" || invalid.length > 0) {
      const errors = script?.kind === "failed" ? script.errors.map((e) => ({ param: null, line: null, ...e })) : invalid;
      Object.assign(b, { status: "failed", failed_at: now(), errors: { object: "list", data: errors } });
      return;
    }
    Object.assign(b, { status: "in_progress", in_progress_at: now(), request_counts: { total: requests.length, completed: 0, failed: 0 } });
    const out: string[] = [];
    const errs: string[] = [];
    let stoppedAt = requests.length;
    for (const [i, r] of requests.entries()) {
      if (i === 1 && self.options.hold) await new Promise<void>((go) => waiting.push(go));
      if (cancelled.has(b.id) || (script?.kind === "expired" && i >= script.after) || closed) {
        stoppedAt = i;
        break;
      }
      const line = (response: unknown, error: unknown = null): string =>
        JSON.stringify({ id: `batch_req_${++seq}`, custom_id: r.custom_id, response, error });
      if (failLine?.(r.custom_id, i)) {
        errs.push(
          line({ status_code: 500, request_id: `req_${seq}`, body: JSON.parse(errorBody("injected failure", "server_error")) as unknown }),
        );
        b.request_counts.failed++;
        continue;
      }
      const res = await fetch(`${self.options.chatUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(r.body),
      });
      const body = (await res.json()) as unknown;
      (res.ok ? out : errs).push(line({ status_code: res.status, request_id: `req_${seq}`, body }));
      b.request_counts[res.ok ? "completed" : "failed"]++;
    }
    const ending = cancelled.has(b.id) ? "cancelled" : stoppedAt < requests.length ? "expired" : "completed";
    if (ending === "expired") {
      for (const r of requests.slice(stoppedAt)) {
        errs.push(
          JSON.stringify({
            id: `batch_req_${++seq}`,
            custom_id: r.custom_id,
            response: null,
            error: { code: "batch_expired", message: "This request could not be executed before the completion window expired." },
          }),
        );
      }
    }
    if (ending === "completed") {
      b.status = "finalizing";
      b.finalizing_at = now();
      await pause();
    }
    b.output_file_id = storeFile("batch_output", `${b.id}_output.jsonl`, out);
    b.error_file_id = storeFile("batch_output", `${b.id}_error.jsonl`, errs);
    b.status = ending;
    b[`${ending}_at`] = now();
  }

  function route(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): void {
    const url = new URL(req.url ?? "/", "http://x");
    const p = url.pathname;
    if (self.options.apiKey !== undefined && req.headers.authorization !== `Bearer ${self.options.apiKey}`) {
      stats.unauthorized++;
      // Echoes what it was given, as some servers do: the client must not pass it on.
      const given = (req.headers.authorization ?? "").replace(/^Bearer /, "");
      return send(res, 401, errorBody(`Incorrect API key provided: ${given}.`, "invalid_request_error", "invalid_api_key"));
    }
    let m: RegExpExecArray | null;
    if (req.method === "POST" && p === "/v1/files") {
      let fields;
      try {
        fields = parseMultipart(raw, req.headers["content-type"] ?? "");
      } catch (e) {
        return send(res, 400, errorBody((e as Error).message, "invalid_request_error"));
      }
      const purpose = fields.get("purpose")?.data.toString("utf8");
      const file = fields.get("file");
      if (purpose !== "batch")
        return send(res, 400, errorBody(`purpose must be "batch" here, got ${purpose}`, "invalid_request_error", null, "purpose"));
      if (!file) return send(res, 400, errorBody("no file in the upload", "invalid_request_error", null, "file"));
      if (self.options.rejectUpload) {
        const message = self.options.rejectUpload;
        self.options.rejectUpload = null;
        return send(res, 400, errorBody(message, "invalid_request_error", "invalid_file_format", "file"));
      }
      const lines = file.data.toString("utf8").split("\n");
      for (const [i, l] of lines.entries()) {
        if (!l.trim()) continue;
        try {
          JSON.parse(l);
        } catch {
          return send(
            res,
            400,
            errorBody(
              `Invalid file format for Batch API: line ${i + 1} is not valid JSON.`,
              "invalid_request_error",
              "invalid_file_format",
              "file",
            ),
          );
        }
      }
      const id = `file-${++seq}`;
      files.set(id, { id, purpose, filename: file.filename ?? "upload.jsonl", bytes: file.data, created_at: now() });
      stats.filesUploaded++;
      return send(
        res,
        200,
        JSON.stringify({
          id,
          object: "file",
          bytes: file.data.length,
          created_at: now(),
          filename: file.filename,
          purpose,
          status: "processed",
        }),
      );
    }
    if (req.method === "GET" && (m = /^\/v1\/files\/([^/]+)\/content$/.exec(p))) {
      const f = files.get(m[1]!);
      if (!f) return send(res, 404, errorBody(`No such File object: ${m[1]}`, "invalid_request_error"));
      return send(res, 200, f.bytes, "application/octet-stream");
    }
    if (req.method === "POST" && p === "/v1/batches") {
      let body: { input_file_id?: string; endpoint?: string; completion_window?: string; metadata?: Record<string, string> };
      try {
        body = JSON.parse(raw.toString("utf8")) as typeof body;
      } catch {
        return send(res, 400, errorBody("body is not JSON", "invalid_request_error"));
      }
      if (!body.input_file_id || !files.has(body.input_file_id))
        return send(res, 400, errorBody(`No such file: ${body.input_file_id}`, "invalid_request_error", null, "input_file_id"));
      if (body.endpoint !== "/v1/chat/completions" || body.completion_window !== "24h")
        return send(res, 400, errorBody("endpoint must be /v1/chat/completions and completion_window 24h", "invalid_request_error"));
      const t = now();
      const b: BatchObject = {
        id: `batch_${++seq}`,
        object: "batch",
        endpoint: body.endpoint,
        input_file_id: body.input_file_id,
        completion_window: body.completion_window,
        status: "validating",
        output_file_id: null,
        error_file_id: null,
        created_at: t,
        in_progress_at: null,
        expires_at: t + 86_400,
        finalizing_at: null,
        completed_at: null,
        failed_at: null,
        expired_at: null,
        cancelling_at: null,
        cancelled_at: null,
        request_counts: { total: 0, completed: 0, failed: 0 },
        errors: null,
        metadata: body.metadata ?? null,
      };
      batches.set(b.id, b);
      stats.batchesCreated++;
      const script = self.options.outcome;
      self.options.outcome = null; // scripts the next batch only
      void run(b, script, self.options.failLine);
      return send(res, 200, JSON.stringify(b));
    }
    if (req.method === "GET" && p === "/v1/batches") {
      const limit = Number(url.searchParams.get("limit") ?? 20);
      const data = [...batches.values()].reverse().slice(0, limit);
      return send(
        res,
        200,
        JSON.stringify({
          object: "list",
          data,
          first_id: data[0]?.id ?? null,
          last_id: data.at(-1)?.id ?? null,
          has_more: batches.size > data.length,
        }),
      );
    }
    if (req.method === "GET" && (m = /^\/v1\/batches\/([^/]+)$/.exec(p))) {
      stats.retrieves++;
      if (drop > 0) {
        drop--;
        stats.dropped++;
        req.socket.destroy();
        return;
      }
      const b = batches.get(m[1]!);
      return b ? send(res, 200, JSON.stringify(b)) : send(res, 404, errorBody(`No such batch: ${m[1]}`, "invalid_request_error"));
    }
    if (req.method === "POST" && (m = /^\/v1\/batches\/([^/]+)\/cancel$/.exec(p))) {
      const b = batches.get(m[1]!);
      if (!b) return send(res, 404, errorBody(`No such batch: ${m[1]}`, "invalid_request_error"));
      if (["completed", "failed", "expired", "cancelled"].includes(b.status))
        return send(res, 400, errorBody(`Cannot cancel a batch with status ${b.status}.`, "invalid_request_error"));
      stats.cancels++;
      cancelled.add(b.id);
      Object.assign(b, { status: "cancelling", cancelling_at: now() });
      self.release();
      return send(res, 200, JSON.stringify(b));
    }
    send(res, 404, errorBody(`no route ${req.method} ${p}`, "invalid_request_error"));
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => route(req, res, Buffer.concat(chunks)));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: 0, host: "127.0.0.1" }, () => {
      const addr = server.address();
      if (addr === null || typeof addr === "string") return reject(new Error("no TCP address"));
      self.url = `http://127.0.0.1:${addr.port}/v1`;
      self.close = () =>
        new Promise<void>((done) => {
          closed = true;
          self.release();
          server.close(() => done());
          server.closeAllConnections();
        });
      resolve(self);
    });
  });
}
