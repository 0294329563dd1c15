// ~/.ssh/config as OpenSSH reads it: aliases, defaults from Host *, explicit fields that win, Include,
// tokens in IdentityFile, and ProxyJump chains split into hops.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import {
  chainIdentityFiles,
  DEFAULT_GLOBAL_KNOWN_HOSTS,
  parseJump,
  previousHop,
  resolveSshTarget,
} from "../../src/core/remote/ssh/config.js";

const dir = mkdtempSync(join(tmpdir(), "mj-sshcfg-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const cfg = join(dir, "config");
mkdirSync(join(dir, "conf.d"));
writeFileSync(join(dir, "conf.d", "10-cluster"), "Host login\n  HostName login.cluster.example\n  User alice\n  Port 2200\n");
writeFileSync(
  cfg,
  [
    "Host gpu",
    "  HostName 10.0.0.5",
    "  User bob",
    "  Port 2222",
    "  IdentityFile ~/.ssh/gpu_key",
    "  IdentityFile %d/.ssh/%r@%h",
    "Host behind",
    "  HostName 10.1.0.9",
    "  ProxyJump gpu",
    "Host chained",
    "  HostName 10.2.0.1",
    "  ProxyJump carol@bastion:2022,gpu",
    "Host *.lab",
    "  HostName %h.example.org",
    "Host nojump",
    "  ProxyJump none",
    "Host pinned",
    '  UserKnownHostsFile ~/.ssh/kh_pinned "/etc/with space/kh" %d/kh_%n',
    "  GlobalKnownHostsFile /fleet/known_hosts",
    "  HostKeyAlias pinned-box",
    "  IdentitiesOnly yes",
    "  StrictHostKeyChecking yes",
    "  IdentityFile /keys/pinned",
    "  ProxyJump gpu",
    "Host lax",
    "  StrictHostKeyChecking no",
    "  IdentitiesOnly no",
    "  GlobalKnownHostsFile none",
    "Host newish",
    "  StrictHostKeyChecking accept-new",
    `Include ${join(dir, "conf.d", "*")}`,
    "Host *",
    "  User fallback",
    "",
  ].join("\n"),
);

describe("resolveSshTarget", () => {
  it("takes HostName, User, Port and every IdentityFile from the alias, expanding ~ and tokens", () => {
    const r = resolveSshTarget({ host: "gpu" }, cfg);
    assert.equal(r.hostName, "10.0.0.5");
    assert.equal(r.user, "bob");
    assert.equal(r.port, 2222);
    assert.deepEqual(r.identityFiles, [join(homedir(), ".ssh", "gpu_key"), join(homedir(), ".ssh", "bob@10.0.0.5")]);
    assert.equal(r.proxyJump, undefined);
  });

  it("lets the profile's explicit fields win over the config", () => {
    const r = resolveSshTarget({ host: "gpu", user: "eve", port: 22, identity_file: "/keys/eve" }, cfg);
    assert.deepEqual([r.user, r.port, r.identityFiles], ["eve", 22, ["/keys/eve"]]);
  });

  it("falls back to Host * and port 22 for a plain host name", () => {
    const r = resolveSshTarget({ host: "example.org" }, cfg);
    assert.deepEqual([r.hostName, r.user, r.port, r.identityFiles], ["example.org", "fallback", 22, []]);
  });

  it("expands %h in HostName to the name typed", () => {
    assert.equal(resolveSshTarget({ host: "gpu7.lab" }, cfg).hostName, "gpu7.lab.example.org");
  });

  it("follows Include with a glob", () => {
    const r = resolveSshTarget({ host: "login" }, cfg);
    assert.deepEqual([r.hostName, r.user, r.port], ["login.cluster.example", "alice", 2200]);
  });

  it("keeps ProxyJump, and 'none' means no jump", () => {
    assert.equal(resolveSshTarget({ host: "behind" }, cfg).proxyJump, "gpu");
    assert.equal(resolveSshTarget({ host: "nojump" }, cfg).proxyJump, undefined);
  });

  it("reads no file that is not there", () => {
    const r = resolveSshTarget({ host: "h" }, join(dir, "missing"));
    assert.deepEqual([r.hostName, r.user, r.port], ["h", userInfo().username, 22]);
  });
});

describe("host keys and identities options", () => {
  it("reads every UserKnownHostsFile (quoted, ~ and tokens), GlobalKnownHostsFile and HostKeyAlias", () => {
    const r = resolveSshTarget({ host: "pinned" }, cfg);
    assert.deepEqual(r.userKnownHostsFiles, [join(homedir(), ".ssh", "kh_pinned"), "/etc/with space/kh", join(homedir(), "kh_pinned")]);
    assert.deepEqual(r.globalKnownHostsFiles, ["/fleet/known_hosts"]);
    assert.equal(r.hostKeyAlias, "pinned-box");
    assert.equal(r.identitiesOnly, true);
    assert.equal(r.strictHostKeyChecking, "yes");
  });

  it("defaults: no user file of its own, OpenSSH's global files, agent allowed, ask", () => {
    const r = resolveSshTarget({ host: "gpu" }, cfg);
    assert.deepEqual(r.userKnownHostsFiles, []);
    assert.deepEqual(r.globalKnownHostsFiles, DEFAULT_GLOBAL_KNOWN_HOSTS);
    assert.deepEqual(DEFAULT_GLOBAL_KNOWN_HOSTS, ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"]);
    assert.equal(r.hostKeyAlias, undefined);
    assert.deepEqual([r.identitiesOnly, r.strictHostKeyChecking], [false, "ask"]);
  });

  it("reads StrictHostKeyChecking no and accept-new, and GlobalKnownHostsFile none", () => {
    const lax = resolveSshTarget({ host: "lax" }, cfg);
    assert.deepEqual([lax.strictHostKeyChecking, lax.identitiesOnly, lax.globalKnownHostsFiles], ["no", false, []]);
    assert.equal(resolveSshTarget({ host: "newish" }, cfg).strictHostKeyChecking, "accept-new");
  });

  it("lists the identity files of a host and of its jump hosts", () => {
    assert.deepEqual(chainIdentityFiles({ host: "pinned" }, cfg), [
      "/keys/pinned",
      join(homedir(), ".ssh", "gpu_key"),
      join(homedir(), ".ssh", "bob@10.0.0.5"),
    ]);
  });
});

describe("ProxyJump hops", () => {
  const table: [string, ReturnType<typeof parseJump>][] = [
    ["gpu", { host: "gpu" }],
    ["alice@gpu", { host: "gpu", user: "alice" }],
    ["alice@gpu:2200", { host: "gpu", user: "alice", port: 2200 }],
    ["ssh://alice@gpu:2200", { host: "gpu", user: "alice", port: 2200 }],
    ["[::1]:2200", { host: "::1", port: 2200 }],
  ];
  for (const [spec, want] of table) it(`parses ${spec}`, () => assert.deepEqual(parseJump(spec), want));

  it("reaches the last hop of a chain through the ones before it", () => {
    const chain = resolveSshTarget({ host: "chained" }, cfg).proxyJump!;
    const gpu = previousHop(chain, cfg);
    assert.deepEqual([gpu.hostName, gpu.user, gpu.port, gpu.proxyJump], ["10.0.0.5", "bob", 2222, "carol@bastion:2022"]);
    const bastion = previousHop(gpu.proxyJump!, cfg);
    assert.deepEqual([bastion.hostName, bastion.user, bastion.port, bastion.proxyJump], ["bastion", "carol", 2022, undefined]);
  });
});
