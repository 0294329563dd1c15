// Stands in for `vllm run-batch`: reads OpenAI Batch JSONL requests, sends each body to a
// chat-completions server, and writes vLLM-shaped output lines in completion order (not input order).
import * as fs from "node:fs";

export interface RunnerOptions {
  /** Input line numbers (0-based) to leave out, as an interrupted run would. */
  drop?: ReadonlySet<number>;
  /** Input line numbers to answer with an error line instead. */
  fail?: ReadonlySet<number>;
}

export async function runBatch(baseUrl: string, inFile: string, outFile: string, opts: RunnerOptions = {}): Promise<number> {
  const lines = fs
    .readFileSync(inFile, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
  const out: string[] = [];
  await Promise.all(
    lines.map(async (line, i) => {
      if (opts.drop?.has(i)) return;
      const req = JSON.parse(line) as { custom_id: string; method: string; url: string; body: unknown };
      if (req.method !== "POST" || req.url !== "/v1/chat/completions") throw new Error(`line ${i + 1}: not a chat-completions request`);
      if (opts.fail?.has(i)) {
        out.push(JSON.stringify({ id: `vllm-${i}`, custom_id: req.custom_id, response: null, error: "CUDA out of memory" }));
        return;
      }
      const res = await fetch(`${baseUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(req.body),
      });
      const body = (await res.json()) as unknown;
      out.push(
        JSON.stringify({
          id: `vllm-${i}`,
          custom_id: req.custom_id,
          response: { status_code: res.status, request_id: `vllm-batch-${i}`, body },
          error: null,
        }),
      );
    }),
  );
  fs.writeFileSync(outFile, out.join("\n") + (out.length ? "\n" : ""));
  return out.length;
}
