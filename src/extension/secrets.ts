// Every secret the extension keeps, in the editor's SecretStorage: endpoint API keys (by the
// environment variable api_key_env names), host secrets (a Ray token or a secret_env entry, by its
// variable) and SSH key passphrases (by identity file). The storage keys are the ones earlier
// versions wrote, so what people stored before is still found. Every value read or stored is handed
// to the logger's redactor first, so it cannot reach the output channel.
import type * as vscode from "vscode";

/** What kind of secret, and the name it is kept under within that kind. */
export type SecretKind = "apiKey" | "hostSecret" | "sshPassphrase";

const PREFIX: Record<SecretKind, string> = {
  apiKey: "metajudge.apiKey.",
  hostSecret: "metajudge.hostSecret.",
  sshPassphrase: "metajudge.sshPassphrase.",
};

/** The SecretStorage key of one secret; fixed, because stored secrets outlive versions. */
export function secretStorageKey(kind: SecretKind, name: string): string {
  return PREFIX[kind] + name;
}

export class Secrets {
  constructor(
    private readonly store: Pick<vscode.SecretStorage, "get" | "store" | "delete">,
    private readonly redactor: { addSecret(value: string): void },
  ) {}

  /** An endpoint's API key: the secret store first, then the editor's own environment. */
  apiKey(envName: string): Promise<string | undefined> {
    return this.read("apiKey", envName, true);
  }
  setApiKey(envName: string, value: string): Promise<void> {
    return this.write("apiKey", envName, value);
  }
  /** The environment a worker gets: each named key that is known. */
  async apiKeyEnv(envNames: Iterable<string>): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const name of envNames) {
      const v = await this.apiKey(name);
      if (v) out[name] = v;
    }
    return out;
  }

  /** A host secret a profile names (a Ray token, a secret_env entry): the store first, then the environment. */
  hostSecret(name: string): Promise<string | undefined> {
    return this.read("hostSecret", name, true);
  }
  setHostSecret(name: string, value: string): Promise<void> {
    return this.write("hostSecret", name, value);
  }

  /** The passphrase of an SSH identity file; only ever from the store. */
  passphrase(identityFile: string): Promise<string | undefined> {
    return this.read("sshPassphrase", identityFile, false);
  }
  setPassphrase(identityFile: string, value: string): Promise<void> {
    return this.write("sshPassphrase", identityFile, value);
  }
  async deletePassphrase(identityFile: string): Promise<void> {
    await this.store.delete(secretStorageKey("sshPassphrase", identityFile));
  }

  private async read(kind: SecretKind, name: string, envFallback: boolean): Promise<string | undefined> {
    const v = (await this.store.get(secretStorageKey(kind, name))) ?? (envFallback ? process.env[name] : undefined);
    if (!v) return undefined;
    this.redactor.addSecret(v);
    return v;
  }
  private async write(kind: SecretKind, name: string, value: string): Promise<void> {
    this.redactor.addSecret(value);
    await this.store.store(secretStorageKey(kind, name), value);
  }
}
