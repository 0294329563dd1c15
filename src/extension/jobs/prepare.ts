// Before a worker goes to a host, the dialogue happens here, in the editor: which host, trust its key
// (modal with the fingerprint), the key's passphrase, a Ray token. One connection is opened and
// closed to have that dialogue; what it yields reaches the worker through its environment.
import * as vscode from "vscode";
import { loadConfig } from "../../core/config.js";
import { openExecutor, resolveHost } from "../../core/remote/hosts.js";
import { chainIdentityFiles } from "../../core/remote/ssh/config.js";
import type { HostProfile } from "../../core/schema.js";
import type { Services } from "../services.js";
import { editorHostDeps } from "./host-deps.js";

export interface PreparedHost {
  host: string;
  profile: HostProfile;
  /** For the worker: secrets by their variable, the settings' host profiles, the ssh files. */
  env: Record<string, string>;
}

/** Host names an experiment can use: its own profiles and the setting's, the experiment's first. */
export function hostNames(services: Services, experimentDir: string): { name: string; from: string }[] {
  const own = Object.keys(loadConfig(experimentDir).hosts ?? {});
  const fromSettings = Object.keys(services.settings.hosts()).filter((n) => !own.includes(n));
  return [...own.map((name) => ({ name, from: "metajudge.json" })), ...fromSettings.map((name) => ({ name, from: "settings" }))];
}

export async function pickHost(
  services: Services,
  experimentDir: string,
  preferred: string | undefined,
  title: string,
): Promise<string | undefined> {
  if (preferred) return preferred;
  const names = hostNames(services, experimentDir);
  if (names.length === 0) {
    const open = await vscode.window.showWarningMessage(
      'No host profile: add one under "hosts" in metajudge.json or in the metajudge.hosts setting (kind ssh, slurm, ray or local).',
      "Open Settings",
    );
    if (open) await vscode.commands.executeCommand("workbench.action.openSettings", "metajudge.hosts");
    return undefined;
  }
  if (names.length === 1) return names[0]!.name;
  return (
    await vscode.window.showQuickPick(
      names.map((n) => ({ label: n.name, description: n.from })),
      { title },
    )
  )?.label;
}

export function baseWorkerEnv(services: Services): Record<string, string> {
  return {
    METAJUDGE_HOSTS: JSON.stringify(services.settings.hosts()),
    METAJUDGE_SSH_CONFIG: services.settings.sshConfigFile(),
    METAJUDGE_KNOWN_HOSTS: services.settings.knownHostsFile(),
  };
}

/** Resolves the host and has the dialogue it needs; undefined when the person backed out. Errors are thrown. */
export async function prepareHost(services: Services, experimentDir: string, host: string): Promise<PreparedHost | undefined> {
  const profile = resolveHost(host, loadConfig(experimentDir).hosts, services.settings.hosts());
  const deps = editorHostDeps(services, true);
  // The Ray token and the secrets its jobs need (secret_env) are asked for once and kept; the worker
  // gets them in its environment, never on its command line.
  const needed: { name: string; title: string }[] = [
    ...(profile.kind === "ray" && profile.auth_token_env ? [{ name: profile.auth_token_env, title: `Ray token for ${host}` }] : []),
    ...(profile.secret_env ?? []).map((name) => ({ name, title: `${name} for jobs on ${host}` })),
  ];
  for (const { name, title } of needed) {
    if (await deps.secret(name)) continue;
    const v = await vscode.window.showInputBox({
      title,
      prompt: `Value of ${name} (kept in the editor's secret store)`,
      password: true,
      ignoreFocusOut: true,
    });
    if (!v) return undefined;
    services.log.addSecret(v);
    await services.secrets.setHostSecret(name, v);
    await deps.secret(name);
  }
  if (profile.kind !== "local") {
    await vscode.window.withProgress({ location: { viewId: "metajudge.jobs" }, title: `Connecting to ${host}` }, async () => {
      try {
        const executor = await openExecutor(profile, deps);
        executor.close();
        await deps.commit();
        // The connection above stopped at the first key that worked; a worker that reconnects may
        // need the others (a jump host's key, the next IdentityFile), so it gets every stored one.
        if ("ssh" in profile && profile.ssh)
          await deps.addStoredPassphrases(chainIdentityFiles(profile.ssh, services.settings.sshConfigFile()));
      } catch (err) {
        if ((err as { reason?: string }).reason === "auth") await deps.rollback();
        throw err;
      }
    });
  }
  return { host, profile, env: { ...baseWorkerEnv(services), ...deps.workerEnv() } };
}
