// known_hosts checked against what OpenSSH's own tools write and print: fingerprints as ssh-keygen -lf
// shows them, names hashed by ssh-keygen -H, markers, [host]:port, and appending an accepted key.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MetajudgeError } from "../../src/core/errors.js";
import {
  checkHostKey,
  fingerprint,
  hostMatches,
  keyTypeOf,
  knownHostName,
  parseKnownHosts,
  verifyHostKey,
} from "../../src/core/remote/ssh/known-hosts.js";
import type { HostKeyInfo } from "../../src/core/remote/types.js";

const dir = mkdtempSync(join(tmpdir(), "mj-kh-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function keygen(name: string, type = "ed25519"): { line: string; blob: Buffer; file: string } {
  const file = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", file]);
  const line = readFileSync(`${file}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
  return { line, blob: Buffer.from(line.split(" ")[1]!, "base64"), file };
}

const a = keygen("a");
const b = keygen("b");
const ecdsa = keygen("c", "ecdsa");

describe("fingerprint and key type", () => {
  it("prints the fingerprint exactly as ssh-keygen -lf does", () => {
    for (const k of [a, b, ecdsa]) {
      const printed = execFileSync("ssh-keygen", ["-lf", `${k.file}.pub`], { encoding: "utf8" }).split(" ")[1];
      assert.equal(fingerprint(k.blob), printed);
    }
  });
  it("reads the algorithm from the blob", () => {
    assert.equal(keyTypeOf(a.blob), "ssh-ed25519");
    assert.equal(keyTypeOf(ecdsa.blob), "ecdsa-sha2-nistp256");
  });
});

describe("host patterns", () => {
  const table: [string, string, boolean][] = [
    ["gpu", "gpu", true],
    ["GPU", "gpu", true],
    ["a,gpu,b", "gpu", true],
    ["[gpu]:2222", "[gpu]:2222", true],
    ["gpu", "[gpu]:2222", false],
    ["[gpu]:2222", "gpu", false],
    ["*.example.org", "gpu.example.org", true],
    ["*.example.org,!bad.example.org", "bad.example.org", false],
    ["10.0.0.?", "10.0.0.5", true],
  ];
  for (const [patterns, name, want] of table)
    it(`${patterns} ${want ? "matches" : "does not match"} ${name}`, () => assert.equal(hostMatches(patterns, name), want));

  it("matches names hashed by ssh-keygen -H", () => {
    const file = join(dir, "hashed");
    writeFileSync(file, `${knownHostName("127.0.0.1", 2222)} ${a.line}\ngpu.example.org ${b.line}\n`);
    execFileSync("ssh-keygen", ["-q", "-H", "-f", file]);
    const entries = parseKnownHosts(readFileSync(file, "utf8"));
    assert.ok(entries.every((e) => e.patterns.startsWith("|1|")));
    assert.deepEqual(checkHostKey(entries, "[127.0.0.1]:2222", a.blob), { status: "ok", line: 1 });
    assert.deepEqual(checkHostKey(entries, "gpu.example.org", b.blob), { status: "ok", line: 2 });
    assert.deepEqual(checkHostKey(entries, "127.0.0.1", a.blob), { status: "unknown" });
  });
});

describe("checkHostKey", () => {
  const text = [
    "# comment",
    "",
    `gpu,10.0.0.5 ${a.line}`,
    `@cert-authority *.example.org ${b.line}`,
    `@revoked * ${ecdsa.line}`,
    `[box]:2200 ${b.line}`,
    "garbage",
  ].join("\n");
  const entries = parseKnownHosts(text);

  it("skips comments, blanks and broken lines", () =>
    assert.deepEqual(
      entries.map((e) => e.line),
      [3, 4, 5, 6],
    ));
  it("accepts the known key", () => assert.equal(checkHostKey(entries, "10.0.0.5", a.blob).status, "ok"));
  it("reports a different key of the same type as changed, with the old fingerprint and line", () =>
    assert.deepEqual(checkHostKey(entries, "gpu", b.blob), { status: "changed", line: 3, oldFingerprint: fingerprint(a.blob) }));
  it("treats a key of another type as unknown", () =>
    assert.equal(checkHostKey(parseKnownHosts(`gpu ${a.line}`), "gpu", ecdsa.blob).status, "unknown"));
  it("ignores @cert-authority lines", () => assert.equal(checkHostKey(entries, "x.example.org", b.blob).status, "unknown"));
  it("refuses a @revoked key", () => assert.deepEqual(checkHostKey(entries, "anything", ecdsa.blob), { status: "revoked", line: 5 }));
  it("files a non-standard port under [host]:port", () => {
    assert.equal(checkHostKey(entries, knownHostName("box", 2200), b.blob).status, "ok");
    assert.equal(checkHostKey(entries, knownHostName("box", 22), b.blob).status, "unknown");
  });
});

describe("verifyHostKey", () => {
  const ctx = (file: string, answer: boolean, asked: HostKeyInfo[]) => ({
    knownHostsFile: file,
    hostName: "127.0.0.1",
    port: 2222,
    label: "ssh test",
    confirm: async (info: HostKeyInfo) => {
      asked.push(info);
      return answer;
    },
  });

  it("refuses a changed key without asking, naming the file:line and both fingerprints", async () => {
    const file = join(dir, "kh-changed");
    writeFileSync(file, `# first\n[127.0.0.1]:2222 ${a.line}\n`);
    const asked: HostKeyInfo[] = [];
    await assert.rejects(verifyHostKey(ctx(file, true, asked), b.blob), (e: unknown) => {
      assert.ok(e instanceof MetajudgeError);
      assert.equal(e.reason, "hostKey");
      assert.match(e.message, new RegExp(`${file}:2`));
      assert.ok(e.message.includes(fingerprint(a.blob)) && e.message.includes(fingerprint(b.blob)));
      assert.deepEqual(e.where, { file, line: 2 });
      return true;
    });
    assert.equal(asked.length, 0);
  });

  it("asks about an unknown key and appends it only when accepted, creating the file 0600 in a 0700 folder", async () => {
    const file = join(dir, "new", ".ssh", "known_hosts");
    const asked: HostKeyInfo[] = [];
    await assert.rejects(
      verifyHostKey(ctx(file, false, asked), a.blob),
      (e: unknown) => e instanceof MetajudgeError && e.reason === "hostKey",
    );
    assert.equal(existsSync(file), false);
    assert.deepEqual(asked, [
      { host: "[127.0.0.1]:2222", keyType: "ssh-ed25519", fingerprint: fingerprint(a.blob), status: "unknown", knownHostsFile: file },
    ]);

    await verifyHostKey(ctx(file, true, asked), a.blob);
    assert.equal(readFileSync(file, "utf8"), `[127.0.0.1]:2222 ${a.line}\n`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "new", ".ssh")).mode & 0o777, 0o700);
    // OpenSSH itself accepts what we wrote.
    const found = execFileSync("ssh-keygen", ["-F", "[127.0.0.1]:2222", "-f", file], { encoding: "utf8" });
    assert.match(found, /found: line 1/);

    const before = asked.length;
    await verifyHostKey(ctx(file, false, asked), a.blob);
    assert.equal(asked.length, before, "a known key is not asked about again");
  });
});

describe("verifyHostKey over several files (UserKnownHostsFile, GlobalKnownHostsFile)", () => {
  const base = (asked: HostKeyInfo[], over: Partial<Parameters<typeof verifyHostKey>[0]> = {}) => ({
    knownHostsFile: join(dir, "multi-user-1"),
    hostName: "127.0.0.1",
    port: 2222,
    label: "ssh test",
    confirm: async (info: HostKeyInfo) => {
      asked.push(info);
      return true;
    },
    ...over,
  });

  it("connects on a key found only in a read-only file, writing nothing", async () => {
    const global = join(dir, "global-ok");
    writeFileSync(global, `[127.0.0.1]:2222 ${a.line}\n`);
    const asked: HostKeyInfo[] = [];
    const ctx = base(asked, { knownHostsFile: join(dir, "user-untouched"), readOnlyFiles: [join(dir, "missing"), global] });
    await verifyHostKey(ctx, a.blob);
    assert.equal(asked.length, 0);
    assert.equal(existsSync(ctx.knownHostsFile), false);
  });

  it("refuses a key changed in a read-only file without asking, naming that file:line", async () => {
    const global = join(dir, "global-changed");
    writeFileSync(global, `# fleet\n\n[127.0.0.1]:2222 ${a.line}\n`);
    const asked: HostKeyInfo[] = [];
    const ctx = base(asked, { knownHostsFile: join(dir, "user-empty"), readOnlyFiles: [global] });
    await assert.rejects(verifyHostKey(ctx, b.blob), (e: unknown) => {
      assert.ok(e instanceof MetajudgeError && e.reason === "hostKey");
      assert.deepEqual(e.where, { file: global, line: 3 });
      assert.ok(e.message.includes("CHANGED") && e.message.includes(`${global}:3`), e.message);
      return true;
    });
    assert.equal(asked.length, 0);
    assert.equal(existsSync(ctx.knownHostsFile), false);
  });

  it("refuses a key revoked in any file, even when another file lists it", async () => {
    const user = join(dir, "user-lists-c");
    const global = join(dir, "global-revokes-c");
    writeFileSync(user, `[127.0.0.1]:2222 ${ecdsa.line}\n`);
    writeFileSync(global, `@revoked * ${ecdsa.line}\n`);
    await assert.rejects(
      verifyHostKey(base([], { knownHostsFile: user, readOnlyFiles: [global] }), ecdsa.blob),
      (e: unknown) => e instanceof MetajudgeError && e.reason === "hostKey" && e.where?.file === global,
    );
  });

  it("appends an accepted unknown key to the first file only", async () => {
    const first = join(dir, "first", "known_hosts");
    const second = join(dir, "second-kh");
    writeFileSync(second, `other.example ${b.line}\n`);
    await verifyHostKey(base([], { knownHostsFile: first, readOnlyFiles: [second] }), a.blob);
    assert.equal(readFileSync(first, "utf8"), `[127.0.0.1]:2222 ${a.line}\n`);
    assert.equal(readFileSync(second, "utf8"), `other.example ${b.line}\n`);
  });

  it("StrictHostKeyChecking yes refuses an unknown key without asking and says so", async () => {
    const asked: HostKeyInfo[] = [];
    const ctx = base(asked, { knownHostsFile: join(dir, "strict-kh"), strict: "yes" });
    await assert.rejects(
      verifyHostKey(ctx, a.blob),
      (e: unknown) => e instanceof MetajudgeError && e.reason === "hostKey" && /StrictHostKeyChecking is "yes"/.test(e.message),
    );
    assert.equal(asked.length, 0);
    assert.equal(existsSync(ctx.knownHostsFile), false);
  });

  it("StrictHostKeyChecking no still refuses a changed key (stricter than OpenSSH)", async () => {
    const file = join(dir, "strict-no");
    writeFileSync(file, `[127.0.0.1]:2222 ${a.line}\n`);
    const asked: HostKeyInfo[] = [];
    await assert.rejects(
      verifyHostKey(base(asked, { knownHostsFile: file, strict: "no" }), b.blob),
      (e: unknown) => e instanceof MetajudgeError && e.reason === "hostKey" && /CHANGED/.test(e.message),
    );
    assert.equal(asked.length, 0);
  });

  it("looks up and files the key under HostKeyAlias, without a port", async () => {
    const file = join(dir, "alias-kh");
    const asked: HostKeyInfo[] = [];
    await verifyHostKey(base(asked, { knownHostsFile: file, hostKeyAlias: "gpu-box" }), a.blob);
    assert.equal(asked[0]?.host, "gpu-box");
    assert.equal(readFileSync(file, "utf8"), `gpu-box ${a.line}\n`);
    const again: HostKeyInfo[] = [];
    await verifyHostKey(base(again, { knownHostsFile: file, hostKeyAlias: "gpu-box", port: 22, hostName: "10.9.9.9" }), a.blob);
    assert.equal(again.length, 0, "the alias is the name, whatever the address");
    await assert.rejects(
      verifyHostKey(base([], { knownHostsFile: file, hostKeyAlias: "gpu-box" }), b.blob),
      (e: unknown) => e instanceof MetajudgeError && /CHANGED/.test(e.message) && e.message.includes("HostKeyAlias"),
    );
  });
});
