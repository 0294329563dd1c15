// The result of "Try on sample" as a markdown document: a table of new against stored verdicts,
// then every new answer in full, because the numbers alone never say why a rubric moved them.
import { meanScore, type Answer, type BattleCase, type JudgeCase, type Outcome, type TrialPlan } from "./trial.js";
import { redactUrl } from "../llm/http.js";

export interface ReportContext {
  templateName: string;
  /** Which text of the template was sent, e.g. the editor's buffer with its unsaved edits, or a file. */
  source: string;
  /** How the error of a failed case reads (the extension maps typed errors to words). */
  describe: (err: unknown) => string;
  at: Date;
}

export function trialReport(plan: TrialPlan, outcomes: readonly Outcome[], ctx: ReportContext): string {
  const out: string[] = [];
  const what = plan.role === "judge" ? "response" : "battle";
  out.push(`# ${ctx.templateName} tried on ${plan.cases.length} ${what}${plan.cases.length === 1 ? "" : "s"}`, "");
  out.push(
    `Records of iteration ${plan.iteration}; ${ctx.source}, sent to ` +
      `${redactUrl(plan.endpoint.base_url)} (model ${plan.endpoint.model}) with the ${plan.role} sampling settings, ${plan.mode} mode and the seeds the run used, ` +
      `so an unchanged template asks exactly what the run asked. ${ctx.at.toISOString()}.`,
    "",
  );
  const byId = new Map(outcomes.map((o) => [o.id, o]));
  if (plan.role === "judge") judgeSection(out, plan, byId, ctx);
  else battleSection(out, plan, byId, ctx);
  return out.join("\n") + "\n";
}

function judgeSection(out: string[], plan: TrialPlan, byId: Map<string, Outcome>, ctx: ReportContext): void {
  out.push(`| response | on disk | this template | change |`, `| --- | ---: | ---: | ---: |`);
  const olds: number[] = [];
  const news: number[] = [];
  for (const c of plan.cases as JudgeCase[]) {
    const o = byId.get(c.id);
    const before = meanScore(c.stored);
    const after = o && !o.error ? meanScore(o.answers.map((a) => a.score)) : null;
    if (before !== null && after !== null) {
      olds.push(before);
      news.push(after);
    }
    const now = !o ? "not run" : o.error ? "failed" : scoreCell(after, o.answers.filter((a) => a.score != null).length, o.answers.length);
    out.push(
      `| \`${c.id}\` | ${scoreCell(before, c.stored.filter((s) => s !== null).length, c.stored.length)} | ${now} | ${change(before, after)} |`,
    );
  }
  if (olds.length > 1) {
    const [b, a] = [meanScore(olds), meanScore(news)];
    out.push(`| **mean** (${olds.length} with both) | ${fmt(b)} | ${fmt(a)} | ${change(b, a)} |`);
  }
  out.push(
    "",
    "Each cell is the mean of the valid scores (parsed/total); a judgement without a valid score counts for nothing, as in a run.",
    "",
  );

  for (const c of plan.cases as JudgeCase[]) {
    const o = byId.get(c.id);
    out.push(`## Response \`${c.id}\``, "", `Prompt: ${quoteLine(c.vars.prompt ?? "")}`, "");
    out.push(`Scores on disk: ${c.stored.length ? c.stored.map(fmt).join(", ") : "none yet"}`, "");
    if (!o) continue;
    if (o.error) {
      out.push(`Failed: ${ctx.describe(o.error)}`, "");
      continue;
    }
    out.push(`New scores: ${o.answers.map((a) => fmt(a.score ?? null)).join(", ")}`, "");
    o.answers.forEach((a, i) => answerBlock(out, `Judgement ${i + 1}: score ${fmt(a.score ?? null)}`, a));
  }
}

function battleSection(out: string[], plan: TrialPlan, byId: Map<string, Outcome>, ctx: ReportContext): void {
  out.push(`| battle | on disk | this template | same verdict |`, `| --- | --- | --- | --- |`);
  let agree = 0;
  let decided = 0;
  let firstWins = 0;
  for (const c of plan.cases as BattleCase[]) {
    const o = byId.get(c.id);
    const now = o?.answers[0]?.winner ?? null;
    const cell = !o ? "not run" : o.error ? "failed" : verdict(now);
    if (o && !o.error && now !== null) {
      decided++;
      if (now === "first") firstWins++;
      if (now === c.stored) agree++;
    }
    const same = !o || o.error || now === null || c.stored === null ? "–" : now === c.stored ? "yes" : "**no**";
    out.push(`| \`${c.id}\` | ${verdict(c.stored)} | ${cell} | ${same} |`);
  }
  out.push(
    "",
    `Decisive new verdicts: ${decided} of ${plan.cases.length}; ${agree} agree with the stored one; judgement A (shown first) won ${firstWins}.`,
    "",
  );
  for (const c of plan.cases as BattleCase[]) {
    const o = byId.get(c.id);
    out.push(`## Battle \`${c.id}\``, "", `Prompt: ${quoteLine(c.vars.prompt ?? "")}`, "", `Stored verdict: ${verdict(c.stored)}`, "");
    if (!o) continue;
    if (o.error) out.push(`Failed: ${ctx.describe(o.error)}`, "");
    else o.answers.forEach((a) => answerBlock(out, `New verdict: ${verdict(a.winner ?? null)}`, a));
  }
}

function answerBlock(out: string[], title: string, a: Answer): void {
  out.push(`### ${title}`, "");
  if (a.parseError) out.push(`Not parsed: ${a.parseError}`, "");
  out.push(fence(a.text), "");
}

function verdict(w: "first" | "second" | null): string {
  return w === "first" ? "A (first)" : w === "second" ? "B (second)" : "no verdict";
}

function scoreCell(mean: number | null, valid: number, total: number): string {
  return total === 0 ? "–" : `${fmt(mean)} (${valid}/${total})`;
}

function change(before: number | null, after: number | null): string {
  if (before === null || after === null) return "–";
  const d = after - before;
  return `${d > 0 ? "+" : d < 0 ? "−" : "±"}${fmt(Math.abs(d))}`;
}

function fmt(v: number | null): string {
  return v === null ? "–" : String(Math.round(v * 100) / 100);
}

/** Model text verbatim: a fence longer than any backtick run inside it. */
function fence(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const f = "`".repeat(longest + 1);
  return `${f}text\n${text}\n${f}`;
}

function quoteLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
