// The editor's answers to the host layer. Interactive (a launch the person asked for): an unknown
// host key is shown in a modal with its SHA256 fingerprint, a missing passphrase is asked in a
// password box and kept only once the connection worked. Quiet (background polling): nothing is
// ever asked; what is not already known is refused.
import * as vscode from "vscode";
import type { HostDeps, HostKeyInfo } from "../../core/remote/types.js";
import type { Services } from "../services.js";

export const TRUST = "Trust and Connect";

export interface EditorHostDeps extends HostDeps {
  /** Secrets the launch used, by the environment variable a worker reads them from. */
  workerEnv(): Record<string, string>;
  /** Keep the passphrases typed during this connection (call once it succeeded). */
  commit(): Promise<void>;
  /** Forget a passphrase that did not work, so the next attempt asks again. */
  rollback(): Promise<void>;
  /** Hand the worker the stored passphrases of these identity files too (keys this dialogue did not need). */
  addStoredPassphrases(identityFiles: string[]): Promise<void>;
}

export function editorHostDeps(services: Services, interactive: boolean): EditorHostDeps {
  const secrets = services.secrets;
  const typed = new Map<string, string>();
  const storedTried = new Set<string>();
  const env: Record<string, string> = {};
  // One passphrase per identity file: the host and its jump hosts may each have their own key.
  const passes = new Map<string, string>();
  const passEnv = (): Record<string, string> =>
    passes.size > 0 ? { METAJUDGE_SSH_PASSPHRASES: JSON.stringify(Object.fromEntries(passes)) } : {};
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
        passes.set(identityFile, stored);
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
      passes.set(identityFile, v);
      return v;
    },
    async secret(name: string) {
      const v = await secrets.hostSecret(name);
      if (v) env[name] = v;
      return v;
    },
    log: (message: string) => services.log.info("hosts", message),
    workerEnv: () => ({ ...env, ...passEnv() }),
    async commit() {
      for (const [file, v] of typed) await secrets.setPassphrase(file, v);
      typed.clear();
    },
    async rollback() {
      for (const file of typed.keys()) passes.delete(file);
      typed.clear();
      for (const file of storedTried) {
        passes.delete(file);
        await secrets.deletePassphrase(file);
      }
    },
    async addStoredPassphrases(identityFiles: string[]) {
      for (const file of identityFiles) {
        if (passes.has(file)) continue;
        const stored = await secrets.passphrase(file);
        if (stored) passes.set(file, stored);
      }
    },
  };
}
