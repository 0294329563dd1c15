// The remote commands: host profiles, launches on a host, and the jobs they leave behind. The work
// is in src/core/remote; this file turns arguments into calls and events into lines. With --json,
// stdout carries one event a line (the editor's worker protocol); notes for a person go to stderr.
import * as fs from "node:fs";
import { loadConfig } from "../core/config.js";
import { isCancelled, MetajudgeError } from "../core/errors.js";
import { openExecutor, resolveHost } from "../core/remote/hosts.js";
import { JobStore, type JobRecord } from "../core/remote/jobs/record.js";
import { resolveSshTarget } from "../core/remote/ssh/config.js";
import { fingerprint, hostMatches, knownHostName, parseKnownHosts } from "../core/remote/ssh/known-hosts.js";
import {
  attachJob,
  cancelJob,
  launchGeneration,
  launchTraining,
  resubmitJob,
  type LaunchContext,
  type RemoteEvent,
} from "../core/remote/launch/index.js";
import { HostProfileSchema, type GenerationMode, type HostProfile } from "../core/schema.js";
import type { WireResult } from "../shared/cli-wire.js";
import { cliHostDeps, describeKey, type CliHostDeps } from "./host-prompt.js";
import { duration, elapsedMs, hostTarget, jobDetail, table } from "./job-format.js";

export interface RemoteOptions {
  json: boolean;
  trustNewHostKey: boolean;
}

const note = (message: string): void => void process.stderr.write(`${message}\n`);
const emit = (json: boolean, value: WireResult, human: string): void =>
  void (json ? process.stdout.write(JSON.stringify(value) + "\n") : human && process.stdout.write(human));

/** Host profiles from the editor's setting reach a worker through METAJUDGE_HOSTS (no secrets in them). */
export function settingsHosts(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> | undefined {
  const raw = env.METAJUDGE_HOSTS;
  if (!raw) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw new MetajudgeError("badInput", `METAJUDGE_HOSTS is not JSON (${(err as Error).message}); it holds host profiles by name`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new MetajudgeError("badInput", "METAJUDGE_HOSTS must be a JSON object of host profiles by name");
  return v as Record<string, unknown>;
}

interface HostRow {
  name: string;
  source: "experiment" | "settings";
  profile?: HostProfile;
  problem?: string;
}

function hostRows(dir: string): HostRow[] {
  const config = loadConfig(dir);
  const rows = new Map<string, HostRow>();
  for (const [name, raw] of Object.entries(settingsHosts() ?? {})) {
    const p = HostProfileSchema.safeParse(raw);
    const issue = p.success ? undefined : p.error.issues[0];
    rows.set(
      name,
      p.success
        ? { name, source: "settings", profile: p.data }
        : { name, source: "settings", problem: `${issue?.path.join(".") || "profile"}: ${issue?.message ?? "invalid"}` },
    );
  }
  for (const [name, profile] of Object.entries(config.hosts ?? {})) rows.set(name, { name, source: "experiment", profile });
  return [...rows.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function cmdHosts(dir: string, o: RemoteOptions): number {
  const rows = hostRows(dir);
  if (o.json) {
    emit(
      true,
      {
        type: "hosts",
        experiment: dir,
        hosts: rows.map((r) => ({
          name: r.name,
          source: r.source,
          kind: r.profile?.kind ?? null,
          target: r.profile ? hostTarget(r.profile) : null,
          problem: r.problem ?? null,
        })),
      },
      "",
    );
    return 0;
  }
  if (rows.length === 0) {
    process.stdout.write(
      `no host profiles: add "hosts" to ${dir}/metajudge.json, e.g. {"gpu": {"kind": "ssh", "ssh": {"host": "gpu-box"}}}\n`,
    );
    return 0;
  }
  process.stdout.write(
    table([
      ["NAME", "KIND", "TARGET", "FROM"],
      ...rows.map((r) => [r.name, r.profile?.kind ?? "?", r.profile ? hostTarget(r.profile) : `invalid: ${r.problem}`, r.source]),
    ]),
  );
  return 0;
}

function profileOf(dir: string, name: string): HostProfile {
  return resolveHost(name, loadConfig(dir).hosts, settingsHosts());
}

/** Connects to the host, runs `uname -a` there, and shows the host key it presented. */
export async function cmdHostsCheck(dir: string, name: string, o: RemoteOptions): Promise<number> {
  const profile = profileOf(dir, name);
  const deps = cliHostDeps({ trustNewHostKey: o.trustNewHostKey, note });
  const executor = await withHostKeyHint(deps, () => openExecutor(profile, deps));
  try {
    const shell = executor.shell;
    let uname = "";
    if (shell) {
      const r = await shell.exec("uname -a", { timeoutMs: 60_000 });
      if (r.code !== 0)
        throw new MetajudgeError(
          "refused",
          `${shell.label}: \`uname -a\` exited ${r.code ?? r.signal}: ${r.stderr.trim().split("\n")[0] ?? ""}`,
        );
      uname = r.stdout.trim();
    }
    const keys = deps.seenKeys().map((k) => ({ host: k.host, keyType: k.keyType, fingerprint: k.fingerprint, status: k.status }));
    const known = knownKeyNote(profile, deps);
    emit(
      o.json,
      {
        type: "host-check",
        host: name,
        kind: profile.kind,
        label: shell?.label ?? hostTarget(profile),
        uname,
        hostKeys: keys,
        knownHostsFile: deps.knownHostsFile,
      },
      `${name} (${profile.kind}, ${shell?.label ?? hostTarget(profile)}): ok\n${uname ? `  ${uname}\n` : ""}${keys.map((k) => `  host key ${k.host} ${k.keyType} ${k.fingerprint}${k.status === "unknown" ? " (new, trusted)" : ""}\n`).join("")}${keys.length === 0 && known ? `  ${known}\n` : ""}`,
    );
    return 0;
  } finally {
    executor.close();
  }
}

/** The key known_hosts already holds for the profile's SSH host (nothing was asked, so nothing was seen). */
function knownKeyNote(profile: HostProfile, deps: CliHostDeps): string {
  const target = profile.kind === "ray" ? profile.tunnel : profile.kind === "local" ? undefined : profile.ssh;
  if (!target || !fs.existsSync(deps.knownHostsFile)) return "";
  const r = resolveSshTarget(target, deps.sshConfigFile);
  const name = knownHostName(r.hostName, r.port);
  const entries = parseKnownHosts(fs.readFileSync(deps.knownHostsFile, "utf8")).filter((e) => !e.marker && hostMatches(e.patterns, name));
  return entries.map((e) => `host key ${name} ${e.keyType} ${fingerprint(e.key)} (known: ${deps.knownHostsFile}:${e.line})`).join("\n  ");
}

/** A host key nobody could confirm: say which key, and how to trust it next time. */
async function withHostKeyHint<T>(deps: CliHostDeps, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    const key = deps.refusedKey();
    if (err instanceof MetajudgeError && err.reason === "hostKey" && key) {
      throw new MetajudgeError(
        "hostKey",
        `unknown host key ${describeKey(key)}: nobody to ask (stdin is not a terminal); check the fingerprint with the host's administrator, then run again with --trust-new-host-key (or add the key to ${key.knownHostsFile})`,
        undefined,
        { cause: err },
      );
    }
    throw err;
  }
}

// ---- launches and jobs: long calls that stream events and stop cleanly on Ctrl-C ------------------

function eventPrinter(json: boolean): (e: RemoteEvent) => void {
  if (json) return (e) => void process.stdout.write(JSON.stringify(e) + "\n");
  // Job events also come for changes a person does not read (offsets, metrics): one line per new state.
  const shown = new Map<string, string>();
  return (e) => {
    switch (e.type) {
      case "job": {
        const line = `job ${e.job.id} on ${e.job.host}: ${e.job.state}${jobDetail(e.job) ? ` (${jobDetail(e.job)})` : ""}`;
        if (shown.get(e.job.id) !== line) note(line);
        shown.set(e.job.id, line);
        break;
      }
      case "log":
        process.stdout.write(e.text);
        break;
      case "transfer":
        if (e.done === e.total)
          note(`${e.direction === "up" ? "uploaded" : "downloaded"} ${e.file} (${e.total.toLocaleString("en-US")} bytes)`);
        break;
      case "metrics":
        note(
          `step ${e.step}: ${Object.entries(e.metrics)
            .map(([k, v]) => `${k}=${Number(v.toPrecision(4))}`)
            .join(" ")}`,
        );
        break;
      case "note":
        note(e.message);
        break;
    }
  };
}

async function withContext<T>(dir: string, o: RemoteOptions, f: (ctx: LaunchContext) => Promise<T>): Promise<T> {
  const deps = cliHostDeps({ trustNewHostKey: o.trustNewHostKey, note });
  const ctl = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    note("\nstopping… (Ctrl-C again to quit at once)");
    ctl.abort(new MetajudgeError("cancelled", "cancelled"));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await withHostKeyHint(deps, () =>
      f({ experimentDir: dir, deps, settingsHosts: settingsHosts(), signal: ctl.signal, onEvent: eventPrinter(o.json) }),
    );
  } catch (err) {
    // A job left running on its host is not lost by stopping here: say how to find it again.
    if (isCancelled(err))
      throw new MetajudgeError(
        "cancelled",
        `stopped following; \`metajudge jobs ${dir}\` lists the jobs, \`metajudge jobs attach\` follows one again`,
        undefined,
        { cause: err },
      );
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

export async function cmdLaunchGenerate(
  dir: string,
  iteration: number,
  host: string | undefined,
  mode: GenerationMode | undefined,
  o: RemoteOptions,
): Promise<number> {
  const r = await withContext(dir, o, (ctx) => launchGeneration(ctx, { iteration, host, mode }));
  emit(
    o.json,
    { type: "launched", what: "generation", iteration, jobs: r.jobs },
    `iteration ${iteration}: generation done (${r.jobs.map((j) => `${j.id} ${j.state}`).join(", ")})\n`,
  );
  return 0;
}

export async function cmdLaunchTrain(dir: string, iteration: number, host: string | undefined, o: RemoteOptions): Promise<number> {
  const r = await withContext(dir, o, (ctx) => launchTraining(ctx, { iteration, host }));
  emit(
    o.json,
    { type: "launched", what: "training", iteration, job: r.job, checkpoint: r.checkpoint ?? null },
    `iteration ${iteration}: training ${r.job.id} ${r.job.state}${r.checkpoint ? `; checkpoint ${r.checkpoint}` : ""}\n`,
  );
  return 0;
}

export function cmdJobs(dir: string, o: RemoteOptions): number {
  const { records, problems } = new JobStore(dir).scan();
  for (const p of problems) note(`skipped ${p.message}`);
  if (o.json) {
    emit(true, { type: "jobs", experiment: dir, jobs: records, problems }, "");
    return 0;
  }
  if (records.length === 0) {
    process.stdout.write(`no jobs in ${dir}: \`metajudge launch generate ${dir} --iteration 1 --host <name>\` starts one\n`);
    return 0;
  }
  const now = Date.now();
  process.stdout.write(
    table([
      ["ID", "KIND", "HOST", "STATE", "ELAPSED", "DETAIL"],
      ...records.map((j) => [j.id, j.kind, j.host, j.state, duration(elapsedMs(j, now)), jobDetail(j)]),
    ]),
  );
  return 0;
}

function jobOf(dir: string, id: string): JobRecord {
  const job = new JobStore(dir).get(id);
  if (!job) throw new MetajudgeError("badInput", `no job ${id} in ${dir}/jobs; \`metajudge jobs ${dir}\` lists them`);
  return job;
}

export async function cmdJobVerb(
  verb: "attach" | "cancel" | "resubmit" | "log",
  dir: string,
  id: string,
  o: RemoteOptions,
): Promise<number> {
  const job = jobOf(dir, id);
  switch (verb) {
    case "log": {
      const file = new JobStore(dir).logPath(id);
      if (fs.existsSync(file))
        await new Promise<void>((resolve, reject) =>
          fs.createReadStream(file).on("error", reject).on("end", resolve).pipe(process.stdout, { end: false }),
        );
      else note(`no log copied yet for ${id} (${job.state}); \`metajudge jobs attach ${dir} ${id}\` follows it`);
      return 0;
    }
    case "attach": {
      const done = await withContext(dir, o, (ctx) => attachJob(ctx, id));
      emit(o.json, { type: "attached", job: done }, `job ${done.id}: ${done.state}${jobDetail(done) ? ` (${jobDetail(done)})` : ""}\n`);
      return done.state === "succeeded" ? 0 : 1;
    }
    case "cancel": {
      const done = await withContext(dir, o, (ctx) => cancelJob(ctx, id));
      emit(o.json, { type: "cancelled", job: done }, `job ${done.id}: ${done.state}\n`);
      return 0;
    }
    case "resubmit": {
      const next = await withContext(dir, o, (ctx) => resubmitJob(ctx, id));
      emit(
        o.json,
        { type: "resubmitted", from: id, job: next },
        `job ${id} resubmitted as ${next.id} (${next.state}); \`metajudge jobs attach ${dir} ${next.id}\` follows it\n`,
      );
      return 0;
    }
  }
}
