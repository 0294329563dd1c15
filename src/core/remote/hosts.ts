// From a host name to something that runs jobs there. Profiles come from the experiment's config and
// from the editor's metajudge.hosts setting; the experiment wins by name, because it travels with the
// data it produced.
import { MetajudgeError } from "../errors.js";
import { HostProfileSchema, type HostProfile } from "../schema.js";
import { DetachedExecutor } from "./jobs/detached.js";
import { LocalShell } from "./local-shell.js";
import type { Executor, HostDeps } from "./types.js";

export function resolveHost(name: string, configHosts?: Record<string, HostProfile>, settingsHosts?: Record<string, unknown>): HostProfile {
  const fromConfig = configHosts?.[name];
  if (fromConfig) return fromConfig;
  const fromSettings = settingsHosts?.[name];
  if (fromSettings !== undefined) {
    const parsed = HostProfileSchema.safeParse(fromSettings);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    throw new MetajudgeError(
      "badInput",
      `host "${name}" in the metajudge.hosts setting is not valid: ${issue ? `${issue.path.join(".") || "profile"}: ${issue.message}` : "invalid"}; fix it in the settings`,
    );
  }
  const known = [...new Set([...Object.keys(configHosts ?? {}), ...Object.keys(settingsHosts ?? {})])].sort();
  throw new MetajudgeError(
    "badInput",
    `no host profile named "${name}"; ${known.length > 0 ? `known hosts: ${known.join(", ")}` : "none is defined"} (add it under "hosts" in metajudge.json or the metajudge.hosts setting)`,
  );
}

export async function openExecutor(profile: HostProfile, _deps: HostDeps, _opts: { signal?: AbortSignal } = {}): Promise<Executor> {
  switch (profile.kind) {
    case "local":
      return new DetachedExecutor(new LocalShell(), profile);
    default:
      throw new MetajudgeError("internal", `host kind "${profile.kind}" cannot run jobs yet`);
  }
}
