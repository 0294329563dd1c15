// How jobs and hosts read on a terminal: one row a job, one row a host profile.
import type { JobRecord } from "../core/remote/jobs/record.js";
import type { HostProfile } from "../core/schema.js";

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, "0")}h`;
}

/** Time since the job started (or was submitted) until it finished, or until now. */
export function elapsedMs(job: JobRecord, now: number = Date.now()): number {
  const from = Date.parse(job.started_at ?? job.submitted_at ?? job.created_at);
  const to = job.finished_at ? Date.parse(job.finished_at) : now;
  return Number.isFinite(from) && Number.isFinite(to) ? to - from : 0;
}

export function jobDetail(job: JobRecord): string {
  const parts: string[] = [];
  if (job.detail) parts.push(job.detail);
  if (job.exit_code !== undefined && job.exit_code !== null && !(job.detail ?? "").includes(`exit ${job.exit_code}`))
    parts.push(`exit ${job.exit_code}`);
  if (job.error) parts.push(job.error);
  return parts.join("; ");
}

export function hostTarget(profile: HostProfile): string {
  const ssh = (t: { host: string; user?: string; port?: number }): string =>
    `${t.user ? `${t.user}@` : ""}${t.host}${t.port ? `:${t.port}` : ""}`;
  switch (profile.kind) {
    case "ssh":
      return ssh(profile.ssh);
    case "slurm":
      return `${ssh(profile.ssh)} (login node)${profile.partition ? `, partition ${profile.partition}` : ""}`;
    case "ray":
      return `${profile.address}${profile.tunnel ? ` via ${ssh(profile.tunnel)}` : ""}`;
    case "local":
      return "this machine";
  }
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}
