// `metajudge try`: a judge or meta-judge template, as edited, on a few records of an iteration,
// printed beside the verdicts the run stored (the editor's Try on Sample, on a terminal).
import * as fs from "node:fs";
import * as path from "node:path";
import { loadConfig, resolveIn } from "../core/config.js";
import { MetajudgeError } from "../core/errors.js";
import { trialReport } from "../core/trial/report.js";
import { meanScore, planTrial, runTrial, type TrialRole } from "../core/trial/trial.js";
import { outcomeLines, trialClient, trialTemplate } from "../core/trial/try.js";
import type { WireResult } from "../shared/cli-wire.js";

export interface TryArgs {
  dir: string;
  role: TrialRole;
  /** The edited template; the experiment's own template for the role when absent. */
  template?: string;
  iteration?: number;
  sample: number;
  json: boolean;
}

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export async function cmdTry(a: TryArgs): Promise<number> {
  const config = loadConfig(a.dir);
  const exp = { dir: a.dir, config };
  const file = a.template ? path.resolve(a.template) : resolveIn(a.dir, config.templates[a.role]);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new MetajudgeError("badInput", `cannot read the template ${file}: ${(err as NodeJS.ErrnoException).code ?? describe(err)}`, {
      file,
    });
  }
  const checked = trialTemplate(text, a.role, file);
  if ("errors" in checked) {
    const first = checked.errors[0]!;
    const more = checked.errors.length > 1 ? ` (and ${checked.errors.length - 1} more)` : "";
    throw new MetajudgeError("badInput", `${first.message}${more}; a run would refuse this template, fix it and try again`, {
      file,
      line: first.line,
      column: first.column,
    });
  }

  const plan = await planTrial(a.role, exp, a.sample, a.iteration);
  const envName = plan.endpoint.api_key_env;
  const ctl = new AbortController();
  const onSignal = (): void => ctl.abort(new MetajudgeError("cancelled", "cancelled"));
  process.once("SIGINT", onSignal);
  try {
    const client = trialClient(plan, exp, envName ? process.env[envName] : undefined, (r) =>
      process.stderr.write(`retry ${r.attempt} in ${r.delayMs} ms: ${r.status ?? ""} ${r.reason}\n`),
    );
    const unit = plan.role === "judge" ? "responses" : "battles";
    if (!a.json)
      process.stderr.write(
        `trying ${file} on ${plan.cases.length} ${unit} of iteration ${plan.iteration}: ${plan.endpoint.base_url} model ${plan.endpoint.model}\n`,
      );
    const outcomes = await runTrial(plan, exp, checked.template, client, ctl.signal, (o) => {
      if (a.json) return;
      for (const line of outcomeLines(plan, o, describe)) process.stderr.write(`${line.text}\n`);
    });
    const failed = outcomes.filter((o) => o.error !== undefined);
    if (failed.length === outcomes.length) throw failed[0]?.error;
    if (a.json) {
      const byId = new Map(outcomes.map((o) => [o.id, o]));
      const cases = plan.cases.map((c) => {
        const o = byId.get(c.id);
        const answers = o?.answers ?? [];
        const shown = answers.map((x) => ({
          text: x.text,
          ...(plan.role === "judge" ? { score: x.score ?? null } : { winner: x.winner ?? null }),
          ...(x.parseError ? { parse_error: x.parseError } : {}),
        }));
        const error = o?.error === undefined ? {} : { error: describe(o.error) };
        return plan.role === "judge"
          ? {
              id: c.id,
              stored: c.stored,
              stored_mean: meanScore(c.stored as (number | null)[]),
              new_mean: o ? meanScore(answers.map((x) => x.score)) : null,
              answers: shown,
              ...error,
            }
          : { id: c.id, stored: c.stored, new: answers[0]?.winner ?? null, answers: shown, ...error };
      });
      const result: WireResult = {
        type: "try",
        role: plan.role,
        iteration: plan.iteration,
        template: file,
        base_url: plan.endpoint.base_url,
        model: plan.endpoint.model,
        mode: plan.mode,
        n: plan.n,
        cases,
      };
      process.stdout.write(JSON.stringify(result) + "\n");
    } else {
      process.stdout.write(
        trialReport(plan, outcomes, { templateName: path.basename(file), source: `the template in ${file}`, describe, at: new Date() }),
      );
    }
    if (failed.length > 0)
      process.stderr.write(`warning: ${failed.length} of ${outcomes.length} requests failed: ${describe(failed[0]?.error)}\n`);
    return 0;
  } finally {
    process.removeListener("SIGINT", onSignal);
  }
}
