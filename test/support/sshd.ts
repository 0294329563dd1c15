// A real OpenSSH server on 127.0.0.1 for tests (scripts/remote/sshd.sh), one per caller in a folder of
// its own, so a test file that stops its server never pulls one out from under another.
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const SCRIPT = join(__dirname, "..", "..", "scripts", "remote", "sshd.sh");
const run = promisify(execFile);

export interface Sshd {
  host: "127.0.0.1";
  port: number;
  user: string;
  pid: number; // the listening sshd; per-connection children hang below it
  configFile: string; // ssh_config with the aliases mj-loop, mj-jump, mj-enc
  knownHostsFile: string; // the host key as [127.0.0.1]:port
  clientKey: string;
  encryptedKey: string;
  passphrase: string;
  hostKeyPub: string;
  dir: string;
  stop(): Promise<void>;
}

/** Why the server cannot run here, or undefined when it can: tests skip with this message, never silently. */
export const sshdUnavailable: string | undefined =
  process.platform !== "linux"
    ? "needs Linux"
    : process.getuid?.() !== 0
      ? "scripts/remote/sshd.sh needs root (it creates the user mjremote)"
      : undefined;
export const sshdAvailable = sshdUnavailable === undefined;

export async function startSshd(): Promise<Sshd> {
  if (sshdUnavailable) throw new Error(`cannot start sshd: ${sshdUnavailable}`);
  const dir = mkdtempSync(join(tmpdir(), "mj-sshd-"));
  const env = { ...process.env, MJ_SSHD_DIR: dir };
  try {
    await run("bash", [SCRIPT, "start"], { env, timeout: 300_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/remote/sshd.sh start failed: ${e.stderr || e.message}`);
  }
  const vars = Object.fromEntries(
    readFileSync(join(dir, "env"), "utf8")
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  ) as Record<string, string>;
  const get = (k: string): string => {
    const v = vars[k];
    if (v === undefined) throw new Error(`${dir}/env has no ${k}`);
    return v;
  };
  return {
    host: "127.0.0.1",
    port: Number(get("MJ_SSHD_PORT")),
    user: get("MJ_SSHD_USER"),
    pid: Number(get("MJ_SSHD_PID")),
    configFile: get("MJ_SSHD_CONFIG"),
    knownHostsFile: get("MJ_SSHD_KNOWN_HOSTS"),
    clientKey: get("MJ_SSHD_KEY"),
    encryptedKey: get("MJ_SSHD_ENC_KEY"),
    passphrase: readFileSync(get("MJ_SSHD_PASSPHRASE_FILE"), "utf8").trim(),
    hostKeyPub: get("MJ_SSHD_HOST_KEY_PUB"),
    dir,
    async stop() {
      await run("bash", [SCRIPT, "stop"], { env });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every process below the listening sshd (one tree per client connection), found through /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // exited while we looked
    }
    // The command name may hold spaces and parentheses: the fields after the last ")" are fixed.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

/** Drops every client connection at once, as a broken link would: SIGKILL to the per-connection sshd processes. */
export function killConnections(sshd: Sshd): number {
  const pids = descendants(sshd.pid);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  return pids.length;
}

/** A fresh ed25519 key that the server does not know, for authentication failures. */
export function strangerKey(dir: string): string {
  const file = join(dir, `stranger-${process.pid}-${Date.now()}`);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "stranger", "-f", file]);
  return file;
}
