// A worker the editor spawns (the bundled CLI) reaches a host through a jump host whose key is not the
// host's: each encrypted key gets its own passphrase from METAJUDGE_SSH_PASSPHRASES, in the worker's
// environment, never its arguments; the single METAJUDGE_SSH_PASSPHRASE keeps working.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { chainIdentityFiles } from "../../src/core/remote/ssh/config.js";
import { makeExperiment, runCli, tmpDir, type CliResult } from "../support/cli.js";
import { sshdUnavailable, startSshd, type Sshd } from "../support/sshd.js";

const skip = sshdUnavailable ? `no test sshd: ${sshdUnavailable}` : false;
const ROOT = path.join(__dirname, "..", "..");

let sshd: Sshd;
let work: string;
let config: string;
let targetKey: string;
const targetPassphrase = `target-${process.pid}-${Date.now().toString(36)}`;

before(async () => {
  if (skip) return;
  // Built from the sources under test: the worker is dist/cli.js.
  execFileSync(process.execPath, [path.join(ROOT, "scripts", "build.mjs")], { cwd: ROOT, stdio: "ignore" });
  sshd = await startSshd();
  work = tmpDir("ssh-worker");
  // A second encrypted key with a passphrase of its own; this server's authorized_keys is ours alone.
  targetKey = path.join(work, "target_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", targetPassphrase, "-C", "mj-worker-target", "-f", targetKey]);
  fs.appendFileSync(path.join(sshd.dir, "authorized_keys"), fs.readFileSync(`${targetKey}.pub`));
  config = path.join(work, "ssh_config");
  const alias = (name: string, key: string, extra: string[] = []): string[] => [
    `Host ${name}`,
    "  HostName 127.0.0.1",
    `  Port ${sshd.port}`,
    `  User ${sshd.user}`,
    `  IdentityFile ${key}`,
    "  IdentitiesOnly yes",
    `  UserKnownHostsFile ${sshd.knownHostsFile}`,
    ...extra.map((l) => `  ${l}`),
  ];
  fs.writeFileSync(config, [...alias("w-jump", sshd.encryptedKey), ...alias("w-target", targetKey, ["ProxyJump w-jump"]), ""].join("\n"));
});
after(async () => {
  if (skip) return;
  await sshd.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

function experiment(host: string): string {
  const dir = makeExperiment("http://127.0.0.1:9/v1");
  const file = path.join(dir, "metajudge.json");
  const c = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  c.hosts = { gpu: { kind: "ssh", ssh: { host }, workdir: "~/mj-worker-test" } };
  fs.writeFileSync(file, JSON.stringify(c, null, 2));
  return dir;
}

const accepted = (): number => (fs.readFileSync(path.join(sshd.dir, "sshd.log"), "utf8").match(/Accepted publickey/g) ?? []).length;

function errorReason(r: CliResult): string | undefined {
  return (r.events.find((e) => e.type === "error") as { reason?: string } | undefined)?.reason;
}

function assertNoSecret(r: CliResult): void {
  for (const secret of [sshd.passphrase, targetPassphrase])
    assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), "a passphrase was printed");
}

test(
  "a jump host and its target, each with an encrypted key of its own: both passphrases from METAJUDGE_SSH_PASSPHRASES",
  { skip },
  async () => {
    const dir = experiment("w-target");
    // What the editor does: the identity files of the host and its jump hosts, each with its stored passphrase.
    const files = chainIdentityFiles({ host: "w-target" }, config);
    assert.deepEqual(files, [targetKey, sshd.encryptedKey]);
    const store = new Map([
      [targetKey, targetPassphrase],
      [sshd.encryptedKey, sshd.passphrase],
    ]);
    const env = { METAJUDGE_SSH_CONFIG: config, METAJUDGE_KNOWN_HOSTS: sshd.knownHostsFile, METAJUDGE_SSH_PASSPHRASE: "" };
    const before = accepted();
    const ok = await runCli(["hosts", "check", dir, "gpu", "--json"], {
      ...env,
      METAJUDGE_SSH_PASSPHRASES: JSON.stringify(Object.fromEntries(files.map((f) => [f, store.get(f)]))),
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(
      ok.events.some((e) => e.type === "host-check"),
      ok.stdout,
    );
    assert.equal(accepted() - before, 2, "the jump host and the target each accepted a key");
    assertNoSecret(ok);

    // One passphrase for both keys cannot work: the single variable opens the jump host only.
    const single = await runCli(["hosts", "check", dir, "gpu", "--json"], { ...env, METAJUDGE_SSH_PASSPHRASE: sshd.passphrase });
    assert.equal(single.code, 1, single.stdout);
    assert.equal(errorReason(single), "auth");
    assert.ok(
      single.stderr.includes(`${targetKey} (wrong passphrase)`) || single.stdout.includes(`${targetKey} (wrong passphrase)`),
      single.stdout + single.stderr,
    );
    assertNoSecret(single);

    // The jump host's passphrase alone: the target's key is skipped, named in the error.
    const half = await runCli(["hosts", "check", dir, "gpu", "--json"], {
      ...env,
      METAJUDGE_SSH_PASSPHRASES: JSON.stringify({ [sshd.encryptedKey]: sshd.passphrase }),
    });
    assert.equal(errorReason(half), "auth", half.stdout + half.stderr);
    assert.ok((half.stdout + half.stderr).includes(`${targetKey} (encrypted; no passphrase given)`), half.stdout + half.stderr);
  },
);

test(
  "the single METAJUDGE_SSH_PASSPHRASE still opens a one-key host, and a key missing from the map falls back to it",
  { skip },
  async () => {
    const dir = experiment("w-jump");
    const env = { METAJUDGE_SSH_CONFIG: config, METAJUDGE_KNOWN_HOSTS: sshd.knownHostsFile };
    const old = await runCli(["hosts", "check", dir, "gpu", "--json"], { ...env, METAJUDGE_SSH_PASSPHRASE: sshd.passphrase });
    assert.equal(old.code, 0, old.stderr);
    const mixed = await runCli(["hosts", "check", dir, "gpu", "--json"], {
      ...env,
      METAJUDGE_SSH_PASSPHRASE: sshd.passphrase,
      METAJUDGE_SSH_PASSPHRASES: JSON.stringify({ [targetKey]: targetPassphrase }),
    });
    assert.equal(mixed.code, 0, mixed.stderr);
    assertNoSecret(mixed);
  },
);

test("a malformed METAJUDGE_SSH_PASSPHRASES is ignored with a note that does not repeat it", { skip }, async () => {
  const dir = experiment("w-jump");
  const raw = `{"${sshd.encryptedKey}": "${sshd.passphrase}"`; // no closing brace
  const r = await runCli(["hosts", "check", dir, "gpu", "--json"], {
    METAJUDGE_SSH_CONFIG: config,
    METAJUDGE_KNOWN_HOSTS: sshd.knownHostsFile,
    METAJUDGE_SSH_PASSPHRASE: "",
    METAJUDGE_SSH_PASSPHRASES: raw,
  });
  assert.equal(errorReason(r), "auth", r.stdout + r.stderr);
  assert.ok((r.stdout + r.stderr).includes("METAJUDGE_SSH_PASSPHRASES is not a JSON object"), r.stdout + r.stderr);
  assertNoSecret(r);
});
