// The remote paths under load, against the real loopback sshd and the loopback Ray server: SFTP
// transfers next to OpenSSH's own scp on the same server and key, following a 1 GiB job log, and Ray
// log windows of a 256 MiB log. Each measured client runs as a worker process of its own (this file,
// bundled, started with "worker"), so its peak RSS is its own and not the servers'.
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { Client, type SFTPWrapper } from "ssh2";
import { openExecutor } from "../src/core/remote/hosts.js";
import { followJob, waitForState } from "../src/core/remote/jobs/follow.js";
import { RayExecutor } from "../src/core/remote/jobs/ray.js";
import { JobStore } from "../src/core/remote/jobs/record.js";
import { jobDir } from "../src/core/remote/jobs/script.js";
import { quote } from "../src/core/remote/shell.js";
import { closeAllSsh, openSshShell } from "../src/core/remote/ssh/index.js";
import type { Executor, HostDeps, RemoteShell } from "../src/core/remote/types.js";
import { HostProfileSchema } from "../src/core/schema.js";
import { collect } from "../test/support/cli.js";
import { startRayServer } from "../test/support/ray-server.js";
import { startSshd, sshdUnavailable, type Sshd } from "../test/support/sshd.js";

const MiB = 2 ** 20;
const SFTP_BYTES = 256 * MiB;
const FOLLOW_BYTES = 1024 * MiB;
// Copying a whole log runs at a few MiB/s (one SSH exec per 1 MiB read); a quarter of the big log
// keeps the bench within minutes and still copies 256 reads' worth.
const FOLLOW_ALL_BYTES = 256 * MiB;
const RAY_BYTES = 256 * MiB;
/** Targets: SFTP within 2× of scp; memory of a follower independent of the log it copies. */
export const REMOTE = { sftpRatio: 2, followRssMiB: 64, mirrorMiB: 128, rayRssShare: 0.25 };
// A training log's line: mostly ASCII, with one character that Ray's JSON escapes as \uXXXX.
const LINE = "step 1200 loss 0.4312 lr 2.0e-06 tokens/s 5120 — grad_norm 0.91";

interface Worker {
  sshd?: Pick<Sshd, "configFile" | "knownHostsFile" | "clientKey" | "port" | "user">;
  dir: string;
  file?: string;
  rayUrl?: string;
}

interface Peak {
  baseMiB: number;
  growthMiB: number;
}

// ---- in the worker ---------------------------------------------------------------------------------

function procKiB(field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(fs.readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** Resets the peak-RSS mark (clear_refs 5), so that the peak read later is this phase's own. */
function peakFrom(): () => Peak {
  fs.writeFileSync("/proc/self/clear_refs", "5");
  const base = procKiB("VmRSS");
  return () => ({ baseMiB: base / 1024, growthMiB: (procKiB("VmHWM") - base) / 1024 });
}

function deps(w: Worker): HostDeps {
  return {
    sshConfigFile: w.sshd!.configFile,
    knownHostsFile: w.sshd!.knownHostsFile,
    confirmHostKey: async () => false,
    passphrase: async () => undefined,
    secret: async () => undefined,
  };
}

async function timed<T>(f: () => Promise<T>): Promise<{ s: number; v: T }> {
  const t = performance.now();
  const v = await f();
  return { s: (performance.now() - t) / 1000, v };
}

async function workSftp(w: Worker): Promise<unknown> {
  const shell = await openSshShell({ host: "mj-loop" }, deps(w));
  const home = await shell.home();
  await shell.exec("rm -rf bench-sftp");
  const peak = peakFrom();
  // onProgress reaching the total marks the end of the streaming; the rest is the sha256 checks.
  let streamed = 0;
  const onProgress = (done: number, total: number): void => void (done === total && (streamed = performance.now()));
  const t0 = performance.now();
  const up = await shell.upload(w.file!, `${home}/bench-sftp/up.bin`, { onProgress });
  const upStream = (streamed - t0) / 1000;
  const upTotal = (performance.now() - t0) / 1000;
  const local = path.join(w.dir, "down.bin");
  fs.rmSync(local, { force: true });
  const t1 = performance.now();
  const down = await shell.download(`${home}/bench-sftp/up.bin`, local, { onProgress });
  const downStream = (streamed - t1) / 1000;
  const downTotal = (performance.now() - t1) / 1000;
  const rss = peak();
  fs.rmSync(local, { force: true });
  const diag = await sftpDiagnosis(w, shell, `${home}/bench-sftp/up.bin`);
  await shell.exec("rm -rf bench-sftp bench-scp.bin");
  shell.close();
  closeAllSsh();
  return { upTotal, upStream, downTotal, downStream, rss, verified: up.sha256 === down.sha256 && !up.skipped && !down.skipped, diag };
}

interface Diagnosis {
  rounds: number;
  ours: number; // MiB/s, our download's streaming alone, best round
  fastGet: { cipher: string; inFlight: number; noDelay: boolean; mibs: number }[]; // best round each
}

const DIAG_ROUNDS = 2;

/**
 * ssh2's own fastGet on the same file next to our download, interleaved round by round and the best
 * round kept (noise only ever slows a copy), to tell our transfer code from ssh2's SFTP client, from
 * the cipher and from Nagle's algorithm (ssh2 leaves it on; connection.ts turns it off).
 */
async function sftpDiagnosis(w: Worker, shell: RemoteShell, remote: string): Promise<Diagnosis> {
  const configs = [
    ["aes128-gcm@openssh.com", 16, false],
    ["aes128-gcm@openssh.com", 64, false],
    ["aes128-gcm@openssh.com", 16, true],
    ["chacha20-poly1305@openssh.com", 16, true],
  ] as const;
  const best = configs.map(() => 0);
  let ours = 0;
  const local = path.join(w.dir, "diag.bin");
  for (let round = 0; round < DIAG_ROUNDS; round++) {
    fs.rmSync(local, { force: true });
    let streamed = 0;
    const t = performance.now();
    await shell.download(remote, local, { onProgress: (done, total) => void (done === total && (streamed = performance.now())) });
    ours = Math.max(ours, SFTP_BYTES / MiB / ((streamed - t) / 1000));
    for (const [i, [cipher, inFlight, noDelay]] of configs.entries()) {
      const c = new Client();
      await new Promise<void>((resolve, reject) => {
        c.once("ready", () => resolve()).once("error", reject);
        c.connect({
          host: "127.0.0.1",
          port: w.sshd!.port,
          username: w.sshd!.user,
          privateKey: fs.readFileSync(w.sshd!.clientKey),
          algorithms: { cipher: [cipher] },
        });
      });
      c.setNoDelay(noDelay);
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) => c.sftp((e, x) => (e ? reject(e) : resolve(x))));
      fs.rmSync(local, { force: true });
      const { s } = await timed(
        () =>
          new Promise<void>((resolve, reject) =>
            sftp.fastGet(remote, local, { concurrency: inFlight, chunkSize: 32 * 1024 }, (e) => (e ? reject(e) : resolve())),
          ),
      );
      best[i] = Math.max(best[i]!, SFTP_BYTES / MiB / s);
      c.end();
    }
  }
  fs.rmSync(local, { force: true });
  return {
    rounds: DIAG_ROUNDS,
    ours,
    fastGet: configs.map(([cipher, inFlight, noDelay], i) => ({ cipher, inFlight, noDelay, mibs: best[i]! })),
  };
}

async function followOnce(executor: Executor, w: Worker, id: string, bytes: number, tailSkipAbove: number | undefined): Promise<unknown> {
  const store = new JobStore(path.join(w.dir, "exp"));
  const dir = await jobDir(executor.shell!, "~/metajudge-bench", id);
  await executor.shell!.exec(`rm -rf ${quote(dir)}`);
  // Writes the whole log as fast as the disk takes it: the follower starts far behind.
  const script = `yes ${quote(LINE)} | head -c ${bytes}`;
  const remote = await executor.submit({ id, dir, script });
  store.create({ id, kind: "command", title: "bench", host: "mj-loop", executor: "ssh", state: "queued", remote: { ...remote } });
  const peak = peakFrom();
  const { s, v: record } = await timed(() =>
    followJob({ store, executor, id, intervalMs: 100, ...(tailSkipAbove !== undefined ? { tailSkipAbove } : {}) }),
  );
  const rss = peak();
  const mirror = fs.statSync(store.logPath(id)).size;
  await executor.shell!.exec(`rm -rf ${quote(dir)}`);
  fs.rmSync(store.logPath(id), { force: true });
  return { s, rss, state: record.state, offset: record.log.offset, skipped: record.log.skipped, mirror };
}

async function workFollow(w: Worker): Promise<unknown> {
  const profile = HostProfileSchema.parse({ kind: "ssh", ssh: { host: "mj-loop" }, workdir: "~/metajudge-bench" });
  const executor = await openExecutor(profile, deps(w));
  try {
    const all = await followOnce(executor, w, "bench-follow-all", FOLLOW_ALL_BYTES, Infinity);
    const skip = await followOnce(executor, w, "bench-follow-skip", FOLLOW_BYTES, undefined);
    return { all, skip };
  } finally {
    executor.close();
    closeAllSsh();
  }
}

async function workRay(w: Worker): Promise<unknown> {
  const executor = new RayExecutor(w.rayUrl!);
  const ref = await executor.submit({
    id: "bench-ray",
    dir: path.join(w.dir, "ray-job"),
    script: `yes ${quote(LINE)} | head -c ${RAY_BYTES}`,
  });
  const status = await waitForState(executor, ref, ["succeeded"], { intervalMs: 200, timeoutMs: 120_000 });
  if (status.state !== "succeeded") throw new Error(`the Ray job ended ${status.state}: ${status.detail ?? ""}`);
  const peak = peakFrom();
  const windows: { offset: number; bytes: number; s: number; size: number }[] = [];
  // Each read downloads the whole log (Ray has no ranges): head, middle and tail of it.
  for (const offset of [0, RAY_BYTES / 2, RAY_BYTES - MiB]) {
    const { s, v } = await timed(() => new RayExecutor(w.rayUrl!).readLog(ref, offset, MiB));
    windows.push({ offset, bytes: v.data.length, s, size: v.size ?? NaN });
  }
  const store = new JobStore(path.join(w.dir, "exp"));
  store.create({ id: "bench-ray", kind: "command", title: "bench", host: "ray", executor: "ray", state: "succeeded", remote: { ...ref } });
  const { s, v: record } = await timed(() => followJob({ store, executor, id: "bench-ray", intervalMs: 100 }));
  const rss = peak();
  return {
    windows,
    follow: { s, skipped: record.log.skipped, offset: record.log.offset, mirror: fs.statSync(store.logPath("bench-ray")).size },
    rss,
  };
}

async function worker(mode: string, w: Worker): Promise<void> {
  const work = { sftp: workSftp, follow: workFollow, ray: workRay }[mode];
  if (!work) throw new Error(`unknown worker mode ${mode}`);
  process.stdout.write(JSON.stringify({ type: "result", result: await work(w) }) + "\n");
}

// ---- in the bench ----------------------------------------------------------------------------------

interface SftpResult {
  upTotal: number;
  upStream: number;
  downTotal: number;
  downStream: number;
  rss: Peak;
  verified: boolean;
  diag: Diagnosis;
}
interface FollowOnce {
  s: number;
  rss: Peak;
  state: string;
  offset: number;
  skipped: number;
  mirror: number;
}
interface RayResult {
  windows: { offset: number; bytes: number; s: number; size: number }[];
  follow: { s: number; skipped: number; offset: number; mirror: number };
  rss: Peak;
}

export interface RemoteBench {
  scp: { up: number; down: number };
  sftp: SftpResult;
  follow: { all: FollowOnce; skip: FollowOnce };
  ray: RayResult;
  seconds: number;
}

interface Row {
  name: string;
  measured: string;
  target: string;
  pass: boolean | null;
}

async function runWorker<T>(script: string, mode: string, w: Worker): Promise<T> {
  const res = await collect(spawn(process.execPath, [script, "worker", mode, JSON.stringify(w)], { stdio: ["ignore", "pipe", "pipe"] }));
  const out = res.events.find((e) => e.type === "result") as { result: T } | undefined;
  if (res.code !== 0 || !out)
    throw new Error(`remote ${mode} worker exited ${res.code}: ${res.stderr.trim().split("\n").slice(-3).join(" / ")}`);
  return out.result;
}

function scp(sshd: Sshd, from: string, to: string): number {
  const t = performance.now();
  execFileSync("scp", ["-q", "-F", sshd.configFile, from, to], { stdio: ["ignore", "ignore", "pipe"] });
  return (performance.now() - t) / 1000;
}

export async function benchRemote(o: { cache: string; bundle(name: string): Promise<string>; log(s: string): void }): Promise<RemoteBench> {
  if (sshdUnavailable) throw new Error(`the loopback sshd cannot run here: ${sshdUnavailable}`);
  const t0 = performance.now();
  const dir = path.join(o.cache, "remote");
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "random.bin");
  execFileSync("head", ["-c", String(SFTP_BYTES), "/dev/urandom"], { stdio: ["ignore", fs.openSync(file, "w"), "inherit"] });
  const script = await o.bundle("remote");
  const sshd = await startSshd();
  try {
    const w: Worker = {
      sshd: {
        configFile: sshd.configFile,
        knownHostsFile: sshd.knownHostsFile,
        clientKey: sshd.clientKey,
        port: sshd.port,
        user: sshd.user,
      },
      dir,
      file,
    };
    o.log("remote: scp floor, up and down");
    const up = scp(sshd, file, "mj-loop:bench-scp.bin");
    const down = scp(sshd, "mj-loop:bench-scp.bin", path.join(dir, "scp-down.bin"));
    fs.rmSync(path.join(dir, "scp-down.bin"));
    o.log("remote: SFTP through our RemoteShell, then ssh2's fastGet for comparison");
    const sftp = await runWorker<SftpResult>(script, "sftp", w);
    o.log("remote: following a 1 GiB job log over SSH, whole then with the tail skip");
    const follow = await runWorker<RemoteBench["follow"]>(script, "follow", w);
    o.log("remote: Ray log windows of a 256 MiB log");
    const ray = await startRayServer();
    let rayResult: RayResult;
    try {
      rayResult = await runWorker<RayResult>(script, "ray", { dir, rayUrl: ray.url });
    } finally {
      await ray.close();
    }
    return { scp: { up, down }, sftp, follow, ray: rayResult, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await sshd.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const rate = (bytes: number, s: number): string => `${(bytes / MiB / s).toFixed(0)} MiB/s`;
const mibs = (n: number): string => `${n.toFixed(0)} MiB`;

export function remoteRows(b: RemoteBench): Row[] {
  const upRatio = b.sftp.upTotal / b.scp.up;
  const downRatio = b.sftp.downTotal / b.scp.down;
  const { all, skip } = b.follow;
  const bounded = skip.mirror <= REMOTE.mirrorMiB * MiB && skip.offset === FOLLOW_BYTES && skip.skipped > 0;
  const rayShare = b.ray.rss.growthMiB / (RAY_BYTES / MiB);
  const windowsOk = b.ray.windows.every((w) => w.bytes === MiB && w.size === RAY_BYTES);
  return [
    {
      name: "scp (OpenSSH, SFTP protocol) upload / download, 256 MiB",
      measured: `${rate(SFTP_BYTES, b.scp.up)} / ${rate(SFTP_BYTES, b.scp.down)}`,
      target: "",
      pass: null,
    },
    {
      name: "RemoteShell upload: whole (sha256 both ends) / streaming alone",
      measured: `${rate(SFTP_BYTES, b.sftp.upTotal)} / ${rate(SFTP_BYTES, b.sftp.upStream)}`,
      target: "",
      pass: null,
    },
    {
      name: "RemoteShell download: whole (sha256 both ends) / streaming alone",
      measured: `${rate(SFTP_BYTES, b.sftp.downTotal)} / ${rate(SFTP_BYTES, b.sftp.downStream)}`,
      target: "",
      pass: null,
    },
    {
      name: "**upload time / scp's**",
      measured: `${upRatio.toFixed(2)}×`,
      target: `≤ ${REMOTE.sftpRatio}×`,
      pass: upRatio <= REMOTE.sftpRatio,
    },
    {
      name: "**download time / scp's**",
      measured: `${downRatio.toFixed(2)}×`,
      target: `≤ ${REMOTE.sftpRatio}×`,
      pass: downRatio <= REMOTE.sftpRatio,
    },
    {
      name: "both copies verified (same sha256, neither skipped)",
      measured: b.sftp.verified ? "yes" : "no",
      target: "yes",
      pass: b.sftp.verified,
    },
    {
      name: `our download's streaming next to ssh2's own fastGet, 32 KiB reads (cipher, reads in flight, Nagle); best of ${b.sftp.diag.rounds} interleaved rounds`,
      measured: [
        `ours (aes128-gcm ×16, TCP_NODELAY): ${b.sftp.diag.ours.toFixed(0)} MiB/s`,
        ...b.sftp.diag.fastGet.map(
          (d) =>
            `fastGet ${d.cipher.replace("@openssh.com", "")} ×${d.inFlight}${d.noDelay ? ", TCP_NODELAY" : ", Nagle on"}: ${d.mibs.toFixed(0)} MiB/s`,
        ),
      ].join("; "),
      target: "",
      pass: null,
    },
    { name: "peak RSS growth during upload + download", measured: mibs(b.sftp.rss.growthMiB), target: "", pass: null },
    {
      name: "followJob, whole 256 MiB log (no tail skip): copy rate",
      measured: `${rate(all.offset, all.s)} (${all.s.toFixed(1)} s, ${(all.offset / MiB).toFixed(0)} MiB)`,
      target: "",
      pass: null,
    },
    {
      name: "followJob rate / scp download rate",
      measured: `${(all.offset / all.s / (SFTP_BYTES / b.scp.down)).toFixed(2)}`,
      target: "",
      pass: null,
    },
    {
      name: "**followJob peak RSS growth**, whole 256 MiB log copied",
      measured: mibs(all.rss.growthMiB),
      target: `≤ ${REMOTE.followRssMiB} MiB`,
      pass: all.rss.growthMiB <= REMOTE.followRssMiB && all.offset === FOLLOW_ALL_BYTES,
    },
    {
      name: "**mirror with the default tail skip** (skipped; mirror size; offset reached)",
      measured: `${(skip.skipped / MiB).toFixed(1)} MiB skipped; ${(skip.mirror / MiB).toFixed(1)} MiB; ${skip.offset === FOLLOW_BYTES ? "end of log" : `${skip.offset} of ${FOLLOW_BYTES}`} in ${skip.s.toFixed(1)} s`,
      target: `≤ ${REMOTE.mirrorMiB} MiB, log read to its end`,
      pass: bounded,
    },
    { name: "followJob peak RSS growth with the tail skip", measured: mibs(skip.rss.growthMiB), target: "", pass: null },
    {
      name: "Ray log windows of 1 MiB at 0 / middle / tail (each a whole-log download)",
      measured:
        b.ray.windows.map((w) => `${w.s.toFixed(1)} s`).join(" / ") +
        ` (${rate(RAY_BYTES, median(b.ray.windows.map((w) => w.s)))} of log, median)`,
      target: "",
      pass: windowsOk ? null : false,
    },
    {
      name: "Ray followJob with the default tail skip",
      measured: `${(b.ray.follow.skipped / MiB).toFixed(1)} MiB skipped, ${(b.ray.follow.mirror / MiB).toFixed(1)} MiB mirrored in ${b.ray.follow.s.toFixed(1)} s`,
      target: "",
      pass: null,
    },
    {
      name: "**Ray peak RSS growth / log size**",
      measured: `${mibs(b.ray.rss.growthMiB)} / 256 MiB = ${rayShare.toFixed(2)}`,
      target: `≤ ${REMOTE.rayRssShare}`,
      pass: rayShare <= REMOTE.rayRssShare,
    },
  ];
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

export const REMOTE_METHOD = `Against the real OpenSSH server of the tests (\`test/support/sshd.ts\`: sshd on 127.0.0.1, its own
user and ed25519 key, \`internal-sftp\`) and the loopback Ray Jobs server (\`test/support/ray-server.ts\`).
Every client measured is a worker process of its own (\`bench/remote.ts\` bundled, mode \`worker\`); peak RSS
growth is VmHWM after the phase minus VmRSS before it, the mark reset with \`/proc/self/clear_refs\`.

- **SFTP**: 256 MiB of random bytes up and down through \`openSshShell(...).upload/download\` (the whole
  call: sha256 on both ends, .part, rename), next to \`scp -F <the tests' ssh_config>\` with the same key
  and server, measured just before; OpenSSH's scp speaks SFTP too, so the floor moves the same bytes over
  the same protocol with C and AES-NI at both ends. Target: each direction within ${REMOTE.sftpRatio}× scp's time.
  Then ssh2's own \`fastGet\` (no verification) on the same file, interleaved with our download: as ssh2
  comes (Nagle on) at 16 reads in flight (our transfer's setting) and 64, and with TCP_NODELAY under the
  default cipher and chacha20-poly1305, to tell our code, ssh2's SFTP client, the cipher and TCP apart.
- **Following**: a detached job over SSH writes its log lines (\`yes | head -c\`) as fast as it can;
  \`followJob\` (100 ms polls, 1 MiB reads, each one SSH exec, the record saved after each) copies it into
  the job store. First 256 MiB with the tail skip off, for the rate and memory of copying all of it
  (target: peak RSS growth ≤ ${REMOTE.followRssMiB} MiB, whatever the log's size); then 1 GiB with the default (skip when more
  than 64 MiB behind): the mirror must stay ≤ ${REMOTE.mirrorMiB} MiB and the follower still reach the end of the log.
- **Ray**: a job of the loopback Ray server writes a 256 MiB log; Ray's \`GET /api/jobs/{id}/logs\` has no
  ranges, so every read streams the whole log as one JSON string. Three 1 MiB windows (a fresh executor
  each, so no cache), then \`followJob\` with the default tail skip. Target: peak RSS growth ≤
  ${REMOTE.rayRssShare} × the log's size (the reader keeps one 8 MiB window, not the answer).
`;

export function remoteNotes(b: RemoteBench): string[] {
  const notes: string[] = [];
  const find = (cipher: string, inFlight: number, noDelay: boolean): number =>
    b.sftp.diag.fastGet.find((d) => d.cipher.startsWith(cipher) && d.inFlight === inFlight && d.noDelay === noDelay)?.mibs ?? NaN;
  const nagle16 = find("aes", 16, false);
  const nagle64 = find("aes", 64, false);
  const fast16 = find("aes", 16, true);
  const chacha16 = find("chacha", 16, true);
  const cipher =
    chacha16 > 1.3 * fast16
      ? `chacha20-poly1305 beat it in this run (${chacha16.toFixed(0)} against ${fast16.toFixed(0)} MiB/s), worth a repeated comparison before choosing it in connection.ts`
      : `chacha20-poly1305 did no better (${chacha16.toFixed(0)} against ${fast16.toFixed(0)} MiB/s), so the cipher is not the lever`;
  notes.push(
    `Where the time goes. ssh2 leaves Nagle's algorithm on; an SFTP read request is a small packet, held back until the previous one is acknowledged, and the receiver delays its ACKs by up to ~40 ms, so downloads were paced by that timer: ssh2's own fastGet with Nagle on does ${nagle16.toFixed(0)} MiB/s at 16 reads in flight (our transfer's setting) and ${nagle64.toFixed(0)} MiB/s at 64, and ${fast16.toFixed(0)} MiB/s at 16 with TCP_NODELAY. connection.ts now sets TCP_NODELAY on every connection; our download streams at ${b.sftp.diag.ours.toFixed(0)} MiB/s (best round) and the follower's 1 MiB reads over exec gained as much. The cipher ssh2 negotiates, aes128-gcm@openssh.com, runs in Node's OpenSSL (AES-NI; the bundles run ssh2 without its optional native addon, whose relative path does not resolve from dist/), and ${cipher}. What remains between us and scp: the two sha256 passes that the "whole" rows include (the file here and the copy on the host, one after the other, for resume and verification: uploads stream in ${(b.sftp.upStream / b.scp.up).toFixed(2)}× scp's time and finish in ${(b.sftp.upTotal / b.scp.up).toFixed(2)}×, downloads ${(b.sftp.downStream / b.scp.down).toFixed(2)}× and ${(b.sftp.downTotal / b.scp.down).toFixed(2)}×)${
      b.sftp.diag.ours < 0.8 * fast16
        ? `, and our download loop in src/core/remote/ssh/transfer.ts, which streams at ${b.sftp.diag.ours.toFixed(0)} MiB/s where fastGet with the same settings reaches ${fast16.toFixed(0)}: the next place to look`
        : ""
    }.`,
  );
  const all = b.follow.all;
  notes.push(
    `Following copies ${rate(all.offset, all.s)}: each 1 MiB read is an SSH exec (\`wc -c; tail -c +N | head -c\`) plus an atomic rewrite of the job record, ${((all.s / (all.offset / MiB)) * 1000).toFixed(0)} ms per MiB. A training job logs kilobytes per second, and a log that runs far ahead is skipped to its tail (the 1 GiB row), so the rate matters only for catching up; memory does not grow with the log.`,
  );
  return notes;
}

if (require.main === module && process.argv[2] === "worker") {
  worker(process.argv[3] ?? "", JSON.parse(process.argv[4] ?? "{}") as Worker).catch((err: unknown) => {
    process.stderr.write(`remote worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
