// The steps of "Try on sample" that both the editor command and `metajudge try` take: refuse a
// template a run would refuse, build a client that gives up quickly (a person is waiting), and
// say in one line per case what came back.
import { MetajudgeError } from "../errors.js";
import { LlmClient, type RetryInfo } from "../llm/client.js";
import { parseTemplate, type Template, type TemplateProblem } from "../templates.js";
import type { Experiment } from "./records.js";
import { meanScore, type Outcome, type TrialPlan, type TrialRole } from "./trial.js";

// A dead endpoint must fail in seconds, not after a long run's patience.
const MAX_RETRIES = 2;

/** The template to try, or the errors that make a run refuse it (warnings do not). */
export function trialTemplate(text: string, role: TrialRole, file: string): { template: Template } | { errors: TemplateProblem[] } {
  const { template, problems } = parseTemplate(text, role, file);
  const errors = problems.filter((p) => p.severity === "error");
  return errors.length > 0 ? { errors } : { template };
}

/** A client for the plan's endpoint; `apiKey` is the value of the endpoint's api_key_env, however the caller found it. */
export function trialClient(plan: TrialPlan, exp: Experiment, apiKey: string | undefined, onRetry?: (r: RetryInfo) => void): LlmClient {
  const envName = plan.endpoint.api_key_env;
  if (envName && !apiKey) {
    throw new MetajudgeError("auth", `The ${plan.role} endpoint needs an API key named ${envName}, and none is set.`);
  }
  return new LlmClient({
    baseURL: plan.endpoint.base_url,
    apiKey,
    apiKeyEnv: envName,
    concurrency: Math.min(exp.config.concurrency, plan.cases.length),
    timeoutMs: exp.config.request.timeout_ms,
    maxRetries: Math.min(exp.config.request.max_retries, MAX_RETRIES),
    ...(onRetry ? { onRetry } : {}),
  });
}

export interface OutcomeLine {
  level: "info" | "warn" | "error";
  text: string;
}

/** What one case's outcome says beside the stored verdict, for a log. */
export function outcomeLines(plan: TrialPlan, o: Outcome, describe: (err: unknown) => string): OutcomeLine[] {
  if (o.error !== undefined) return [{ level: "error", text: `${o.id}: ${describe(o.error)}` }];
  const c = plan.cases.find((k) => k.id === o.id);
  const out: OutcomeLine[] = [];
  if (plan.role === "judge") {
    const stored = c && Array.isArray(c.stored) ? meanScore(c.stored) : null;
    const scores = o.answers.map((a) => a.score ?? "none").join(", ");
    out.push({
      level: "info",
      text: `${o.id}: new scores ${scores} (mean ${meanScore(o.answers.map((a) => a.score))}), stored mean ${stored}, ${o.ms} ms`,
    });
  } else {
    out.push({ level: "info", text: `${o.id}: new verdict ${o.answers[0]?.winner ?? "none"}, stored ${c?.stored ?? "none"}, ${o.ms} ms` });
  }
  for (const a of o.answers) if (a.parseError) out.push({ level: "warn", text: `${o.id}: not parsed: ${a.parseError}` });
  return out;
}
