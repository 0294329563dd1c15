// The demo experiment's settings: small enough that a 2-core machine runs a whole iteration in a
// couple of minutes on the embedded model, structured judging so that a random-weights model still
// yields parseable scores and verdicts (its JSON is constrained by a grammar; its judgement is not).
import { defaultConfig } from "../src/core/experiment.js";

export function demoConfig(url: string, model: string, seed: number): ReturnType<typeof defaultConfig> {
  const c = defaultConfig();
  c.name = "demo (embedded random-weights model: answers are meaningless)";
  c.endpoint = { base_url: url, model };
  c.roles = {
    actor: { sampling: { n: 3, temperature: 0.8, top_p: 0.95, max_tokens: 48, seed } },
    judge: {
      mode: "json_schema",
      reason_max_length: 120,
      sampling: { n: 3, temperature: 0.8, top_p: 0.95, max_tokens: 200, seed: seed + 1 },
    },
    meta_judge: {
      mode: "json_schema",
      reason_max_length: 120,
      sampling: { n: 1, temperature: 0.8, top_p: 0.95, max_tokens: 200, seed: seed + 2 },
    },
  };
  // The embedded server runs one sequence at a time; two in flight keep it busy without queueing.
  c.concurrency = 2;
  c.request = { timeout_ms: 120_000, max_retries: 3 };
  return c;
}
