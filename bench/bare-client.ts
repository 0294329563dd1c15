// The ceiling for the pipeline benchmark: the same requests to the same server with the same
// concurrency, sent by a client that does nothing else: no SDK, no retries, no records, no
// progress. `http` is the cheapest client Node has (node:http with a keep-alive agent); `fetch` is
// undici's fetch, the transport the OpenAI SDK uses. What the CLI loses against these two is its own.
// `llm` is Metajudge's LlmClient alone, to tell the client's share of that loss from the pipeline's.
//
//   node bare-client.cjs <http|fetch|llm> <base-url> <prompts.jsonl> <concurrency>
import * as fs from "node:fs";
import * as http from "node:http";
import { performance } from "node:perf_hooks";
import { LlmClient } from "../src/core/llm/client.js";

type Send = (body: string) => Promise<{ status: number; text: string }>;
type ChatBody = Parameters<LlmClient["complete"]>[0];
// One request for prompt i: its HTTP status and the length of the answer's text.
type Ask = (body: ChatBody) => Promise<{ status: number; chars: number }>;

function rawAsk(send: Send): Ask {
  return async (body) => {
    const res = await send(JSON.stringify(body));
    const parsed = JSON.parse(res.text) as { choices?: { message?: { content?: string } }[] };
    return { status: res.status, chars: parsed.choices?.[0]?.message?.content?.length ?? 0 };
  };
}

// The CLI's own client with the CLI's settings: it builds the JSON and parses the answer itself.
function llmAsk(url: URL, concurrency: number): Ask {
  const client = new LlmClient({ baseURL: url.href.replace(/\/+$/, ""), concurrency, timeoutMs: 30_000, maxRetries: 6 });
  return async (body) => {
    const r = await client.complete(body);
    return { status: 200, chars: r.choices[0]?.text.length ?? 0 };
  };
}

function httpSender(url: URL, concurrency: number): Send {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  return (body) =>
    new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: `${url.pathname}/chat/completions`,
          method: "POST",
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
}

function fetchSender(url: URL): Send {
  const target = `${url.href.replace(/\/+$/, "")}/chat/completions`;
  return async (body) => {
    const res = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body });
    return { status: res.status, text: await res.text() };
  };
}

async function main([mode, base, promptsFile, c]: string[]): Promise<void> {
  if ((mode !== "http" && mode !== "fetch" && mode !== "llm") || !base || !promptsFile || !c)
    throw new Error("usage: bare-client <http|fetch|llm> <base-url> <prompts.jsonl> <concurrency>");
  const concurrency = Number(c);
  const prompts = fs
    .readFileSync(promptsFile, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => (JSON.parse(l) as { prompt: string }).prompt);
  const url = new URL(base);
  const ask = mode === "llm" ? llmAsk(url, concurrency) : rawAsk(mode === "http" ? httpSender(url, concurrency) : fetchSender(url));
  const status: Record<number, number> = {};
  let next = 0;
  let chars = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < prompts.length; i = next++) {
      // The body the CLI sends for an actor request with n = 1.
      const res = await ask({
        model: "fake-model",
        messages: [{ role: "user", content: prompts[i] ?? "" }],
        n: 1,
        temperature: 0.8,
        top_p: 0.95,
        max_tokens: 1024,
        seed: i,
      });
      status[res.status] = (status[res.status] ?? 0) + 1;
      chars += res.chars;
    }
  };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const loop = process.cpuUsage(cpu0);
  const cpu = process.cpuUsage();
  // cpuMs: the whole process, start-up included; loopCpuMs: only while the requests ran.
  const ms = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
  process.stdout.write(
    JSON.stringify({ type: "bare", mode, requests: prompts.length, seconds, status, chars, cpuMs: ms(cpu), loopCpuMs: ms(loop) }) + "\n",
  );
}

main(process.argv.slice(2)).then(
  () => process.exit(0), // the keep-alive sockets would otherwise hold the process open
  (err: unknown) => {
    process.stderr.write(`bare-client: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
