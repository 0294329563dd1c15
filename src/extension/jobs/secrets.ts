// Host secrets in the editor's SecretStorage: SSH key passphrases by identity file, and named
// secrets (a Ray token by the environment variable its profile names). Every value read is handed
// to the logger's redactor first, so it cannot reach the output channel.
import * as vscode from "vscode";
import type { Logger } from "../services.js";

export class HostSecrets {
  constructor(
    private readonly store: vscode.SecretStorage,
    private readonly log: Logger,
  ) {}

  private passphraseKey(identityFile: string): string {
    return `metajudge.sshPassphrase.${identityFile}`;
  }
  private secretKey(name: string): string {
    return `metajudge.hostSecret.${name}`;
  }

  async passphrase(identityFile: string): Promise<string | undefined> {
    return this.seen(await this.store.get(this.passphraseKey(identityFile)));
  }
  async setPassphrase(identityFile: string, value: string): Promise<void> {
    this.log.addSecret(value);
    await this.store.store(this.passphraseKey(identityFile), value);
  }
  async deletePassphrase(identityFile: string): Promise<void> {
    await this.store.delete(this.passphraseKey(identityFile));
  }

  /** A named secret: the secret store first, then the editor's own environment. */
  async secret(name: string): Promise<string | undefined> {
    return this.seen((await this.store.get(this.secretKey(name))) ?? process.env[name]);
  }
  async setSecret(name: string, value: string): Promise<void> {
    this.log.addSecret(value);
    await this.store.store(this.secretKey(name), value);
  }

  private seen(v: string | undefined): string | undefined {
    if (!v) return undefined;
    this.log.addSecret(v);
    return v;
  }
}
