// Job ids name folders on hosts, Slurm job names and Ray submission ids, so they keep to [a-z0-9-],
// and they sort by iteration then time when listed.
import { randomBytes } from "node:crypto";

const SAFE = /[^a-z0-9]+/g;

function slug(value: string): string {
  return value
    .toLowerCase()
    .replace(SAFE, "-")
    .replace(/^-+|-+$/g, "");
}

function stamp(at: Date): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${at.getUTCFullYear()}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}-${p(at.getUTCHours())}${p(at.getUTCMinutes())}`;
}

/** e.g. "it2-train-20261127-2351-7f3a"; the stage, when given, follows the kind. */
export function newJobId(kind: string, iteration?: number, stage?: string, at: Date = new Date()): string {
  const parts = [iteration === undefined ? "job" : `it${iteration}`, slug(kind)];
  if (stage) parts.push(slug(stage));
  parts.push(stamp(at), randomBytes(2).toString("hex"));
  return parts.filter((p) => p !== "").join("-");
}

export const JOB_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,127}$/;

export function isJobId(value: string): boolean {
  return JOB_ID_PATTERN.test(value);
}
