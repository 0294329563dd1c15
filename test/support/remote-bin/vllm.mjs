// Stand-in for vLLM: `vllm run-batch -i in.jsonl -o out.jsonl --model M` and
// `vllm serve M --host 127.0.0.1 --port P`, speaking the real file and HTTP formats.
// Fault knobs (env): MJ_VLLM_ERROR_RATE (0..1 of batch lines answered with an error),
// MJ_VLLM_EXIT_HALF=1 (write half the results, then exit 1), MJ_VLLM_LOAD_MS (serve: delay before
// listening, as a model load), all gated by MJ_FAULT_ONCE (common.mjs).
import { createReadStream, openSync, writeSync, closeSync } from "node:fs";
import { createInterface } from "node:readline";
import http from "node:http";
import { arg, completion, faultsActive, hash, sleep } from "./common.mjs";

const [cmd, ...argv] = process.argv.slice(2);

async function runBatch() {
  const input = arg(argv, "-i", "--input-file");
  const output = arg(argv, "-o", "--output-file");
  const model = arg(argv, "--model");
  if (!input || !output || !model) {
    console.error("usage: vllm run-batch -i INPUT -o OUTPUT --model MODEL");
    process.exit(2);
  }
  const faulty = faultsActive();
  const errorRate = faulty ? Number(process.env.MJ_VLLM_ERROR_RATE ?? 0) : 0;
  const exitHalf = faulty && process.env.MJ_VLLM_EXIT_HALF === "1";
  const lines = [];
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(input, "utf8"), crlfDelay: Infinity })) {
    n++;
    if (!line.trim()) continue;
    const req = JSON.parse(line);
    if (typeof req.custom_id !== "string" || req.method !== "POST" || req.url !== "/v1/chat/completions" || typeof req.body !== "object") {
      console.error(`${input}:${n}: not a BatchRequestInput line`);
      process.exit(1);
    }
    lines.push(req);
  }
  console.log(`INFO Loading model ${model}; ${lines.length} requests`);
  // Completion order, not input order: readers must join on custom_id.
  lines.sort((a, b) => hash(a.custom_id) - hash(b.custom_id));
  const fd = openSync(output, "w");
  let written = 0;
  for (const req of lines) {
    if (exitHalf && written >= Math.floor(lines.length / 2)) {
      closeSync(fd);
      console.error("RuntimeError: CUDA error: an illegal memory access was encountered");
      process.exit(1);
    }
    const id = `vllm-${hash(req.custom_id).toString(16)}`;
    let out;
    if (req.body.model !== model) {
      out = {
        id,
        custom_id: req.custom_id,
        response: {
          status_code: 404,
          request_id: `vllm-batch-${id}`,
          body: { error: { message: `The model \`${req.body.model}\` does not exist.` } },
        },
        error: null,
      };
    } else if ((hash(req.custom_id, 7) % 1000) / 1000 < errorRate) {
      out = { id, custom_id: req.custom_id, response: null, error: { code: "internal_error", message: "stand-in fault" } };
    } else {
      out = {
        id,
        custom_id: req.custom_id,
        response: { status_code: 200, request_id: `vllm-batch-${id}`, body: completion(req.body, id) },
        error: null,
      };
    }
    writeSync(fd, JSON.stringify(out) + "\n");
    written++;
  }
  closeSync(fd);
  console.log(`INFO Finished ${written} requests`);
}

async function serve() {
  const model = argv.find((a) => !a.startsWith("-"));
  const host = arg(argv, "--host") ?? "0.0.0.0";
  const port = Number(arg(argv, "--port") ?? 8000);
  if (host !== "127.0.0.1") {
    console.error("the stand-in listens on 127.0.0.1 only; pass --host 127.0.0.1");
    process.exit(2);
  }
  if (faultsActive()) await sleep(Number(process.env.MJ_VLLM_LOAD_MS ?? 0));
  let count = 0;
  const server = http.createServer((req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method === "GET" && req.url === "/health") return send(200, {});
    if (req.method === "GET" && req.url === "/v1/models")
      return send(200, { object: "list", data: [{ id: model, object: "model", owned_by: "vllm" }] });
    if (req.method === "POST" && req.url === "/v1/chat/completions") {
      let raw = "";
      req.on("data", (d) => (raw += d));
      req.on("end", () => {
        let body;
        try {
          body = JSON.parse(raw);
        } catch {
          return send(400, { error: { message: "invalid JSON" } });
        }
        if (body.model !== model) return send(404, { error: { message: `The model \`${body.model}\` does not exist.` } });
        count++;
        send(200, completion(body, `${process.pid}-${count}`));
      });
      return;
    }
    send(404, { error: { message: "not found" } });
  });
  server.listen(port, host, () => console.log(`INFO Uvicorn running on http://${host}:${port} (model ${model})`));
  const stop = () => {
    console.log(`INFO Shutting down after ${count} requests`);
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (cmd === "run-batch") await runBatch();
else if (cmd === "serve") await serve();
else {
  console.error(`vllm stand-in: unknown command ${cmd}`);
  process.exit(2);
}
