// Which host a launch goes to and the executor that reaches it, from the option, then the settings.
import { loadConfig } from "../../config.js";
import { MetajudgeError } from "../../errors.js";
import { RemoteSettingsSchema, type Config, type HostProfile, type RemoteSettings } from "../../schema.js";
import { openExecutor, resolveHost } from "../hosts.js";
import type { Executor, RemoteShell } from "../types.js";
import type { LaunchContext } from "./types.js";

export interface LaunchHost {
  name: string;
  profile: HostProfile;
  executor: Executor;
  /** Files are staged through it; a Ray host without a tunnel has none. */
  shell: RemoteShell;
}

export function remoteSettings(config: Config): RemoteSettings {
  return RemoteSettingsSchema.parse(config.remote ?? {});
}

export function loadLaunchConfig(ctx: LaunchContext): { config: Config; remote: RemoteSettings } {
  const config = loadConfig(ctx.experimentDir);
  return { config, remote: remoteSettings(config) };
}

export function hostName(option: string | undefined, setting: string | undefined, which: "generation" | "training"): string {
  const name = option ?? setting;
  if (!name) {
    throw new MetajudgeError(
      "badInput",
      `no host for ${which}: set remote.${which}.host in metajudge.json or pass a host (profiles go under "hosts")`,
    );
  }
  return name;
}

export async function openLaunchHost(ctx: LaunchContext, config: Config, name: string): Promise<LaunchHost> {
  const profile = resolveHost(name, config.hosts, ctx.settingsHosts);
  const executor = await openExecutor(profile, ctx.deps, ctx.signal ? { signal: ctx.signal } : {});
  if (!executor.shell) {
    executor.close();
    throw new MetajudgeError(
      "badInput",
      `host "${name}" (${profile.kind}) has no shell to stage files through; give it a "tunnel" SSH target`,
    );
  }
  return { name, profile, executor, shell: executor.shell };
}

export function profileGpus(profile: HostProfile): number {
  return profile.kind === "slurm" || profile.kind === "ray" ? profile.gpus : 1;
}
