// From a host name to something that runs jobs there. Profiles come from the experiment's config and
// from the editor's metajudge.hosts setting; the experiment wins by name, because it travels with the
// data it produced.
import { MetajudgeError } from "../errors.js";
import { HostProfileSchema, type HostProfile } from "../schema.js";
import { DetachedExecutor } from "./jobs/detached.js";
import { RayExecutor } from "./jobs/ray.js";
import { SlurmExecutor } from "./jobs/slurm.js";
import { LocalShell } from "./local-shell.js";
import { openSshShell } from "./ssh/index.js";
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

/** An executor for the profile, connected (SSH, tunnel) and ready; close() releases what it opened. */
export async function openExecutor(profile: HostProfile, deps: HostDeps, opts: { signal?: AbortSignal } = {}): Promise<Executor> {
  switch (profile.kind) {
    case "local":
      return new DetachedExecutor(new LocalShell(), profile);
    case "ssh":
      return new DetachedExecutor(await openSshShell(profile.ssh, deps, opts), profile);
    case "slurm":
      return new SlurmExecutor(await openSshShell(profile.ssh, deps, opts), profile);
    case "ray":
      return openRay(profile, deps, opts);
  }
}

async function openRay(profile: Extract<HostProfile, { kind: "ray" }>, deps: HostDeps, opts: { signal?: AbortSignal }): Promise<Executor> {
  let token: string | undefined;
  if (profile.auth_token_env) {
    token = await deps.secret(profile.auth_token_env);
    if (token === undefined || token === "") {
      throw new MetajudgeError(
        "auth",
        `host needs the Ray token named ${profile.auth_token_env}, and none was given (set it in the environment or the editor's secret store)`,
      );
    }
  }
  if (!profile.tunnel) return new RayExecutor(profile.address, { token, profile });
  // The dashboard has no security of its own: reach it through the SSH host, as seen from there.
  const shell = await openSshShell(profile.tunnel, deps, opts);
  try {
    const url = new URL(profile.address);
    const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
    const forward = await shell.forward(url.hostname, port);
    const local = `${url.protocol}//127.0.0.1:${forward.localPort}${url.pathname.replace(/\/+$/, "")}`;
    return new RayExecutor(local, { token, profile, shell, onClose: () => void forward.close() });
  } catch (err) {
    shell.close();
    throw err;
  }
}
