// The SSH layer against a real OpenSSH server on 127.0.0.1 (scripts/remote/sshd.sh): commands, aliases
// and ProxyJump, SFTP with resume and checksums, host keys, keys and passphrases, dropped links,
// forwarding, and quoting of hostile file names all the way through a real remote shell.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, createHash } from "node:crypto";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type Socket } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { MetajudgeError, type ErrorReason } from "../../src/core/errors.js";
import { quote } from "../../src/core/remote/shell.js";
import { closeAllSsh, openSshShell, resolveSshTarget } from "../../src/core/remote/ssh/index.js";
import type { HostDeps, HostKeyInfo, RemoteShell } from "../../src/core/remote/types.js";
import { killConnections, sshdUnavailable, startSshd, strangerKey, type Sshd } from "../support/sshd.js";

const skip = sshdUnavailable ? `no test sshd: ${sshdUnavailable}` : false;

let sshd: Sshd;
let local: string;
const remoteDir = `mj-e2e-${process.pid}-${Date.now()}`;

before(async () => {
  if (skip) return;
  sshd = await startSshd();
  local = mkdtempSync(join(tmpdir(), "mj-ssh-e2e-"));
});
after(async () => {
  if (skip) return;
  closeAllSsh();
  try {
    execFileSync("rm", ["-rf", `/home/${sshd.user}/${remoteDir}`]);
  } finally {
    await sshd.stop();
    rmSync(local, { recursive: true, force: true });
  }
});

function deps(over: Partial<HostDeps> = {}): HostDeps & { asked: HostKeyInfo[] } {
  const asked: HostKeyInfo[] = [];
  return {
    asked,
    sshConfigFile: sshd.configFile,
    knownHostsFile: sshd.knownHostsFile,
    confirmHostKey: async (info) => {
      asked.push(info);
      return false;
    },
    passphrase: async () => undefined,
    secret: async () => undefined,
    ...over,
  };
}

/** An alias of the test server in a config file of its own, with `lines` under it. */
function aliasConfig(name: string, lines: string[]): string {
  const file = join(local, `ssh_config_${name}`);
  writeFileSync(
    file,
    [`Host ${name}`, "  HostName 127.0.0.1", `  Port ${sshd.port}`, `  User ${sshd.user}`, ...lines.map((l) => `  ${l}`), ""].join("\n"),
  );
  return file;
}

async function rejectsWith(p: Promise<unknown>, reason: ErrorReason, ...patterns: (string | RegExp)[]): Promise<MetajudgeError> {
  let caught: unknown;
  await p.then(
    () => assert.fail(`expected a ${reason} error`),
    (e: unknown) => (caught = e),
  );
  assert.ok(caught instanceof MetajudgeError, `not a MetajudgeError: ${String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  for (const pat of patterns)
    assert.ok(typeof pat === "string" ? caught.message.includes(pat) : pat.test(caught.message), `${caught.message} lacks ${String(pat)}`);
  return caught;
}

const sha = (buf: Buffer): string => createHash("sha256").update(buf).digest("hex");
const accepted = (): number => (readFileSync(join(sshd.dir, "sshd.log"), "utf8").match(/Accepted publickey/g) ?? []).length;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The PID whose socket has local port `port` on 127.0.0.1, found through /proc (we are root). */
function ownerOfLocalPort(port: number): number | undefined {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const line = readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .find((l) => l.trim().split(/\s+/)[1] === `0100007F:${hex}`);
  const inode = line?.trim().split(/\s+/)[9];
  if (!inode) return undefined;
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return Number(pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

describe("ssh: commands", { skip }, () => {
  let sh: RemoteShell;
  before(async () => (sh = await openSshShell({ host: "mj-loop" }, deps())));
  after(() => sh?.close());

  it("streams stdout in several chunks, keeps stderr apart, and returns the exit code", async () => {
    const chunks: string[] = [];
    const r = await sh.exec('for i in 1 2 3; do echo "line $i"; sleep 0.3; done; echo oops >&2; exit 7', {
      onStdout: (c) => chunks.push(c.toString()),
    });
    assert.equal(r.code, 7);
    assert.equal(chunks.join(""), "line 1\nline 2\nline 3\n");
    assert.ok(chunks.length >= 2, `one chunk only: ${JSON.stringify(chunks)}`);
    assert.equal(r.stdout, "", "a streamed stdout is not also collected");
    assert.equal(r.stderr, "oops\n");
  });

  it("runs as the configured user in its home, and feeds stdin", async () => {
    assert.equal(await sh.home(), `/home/${sshd.user}`);
    const r = await sh.exec("whoami; pwd; cat", { stdin: "from stdin" });
    assert.equal(r.stdout, `${sshd.user}\n/home/${sshd.user}\nfrom stdin`);
    assert.equal(r.code, 0);
  });

  it("kills a command that outlives timeoutMs, on the host too", async () => {
    const marker = `sleep 3${process.pid % 1000}`;
    await rejectsWith(sh.exec(`exec ${marker}`, { timeoutMs: 500 }), "timeout", marker);
    await until(
      "the remote sleep to be killed",
      async () => !(await sh.exec('ps -u "$(id -u)" -o args=')).stdout.split("\n").includes(marker),
    );
  });

  it("stops a command when its signal aborts", async () => {
    const ac = new AbortController();
    const p = sh.exec("sleep 30", { signal: ac.signal, onStdout: () => undefined });
    setTimeout(() => ac.abort(), 200);
    await rejectsWith(p, "cancelled");
  });

  it("runs more commands at once than sshd allows sessions per connection (MaxSessions 10)", async () => {
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => sh.exec(`sleep 0.2; echo ${i}`)));
    assert.deepEqual(
      results.map((r) => [r.code, r.stdout]),
      Array.from({ length: 30 }, (_, i) => [0, `${i}\n`]),
    );
  });

  it("bounds collected output at 4 MiB", async () => {
    const r = await sh.exec("head -c 5000000 /dev/zero");
    assert.equal(r.code, 0);
    assert.equal(r.stdout.length, 4 * 1024 * 1024);
  });
});

describe("ssh: ~/.ssh/config aliases and the pool", { skip }, () => {
  it("resolves mj-loop and mj-jump from the config", () => {
    const loop = resolveSshTarget({ host: "mj-loop" }, sshd.configFile);
    assert.deepEqual(
      [loop.hostName, loop.port, loop.user, loop.identityFiles, loop.proxyJump],
      ["127.0.0.1", sshd.port, sshd.user, [sshd.clientKey], undefined],
    );
    assert.equal(resolveSshTarget({ host: "mj-jump" }, sshd.configFile).proxyJump, "mj-loop");
  });

  it("reaches mj-jump through a TCP channel of the mj-loop connection, not a socket of ours", async () => {
    const sh = await openSshShell({ host: "mj-jump" }, deps());
    try {
      assert.match(sh.label, /mj-jump .* via ssh mj-loop/);
      const [clientIp, clientPort] = (await sh.exec('echo "$SSH_CONNECTION"')).stdout.trim().split(" ");
      assert.equal(clientIp, "127.0.0.1");
      const owner = ownerOfLocalPort(Number(clientPort));
      assert.ok(owner !== undefined, `no socket on port ${clientPort}`);
      assert.notEqual(owner, process.pid, "the target connection came from this process: ProxyJump was not used");
      assert.match(readFileSync(`/proc/${owner}/cmdline`, "utf8"), /^sshd/);
    } finally {
      sh.close();
    }
  });

  it("shares one connection between shells and ends it when the last one closes", async () => {
    const before = accepted();
    const a = await openSshShell({ host: "mj-loop" }, deps({ knownHostsFile: sshd.knownHostsFile }));
    const b = await openSshShell({ host: "mj-loop" }, deps());
    assert.equal((await a.exec("echo a")).stdout, "a\n");
    assert.equal((await b.exec("echo b")).stdout, "b\n");
    assert.equal(accepted(), before + 1);
    a.close();
    a.close(); // a second close of one shell releases nothing more
    assert.equal((await b.exec("echo still")).stdout, "still\n");
    b.close();
    const c = await openSshShell({ host: "mj-loop" }, deps());
    assert.equal((await c.exec("echo c")).stdout, "c\n");
    assert.equal(accepted(), before + 2, "the last close ended the connection; the next open dialled again");
    c.close();
  });

  it("notices a dropped connection and dials again, for the same shell and for the next open", async () => {
    const sh = await openSshShell({ host: "mj-loop" }, deps());
    assert.equal((await sh.exec("echo before")).stdout, "before\n");
    const before = accepted();
    assert.ok(killConnections(sshd) > 0);
    const after = await Promise.all([1, 2, 3, 4, 5].map((i) => sh.exec(`echo after ${i}`)));
    assert.deepEqual(
      after.map((r) => r.stdout),
      [1, 2, 3, 4, 5].map((i) => `after ${i}\n`),
    );
    const other = await openSshShell({ host: "mj-loop" }, deps());
    assert.equal((await other.exec("echo other")).stdout, "other\n");
    assert.equal(accepted(), before + 1, "one new connection, shared");
    sh.close();
    other.close();
    // Both references are gone, so the reconnected link ended too: the next open dials again.
    const third = await openSshShell({ host: "mj-loop" }, deps());
    assert.equal((await third.exec("echo third")).stdout, "third\n");
    assert.equal(accepted(), before + 2);
    third.close();
  });
});

describe("ssh: SFTP", { skip }, () => {
  let sh: RemoteShell;
  let data: Buffer;
  let src: string;
  before(async () => {
    sh = await openSshShell({ host: "mj-loop" }, deps());
    data = randomBytes(3 * 1024 * 1024 + 123);
    src = join(local, "data.bin");
    writeFileSync(src, data);
  });
  after(() => sh?.close());
  const remoteSha = async (p: string): Promise<string> => (await sh.exec(`sha256sum < ${quote(p)}`)).stdout.split(" ")[0]!;

  it("uploads and downloads a few MiB with matching sha256, and skips a file already there", async () => {
    const progress: number[] = [];
    const up = await sh.upload(src, `~/${remoteDir}/rt/data.bin`, { onProgress: (d) => progress.push(d) });
    assert.deepEqual(up, { bytes: data.length, sha256: sha(data), skipped: false, resumedFrom: 0 });
    assert.equal(await remoteSha(`${remoteDir}/rt/data.bin`), sha(data));
    assert.equal(progress.at(-1), data.length);
    assert.equal((await sh.exec(`test -e ${quote(`${remoteDir}/rt/data.bin.part`)}`)).code, 1, "no .part left behind");

    const again = await sh.upload(src, `~/${remoteDir}/rt/data.bin`);
    assert.equal(again.skipped, true);

    const back = join(local, "back", "data.bin");
    const down = await sh.download(`~/${remoteDir}/rt/data.bin`, back);
    assert.deepEqual(down, { bytes: data.length, sha256: sha(data), skipped: false, resumedFrom: 0 });
    assert.ok(readFileSync(back).equals(data));
    assert.equal(existsSync(`${back}.part`), false);
    assert.equal((await sh.download(`~/${remoteDir}/rt/data.bin`, back)).skipped, true);
  });

  it("copies an empty file both ways", async () => {
    const empty = join(local, "empty.jsonl");
    writeFileSync(empty, "");
    const up = await sh.upload(empty, `~/${remoteDir}/empty/empty.jsonl`);
    assert.deepEqual(up, { bytes: 0, sha256: sha(Buffer.alloc(0)), skipped: false, resumedFrom: 0 });
    const back = join(local, "empty-back.jsonl");
    assert.equal((await sh.download(`~/${remoteDir}/empty/empty.jsonl`, back)).bytes, 0);
    assert.equal(readFileSync(back, "utf8"), "");
  });

  it("resumes an upload cut off mid-way", async () => {
    const dest = `~/${remoteDir}/resume/data.bin`;
    const ac = new AbortController();
    await rejectsWith(sh.upload(src, dest, { signal: ac.signal, onProgress: (d) => d >= 1024 * 1024 && ac.abort() }), "cancelled");
    const partSize = Number((await sh.exec(`wc -c < ${quote(`${remoteDir}/resume/data.bin.part`)}`)).stdout.trim());
    assert.ok(partSize > 0 && partSize < data.length, `part of ${partSize} bytes`);

    const r = await sh.upload(src, dest);
    assert.ok(r.resumedFrom > 0, "resumed");
    assert.equal(r.sha256, sha(data));
    assert.equal(await remoteSha(`${remoteDir}/resume/data.bin`), sha(data));
  });

  it("resumes a download cut off mid-way", async () => {
    await sh.upload(src, `~/${remoteDir}/dl/data.bin`);
    const dest = join(local, "dl", "data.bin");
    const ac = new AbortController();
    await rejectsWith(
      sh.download(`~/${remoteDir}/dl/data.bin`, dest, { signal: ac.signal, onProgress: (d) => d >= 1024 * 1024 && ac.abort() }),
      "cancelled",
    );
    assert.ok(existsSync(`${dest}.part`));
    const r = await sh.download(`~/${remoteDir}/dl/data.bin`, dest);
    assert.ok(r.resumedFrom > 0, "resumed");
    assert.ok(readFileSync(dest).equals(data));
  });

  it("does not trust a .part whose bytes differ, on either end", async () => {
    const dir = `${remoteDir}/corrupt`;
    await sh.exec(`mkdir -p ${quote(dir)} && head -c 100000 /dev/urandom > ${quote(`${dir}/data.bin.part`)}`);
    const up = await sh.upload(src, `~/${dir}/data.bin`);
    assert.equal(up.resumedFrom, 0);
    assert.equal(await remoteSha(`${dir}/data.bin`), sha(data));

    const dest = join(local, "corrupt.bin");
    writeFileSync(`${dest}.part`, randomBytes(100000));
    const down = await sh.download(`~/${dir}/data.bin`, dest);
    assert.equal(down.resumedFrom, 0);
    assert.ok(readFileSync(dest).equals(data));
  });

  it("says which file is missing", async () => {
    await rejectsWith(
      sh.download(`~/${remoteDir}/nope.bin`, join(local, "nope.bin")),
      "badInput",
      `/home/${sshd.user}/${remoteDir}/nope.bin`,
    );
    await rejectsWith(sh.upload(join(local, "nope.bin"), `~/${remoteDir}/x`), "badInput", join(local, "nope.bin"));
  });

  it("quotes a hostile file name end to end: nothing runs, the name arrives intact", async () => {
    // A file name holds no "/": the marker is touched in the working folder, the remote home for commands.
    const marker = `mj-pwned-${process.pid}`;
    const name = `it's a "test" $(touch ${marker}) ; \`touch ${marker}\` x.jsonl`;
    const file = join(local, "hostile.jsonl");
    writeFileSync(file, '{"ok":true}\n');
    const dir = `~/${remoteDir}/q u'o"te`;
    await sh.upload(file, `${dir}/${name}`);
    const remote = `${await sh.home()}/${remoteDir}/q u'o"te/${name}`;
    const r = await sh.exec(`cat -- ${quote(remote)} && ls -- ${quote(`${await sh.home()}/${remoteDir}/q u'o"te`)}`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `{"ok":true}\n${name}\n`);
    const back = join(local, "hostile-back", name);
    await sh.download(`${dir}/${name}`, back);
    assert.equal(readFileSync(back, "utf8"), '{"ok":true}\n');
    assert.equal(
      (await sh.exec(`ls -a -- ${quote(await sh.home())}`)).stdout.includes(marker),
      false,
      "a command substitution ran on the host",
    );
    assert.equal(existsSync(marker), false, "a command substitution ran here");
  });
});

describe("ssh: forwarding", { skip }, () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer((req, res) => res.end(`hello ${req.url}`));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  for (const host of ["mj-loop", "mj-jump"]) {
    it(`reaches an HTTP server on the host through forward() (${host})`, async () => {
      const sh = await openSshShell({ host }, deps());
      const fwd = await sh.forward("127.0.0.1", port);
      try {
        assert.notEqual(fwd.localPort, port);
        const bodies = await Promise.all([1, 2, 3].map(async (i) => (await fetch(`http://127.0.0.1:${fwd.localPort}/r${i}`)).text()));
        assert.deepEqual(bodies, ["hello /r1", "hello /r2", "hello /r3"]);
      } finally {
        await fwd.close();
        sh.close();
      }
    });
  }
});

describe("ssh: host keys", { skip }, () => {
  it("refuses a changed host key without asking", async () => {
    const other = strangerKey(local);
    const kh = join(local, "known_hosts_changed");
    writeFileSync(
      kh,
      `# another machine once answered here\n[127.0.0.1]:${sshd.port} ${readFileSync(`${other}.pub`, "utf8").split(" ").slice(0, 2).join(" ")}\n`,
    );
    const d = deps({ knownHostsFile: kh, confirmHostKey: async () => true });
    const asked: HostKeyInfo[] = [];
    d.confirmHostKey = async (info) => (asked.push(info), true);
    const hostFp = execFileSync("ssh-keygen", ["-lf", sshd.hostKeyPub], { encoding: "utf8" }).split(" ")[1]!;
    const oldFp = execFileSync("ssh-keygen", ["-lf", `${other}.pub`], { encoding: "utf8" }).split(" ")[1]!;
    const e = await rejectsWith(openSshShell({ host: "mj-loop" }, d), "hostKey", `${kh}:2`, hostFp, oldFp);
    assert.deepEqual(e.where, { file: kh, line: 2 });
    assert.equal(asked.length, 0);
  });

  it("asks about an unknown key: refused when declined, appended when accepted, not asked again", async () => {
    const kh = join(local, "fresh", "known_hosts");
    const no = deps({ knownHostsFile: kh });
    await rejectsWith(openSshShell({ host: "mj-loop" }, no), "hostKey", "not accepted");
    assert.equal(no.asked.length, 1);
    assert.equal(no.asked[0]!.host, `[127.0.0.1]:${sshd.port}`);
    assert.equal(no.asked[0]!.fingerprint, execFileSync("ssh-keygen", ["-lf", sshd.hostKeyPub], { encoding: "utf8" }).split(" ")[1]);
    assert.equal(existsSync(kh), false, "nothing written");

    const yes = deps({ knownHostsFile: kh, confirmHostKey: async () => true });
    const sh = await openSshShell({ host: "mj-loop" }, yes);
    assert.equal((await sh.exec("echo ok")).stdout, "ok\n");
    sh.close();
    const hostKey = readFileSync(sshd.hostKeyPub, "utf8").split(" ").slice(0, 2).join(" ");
    assert.equal(readFileSync(kh, "utf8"), `[127.0.0.1]:${sshd.port} ${hostKey}\n`);

    closeAllSsh();
    const again = deps({ knownHostsFile: kh });
    const sh2 = await openSshShell({ host: "mj-loop" }, again);
    assert.equal((await sh2.exec("echo again")).stdout, "again\n");
    assert.equal(again.asked.length, 0);
    sh2.close();
  });
});

describe("ssh: known_hosts files and host-key options from the config", { skip }, () => {
  // The embedder's default file: the config's UserKnownHostsFile wins over it, as in OpenSSH.
  const defaultKh = join(homedir(), ".ssh", "known_hosts");
  const hostKey = (): string => readFileSync(sshd.hostKeyPub, "utf8").split(" ").slice(0, 2).join(" ");
  const strangerLine = (): string =>
    readFileSync(`${strangerKey(local)}.pub`, "utf8")
      .split(" ")
      .slice(0, 2)
      .join(" ");
  const snapshot = (f: string): string | undefined => (existsSync(f) ? readFileSync(f, "utf8") : undefined);
  const userDefault = snapshot(defaultKh);
  let key: string[] = [];
  before(() => (key = [`IdentityFile ${sshd.clientKey}`, "IdentitiesOnly yes"]));
  after(() => assert.equal(snapshot(defaultKh), userDefault, "the user's own known_hosts was left alone"));

  it("reads every UserKnownHostsFile: a key in the second connects without asking; a new key goes to the first", async () => {
    closeAllSsh();
    const first = join(local, "ukh", "first");
    const second = join(local, "ukh-second");
    writeFileSync(second, `[127.0.0.1]:${sshd.port} ${hostKey()}\n`);
    const cfg = aliasConfig("mj-ukh", [...key, `UserKnownHostsFile ${first} ${second}`, "GlobalKnownHostsFile none"]);
    const d = deps({ sshConfigFile: cfg, knownHostsFile: defaultKh });
    const sh = await openSshShell({ host: "mj-ukh" }, d);
    assert.equal((await sh.exec("echo two-files")).stdout, "two-files\n");
    sh.close();
    assert.equal(d.asked.length, 0);
    assert.equal(existsSync(first), false, "nothing was written");

    const cfgNew = aliasConfig("mj-ukh-new", [...key, `UserKnownHostsFile ${first} ${join(local, "ukh-empty")}`]);
    const yes = deps({ sshConfigFile: cfgNew, knownHostsFile: defaultKh, confirmHostKey: async (info) => (yes.asked.push(info), true) });
    const sh2 = await openSshShell({ host: "mj-ukh-new" }, yes);
    sh2.close();
    assert.deepEqual(
      yes.asked.map((i) => [i.host, i.knownHostsFile]),
      [[`[127.0.0.1]:${sshd.port}`, first]],
    );
    assert.equal(readFileSync(first, "utf8"), `[127.0.0.1]:${sshd.port} ${hostKey()}\n`);

    // A file the embedder was told to use (METAJUDGE_KNOWN_HOSTS, the editor's setting) wins, like ssh -o.
    closeAllSsh();
    const chosen = join(local, "ukh-chosen");
    const told = deps({ sshConfigFile: cfg, knownHostsFile: chosen });
    await rejectsWith(openSshShell({ host: "mj-ukh" }, told), "hostKey", chosen, "not accepted");
    assert.equal(told.asked.length, 1);
  });

  it("reads GlobalKnownHostsFile: its key connects, a different key there is refused without asking, and it is never written", async () => {
    closeAllSsh();
    const user = join(local, "gkh-user");
    const global = join(local, "gkh-global");
    writeFileSync(global, `[127.0.0.1]:${sshd.port} ${hostKey()}\n`);
    const ok = deps({
      sshConfigFile: aliasConfig("mj-gkh", [
        ...key,
        `UserKnownHostsFile ${user}`,
        `GlobalKnownHostsFile ${join(local, "gkh-none")} ${global}`,
      ]),
      knownHostsFile: defaultKh,
    });
    const sh = await openSshShell({ host: "mj-gkh" }, ok);
    assert.equal((await sh.exec("echo global")).stdout, "global\n");
    sh.close();
    assert.equal(ok.asked.length, 0);

    const stale = join(local, "gkh-stale");
    const text = `# the fleet's keys\n[127.0.0.1]:${sshd.port} ${strangerLine()}\n`;
    writeFileSync(stale, text);
    const d = deps({
      sshConfigFile: aliasConfig("mj-gkh-stale", [...key, `UserKnownHostsFile ${user}`, `GlobalKnownHostsFile ${stale}`]),
      knownHostsFile: defaultKh,
    });
    d.confirmHostKey = async (info) => (d.asked.push(info), true);
    const e = await rejectsWith(openSshShell({ host: "mj-gkh-stale" }, d), "hostKey", "CHANGED", `${stale}:2`);
    assert.deepEqual(e.where, { file: stale, line: 2 });
    assert.equal(d.asked.length, 0);
    assert.equal(readFileSync(stale, "utf8"), text);
    assert.equal(existsSync(user), false);
  });

  it("looks the key up under HostKeyAlias, and asks about it under that name", async () => {
    closeAllSsh();
    const kh = join(local, "alias-kh");
    writeFileSync(kh, `mj-box-alias ${hostKey()}\n`);
    const d = deps({
      sshConfigFile: aliasConfig("mj-hka", [...key, `UserKnownHostsFile ${kh}`, "HostKeyAlias mj-box-alias", "GlobalKnownHostsFile none"]),
      knownHostsFile: defaultKh,
    });
    const sh = await openSshShell({ host: "mj-hka" }, d);
    assert.equal((await sh.exec("echo alias")).stdout, "alias\n");
    sh.close();
    assert.equal(d.asked.length, 0);

    const other = deps({
      sshConfigFile: aliasConfig("mj-hka-other", [
        ...key,
        `UserKnownHostsFile ${kh}`,
        "HostKeyAlias another-name",
        "GlobalKnownHostsFile none",
      ]),
      knownHostsFile: defaultKh,
    });
    await rejectsWith(openSshShell({ host: "mj-hka-other" }, other), "hostKey", "another-name", "HostKeyAlias");
    assert.deepEqual(
      other.asked.map((i) => i.host),
      ["another-name"],
    );
  });

  it("StrictHostKeyChecking yes refuses an unknown key without asking; no still refuses a changed one", async () => {
    closeAllSsh();
    const kh = join(local, "strict-kh");
    const strict = deps({
      sshConfigFile: aliasConfig("mj-strict", [
        ...key,
        `UserKnownHostsFile ${kh}`,
        "StrictHostKeyChecking yes",
        "GlobalKnownHostsFile none",
      ]),
      knownHostsFile: defaultKh,
    });
    strict.confirmHostKey = async (info) => (strict.asked.push(info), true);
    await rejectsWith(openSshShell({ host: "mj-strict" }, strict), "hostKey", 'StrictHostKeyChecking is "yes"', "without asking");
    assert.equal(strict.asked.length, 0);
    assert.equal(existsSync(kh), false);

    const changed = join(local, "strict-no-kh");
    writeFileSync(changed, `[127.0.0.1]:${sshd.port} ${strangerLine()}\n`);
    const lax = deps({
      sshConfigFile: aliasConfig("mj-lax", [
        ...key,
        `UserKnownHostsFile ${changed}`,
        "StrictHostKeyChecking no",
        "GlobalKnownHostsFile none",
      ]),
      knownHostsFile: defaultKh,
    });
    lax.confirmHostKey = async (info) => (lax.asked.push(info), true);
    await rejectsWith(openSshShell({ host: "mj-lax" }, lax), "hostKey", "CHANGED", `${changed}:1`);
    assert.equal(lax.asked.length, 0);

    const ask = deps({
      sshConfigFile: aliasConfig("mj-accept-new", [
        ...key,
        `UserKnownHostsFile ${kh}`,
        "StrictHostKeyChecking accept-new",
        "GlobalKnownHostsFile none",
      ]),
      knownHostsFile: defaultKh,
    });
    await rejectsWith(openSshShell({ host: "mj-accept-new" }, ask), "hostKey", "not accepted");
    assert.equal(ask.asked.length, 1, "accept-new still asks");
  });
});

describe("ssh: connection failures", { skip }, () => {
  it("names an alias that neither the config nor DNS knows", async () => {
    await rejectsWith(openSshShell({ host: "mj-nope.invalid" }, deps()), "badInput", "mj-nope.invalid", sshd.configFile);
  });

  it("names the alias, its HostName and the config file when the HostName does not resolve", async () => {
    const cfg = join(local, "ssh_config_bad");
    writeFileSync(cfg, "Host mj-bad\n  HostName nowhere.invalid\n  User nobody\n");
    const e = await rejectsWith(
      openSshShell({ host: "mj-bad" }, deps({ sshConfigFile: cfg })),
      "badInput",
      "mj-bad",
      "nowhere.invalid",
      cfg,
    );
    assert.equal(e.where?.file, cfg);
  });

  it("says nothing listens on a closed port", async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    await rejectsWith(
      openSshShell({ host: "127.0.0.1", port, user: sshd.user }, deps()),
      "refused",
      `nothing listens on 127.0.0.1:${port}`,
    );
  });

  it("times out on a port that accepts but never speaks SSH, and stops dialling when cancelled", async () => {
    const accepted = new Set<Socket>();
    const mute = createNetServer((sock) => {
      accepted.add(sock);
      sock.on("error", () => undefined);
    });
    await new Promise<void>((r) => mute.listen(0, "127.0.0.1", () => r()));
    const port = (mute.address() as { port: number }).port;
    try {
      await rejectsWith(
        openSshShell({ host: "127.0.0.1", port, user: sshd.user }, deps(), { readyTimeoutMs: 1000 }),
        "timeout",
        `127.0.0.1:${port}`,
      );
      const ac = new AbortController();
      const p = openSshShell({ host: "127.0.0.1", port, user: sshd.user }, deps(), { signal: ac.signal, readyTimeoutMs: 60_000 });
      setTimeout(() => ac.abort(), 200);
      await rejectsWith(p, "cancelled");
    } finally {
      for (const sock of accepted) sock.destroy();
      mute.close();
    }
  });

  it("authenticates with a key held by ssh-agent when no identity file works, unless IdentitiesOnly is yes", async () => {
    const sock = join(local, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    const saved = process.env.SSH_AUTH_SOCK;
    try {
      await until("ssh-agent to listen", () => existsSync(sock));
      execFileSync("ssh-add", ["-q", sshd.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" });
      process.env.SSH_AUTH_SOCK = sock;
      const missing = join(local, "no-such-key");
      const open = aliasConfig("mj-agent", [`IdentityFile ${missing}`, `UserKnownHostsFile ${sshd.knownHostsFile}`]);
      const sh = await openSshShell({ host: "mj-agent" }, deps({ sshConfigFile: open }));
      assert.equal((await sh.exec("echo agent")).stdout, "agent\n");
      sh.close();

      const only = aliasConfig("mj-agent-only", [
        `IdentityFile ${missing}`,
        "IdentitiesOnly yes",
        `UserKnownHostsFile ${sshd.knownHostsFile}`,
      ]);
      const before = accepted();
      const e = await rejectsWith(
        openSshShell({ host: "mj-agent-only" }, deps({ sshConfigFile: only })),
        "auth",
        `${missing} (no such file)`,
      );
      assert.ok(!e.message.includes(`agent (${sock})`), `the agent was offered: ${e.message}`);
      assert.equal(accepted(), before, "no key was accepted by the host");
    } finally {
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = saved;
      agent.kill();
    }
  });

  it("lists the keys tried when the host accepts none", async () => {
    const key = strangerKey(local);
    await rejectsWith(openSshShell({ host: "mj-loop", identity_file: key }, deps()), "auth", key, "authorized_keys");
  });

  it("uses an encrypted key with its passphrase, and fails with auth without it or with a wrong one", async () => {
    const askedFor: string[] = [];
    const right = deps({ passphrase: async (f) => (askedFor.push(f), sshd.passphrase) });
    const sh = await openSshShell({ host: "mj-enc" }, right);
    assert.equal((await sh.exec("echo enc")).stdout, "enc\n");
    assert.deepEqual(askedFor, [sshd.encryptedKey]);
    sh.close();

    const wrong = await rejectsWith(
      openSshShell({ host: "mj-enc" }, deps({ passphrase: async () => "not the passphrase" })),
      "auth",
      sshd.encryptedKey,
      "wrong passphrase",
    );
    assert.ok(!wrong.message.includes("not the passphrase") && !wrong.message.includes(sshd.passphrase));
    await rejectsWith(openSshShell({ host: "mj-enc" }, deps()), "auth", sshd.encryptedKey, "no passphrase");
  });
});
