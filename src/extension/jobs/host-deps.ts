// The editor's answers to the host layer. Interactive (a launch the person asked for): an unknown
// host key is shown in a modal with its SHA256 fingerprint, a missing passphrase is asked in a
// password box and kept only once the connection worked. Quiet (background polling): nothing is
// ever asked; what is not already known is refused.
import * as vscode from "vscode";
import type { HostDeps, HostKeyInfo } from "../../core/remote/types.js";
import type { Services } from "../services.js";
import type { HostSecrets } from "./secrets.js";

export const TRUST = "Trust and Connect";

export interface EditorHostDeps extends HostDeps {
  /** Secrets the launch used, by the environment variable a worker reads them from. */
  workerEnv(): Record<string, string>;
  /** Keep the passphrases typed during this connection (call once it succeeded). */
  commit(): Promise<void>;
  /** Forget a passphrase that did not work, so the next attempt asks again. */
  rollback(): Promise<void>;
}

export function editorHostDeps(services: Services, secrets: HostSecrets, interactive: boolean): EditorHostDeps {
  const typed = new Map<string, string>();
  const storedTried = new Set<string>();
  const env: Record<string, string> = {};
  return {
    sshConfigFile: services.settings.sshConfigFile(),
    knownHostsFile: services.settings.knownHostsFile(),
    async confirmHostKey(info: HostKeyInfo) {
      services.log.warn("hosts", `${info.status} host key for ${info.host}: ${info.keyType} ${info.fingerprint} (${info.knownHostsFile})`);
      if (info.status !== "unknown" || !interactive) return false;
      const choice = await vscode.window.showWarningMessage(
        `The authenticity of host ${info.host} can't be established.`,
        {
          modal: true,
          detail: `${info.keyType} key fingerprint is ${info.fingerprint}.\n\nCompare it with the one the host's administrator gives you. Trusting it adds it to ${info.knownHostsFile}.`,
        },
        TRUST,
      );
      return choice === TRUST;
    },
    async passphrase(identityFile: string) {
      const stored = await secrets.passphrase(identityFile);
      if (stored && !storedTried.has(identityFile)) {
        storedTried.add(identityFile);
        env.METAJUDGE_SSH_PASSPHRASE = stored;
        return stored;
      }
      if (!interactive) return undefined;
      const v = await vscode.window.showInputBox({
        title: "SSH key passphrase",
        prompt: `Passphrase for ${identityFile} (kept in the editor's secret store once it works)`,
        password: true,
        ignoreFocusOut: true,
      });
      if (!v) return undefined;
      services.log.addSecret(v);
      typed.set(identityFile, v);
      env.METAJUDGE_SSH_PASSPHRASE = v;
      return v;
    },
    async secret(name: string) {
      const v = await secrets.secret(name);
      if (v) env[name] = v;
      return v;
    },
    log: (message: string) => services.log.info("hosts", message),
    workerEnv: () => ({ ...env }),
    async commit() {
      for (const [file, v] of typed) await secrets.setPassphrase(file, v);
      typed.clear();
    },
    async rollback() {
      typed.clear();
      for (const file of storedTried) await secrets.deletePassphrase(file);
    },
  };
}
