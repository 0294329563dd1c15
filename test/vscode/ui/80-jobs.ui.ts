// The Jobs view as a person sees it after launching on a few hosts: jobs grouped by host, each with
// its state and elapsed time, the right inline actions per state. Then, with the loopback OpenSSH
// server, the host-key modal a first connection raises: host and SHA256 fingerprint, "Trust and
// Connect", and the key in known_hosts once clicked.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Locator, Page } from "playwright-core";
import { ROOT, type UiContext } from "../harness.js";
import { DetachedExecutor } from "../../../src/core/remote/jobs/detached.js";
import { JobStore, type NewJobRecord } from "../../../src/core/remote/jobs/record.js";
import { jobDir } from "../../../src/core/remote/jobs/script.js";
import { LocalShell } from "../../../src/core/remote/local-shell.js";
import { sshdUnavailable, startSshd, type Sshd } from "../../support/sshd.js";
import { openMetajudgeView, pick, quickInputTitle, shot, waitForQuickInput, WAIT } from "./support.js";
import { endJobGroup, type StartedJob } from "../../support/job-groups.js";

const TREE = '.sidebar [role="tree"][aria-label="Jobs"]';

interface JobRow {
  level: number;
  label: string;
  description: string;
  actions: string[];
}

async function jobRows(page: Page): Promise<JobRow[]> {
  const rows = await page.locator(`${TREE} .monaco-list-row`).evaluateAll((els) =>
    els.map((el) => ({
      index: Number(el.getAttribute("data-index")),
      level: Number(el.getAttribute("aria-level")),
      label: el.querySelector(".label-name")?.textContent?.trim() ?? "",
      description: el.querySelector(".label-description")?.textContent?.trim() ?? "",
      actions: [...el.querySelectorAll(".actions .action-label")].map((a) => a.getAttribute("aria-label") ?? ""),
    })),
  );
  return rows.sort((a, b) => a.index - b.index).map(({ level, label, description, actions }) => ({ level, label, description, actions }));
}

const ago = (minutes: number): string => new Date(Date.now() - minutes * 60_000).toISOString();

export default async function jobs(ctx: UiContext): Promise<void> {
  const { page } = ctx;
  const configFile = path.join(ctx.workspace, "metajudge.json");
  const configText = fs.readFileSync(configFile, "utf8");
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), "mj-ui-jobs-"));
  const store = new JobStore(ctx.workspace);
  let running: StartedJob | undefined;
  try {
    // A job that really runs on a host of kind local, so the view's poller finds it running.
    const config = JSON.parse(configText) as Record<string, unknown>;
    config.hosts = { "gpu-box": { kind: "local", workdir } };
    fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
    const ex = new DetachedExecutor(new LocalShell(), { kind: "local" });
    const runId = "it2-generate-batch-ui-running";
    const runDir = await jobDir(ex.shell, workdir, runId);
    const base = { executor: "local" as const, host: "gpu-box" };
    store.create({
      ...base,
      id: runId,
      kind: "generate-batch",
      title: "it 2 generation (vllm run-batch)",
      iteration: 2,
      state: "submitting",
      remote: { dir: runDir },
    });
    const ref = await ex.submit({ id: runId, dir: runDir, script: "echo loading model; sleep 600" });
    running = ref;
    store.update(runId, { remote: { ...ref }, state: "running", submitted_at: ago(12), started_at: ago(11) });
    // Finished jobs are never polled: records as a launch leaves them.
    const ended: NewJobRecord[] = [
      {
        ...base,
        id: "it1-train-ui-succeeded",
        kind: "train",
        title: "it 1 DPO training",
        iteration: 1,
        state: "succeeded",
        exit_code: 0,
        submitted_at: ago(95),
        started_at: ago(94),
        finished_at: ago(40),
        remote: { dir: "/srv/mj/jobs/it1-train-ui-succeeded" },
      },
      {
        id: "it2-train-ui-failed",
        kind: "train",
        title: "it 2 DPO training",
        host: "slurm-a100",
        executor: "slurm",
        iteration: 2,
        state: "failed",
        exit_code: 1,
        detail: "CUDA out of memory",
        submitted_at: ago(30),
        started_at: ago(25),
        finished_at: ago(21),
        remote: { dir: "/scratch/mj/jobs/it2-train-ui-failed", slurmId: "48213" },
      },
      {
        id: "it2-train-ui-cancelled",
        kind: "train",
        title: "it 2 DPO training (lr 1e-6)",
        host: "slurm-a100",
        executor: "slurm",
        iteration: 2,
        state: "cancelled",
        submitted_at: ago(20),
        finished_at: ago(18),
        remote: { dir: "/scratch/mj/jobs/it2-train-ui-cancelled", slurmId: "48214" },
      },
    ];
    for (const r of ended) store.create(r);
    store.appendLog("it2-train-ui-failed", "step 10: loss 0.6931\nstep 20: loss 0.6410\ntorch.OutOfMemoryError: CUDA out of memory.\n");

    await ctx.runCommand("View: Close All Editors");
    await openMetajudgeView(ctx);
    await ctx.runCommand("Metajudge: Focus on Jobs View");
    const rows = await ctx.waitFor(
      async () => {
        const r = await jobRows(page);
        const want = [
          "gpu-box",
          "it 2 generation (vllm run-batch)",
          "it 1 DPO training",
          "slurm-a100",
          "it 2 DPO training",
          "it 2 DPO training (lr 1e-6)",
        ];
        return want.every((w) => r.some((x) => x.label === w)) ? r : undefined;
      },
      { message: "the Jobs view listing both hosts and their jobs", timeoutMs: WAIT },
    );
    const row = (label: string): JobRow => rows.find((r) => r.label === label)!;
    expectMatch(row("it 2 generation (vllm run-batch)").description, /^running · 1[01]m \d\ds$/, "the running job's description");
    expectMatch(row("it 1 DPO training").description, /^succeeded · 54m 00s$/, "the succeeded job's description");
    expectMatch(row("it 2 DPO training").description, /^failed · 4m 00s$/, "the failed job's description");
    expectMatch(row("gpu-box").description, /1 active · 2 jobs/, "the host's summary");

    // Inline actions show on hover and focus: cancel for the running one, resubmit for the failed one.
    await actionsOf(page, "it 2 generation (vllm run-batch)", ["Cancel Job", "Open Job Log"]);
    await actionsOf(page, "it 2 DPO training", ["Open Job Log", "Resubmit Job"]);
    // The Iterations pane folded away, so the picture is of the Jobs view.
    await iterationsPane(page, false);
    await page.locator(`${TREE} .monaco-list-row`, { has: page.locator(".label-name", { hasText: /^it 2 DPO training$/ }) }).hover();
    await page.waitForTimeout(1500); // the hover tooltip's own delay: not an assertion
    await shot(ctx, "jobs");

    await hostKeyModal(ctx);
  } finally {
    await iterationsPane(page, true).catch(() => undefined);
    if (running) endJobGroup(running);
    fs.writeFileSync(configFile, configText);
  }
}

/** Folds or unfolds the Iterations pane by its header, as a click does. */
async function iterationsPane(page: Page, expanded: boolean): Promise<void> {
  const header = page.locator(".sidebar .pane-header", { hasText: /^Iterations/i }).first();
  if ((await header.getAttribute("aria-expanded")) !== String(expanded)) await header.click();
}

function expectMatch(value: string, re: RegExp, what: string): void {
  if (!re.test(value)) throw new Error(`${what}: "${value}" does not match ${re}`);
}

async function actionsOf(page: Page, label: string, want: string[]): Promise<void> {
  const row: Locator = page.locator(`${TREE} .monaco-list-row`, {
    has: page.locator(".label-name", { hasText: new RegExp(`^${label.replace(/[()]/g, "\\$&")}$`) }),
  });
  await row.hover();
  const got = await row.locator(".actions .action-label").evaluateAll((els) => els.map((a) => a.getAttribute("aria-label") ?? ""));
  const names = got.map((g) => g.replace(/ \(.*\)$/, "")).sort();
  if (names.join(",") !== [...want].sort().join(","))
    throw new Error(`inline actions of "${label}": ${names.join(", ")}; expected ${want.join(", ")}`);
}

/**
 * The first connection to the loopback sshd from the editor: the modal shows the host key; trusting
 * it writes known_hosts, and the launch then trains over SSH with the stand-in trainer.
 */
async function hostKeyModal(ctx: UiContext): Promise<void> {
  if (sshdUnavailable) {
    ctx.log(`host-key modal not shown: ${sshdUnavailable}`);
    return;
  }
  const { page } = ctx;
  const sshd = await startSshd();
  // The profile names address, user and key itself, and known_hosts is the default one under the
  // server's fresh HOME: nothing in the editor's settings has to change.
  const knownHosts = path.join(ctx.server.home, ".ssh", "known_hosts");
  const store = new JobStore(ctx.workspace);
  const before = new Set(store.list().map((j) => j.id));
  try {
    const fp = /SHA256:[A-Za-z0-9+/]+/.exec(execFileSync("ssh-keygen", ["-lf", sshd.hostKeyPub], { encoding: "utf8" }))?.[0];
    if (!fp) throw new Error("ssh-keygen printed no fingerprint");
    if (fs.existsSync(knownHosts) && fs.readFileSync(knownHosts, "utf8").includes(`:${sshd.port} `))
      throw new Error(`${knownHosts} knows the key already`);
    const configFile = path.join(ctx.workspace, "metajudge.json");
    const config = JSON.parse(fs.readFileSync(configFile, "utf8")) as Record<string, unknown>;
    const bin = path.join(ROOT, "test", "support", "remote-bin");
    config.hosts = {
      ...(config.hosts as object),
      loopback: {
        kind: "ssh",
        ssh: { host: sshd.host, port: sshd.port, user: sshd.user, identity_file: sshd.clientKey },
        workdir: "~/mj-ui-jobs",
        setup: `export PATH='${bin}':"$PATH"\nexport MJ_TRL_STEP_MS=20`,
      },
    };
    config.remote = { training: { model: "stand-in/base-model" } };
    fs.writeFileSync(configFile, JSON.stringify(config, null, 2));

    await ctx.runCommand("Metajudge: Launch DPO Training on Host");
    // Iteration 2 has DPO data too once the live-run test has run: then the iteration is asked first.
    const first = await ctx.waitFor(async () => /Train on which (iteration|host)/.exec((await quickInputTitle(page)) ?? "")?.[1], {
      message: "the launch's first question",
      timeoutMs: WAIT,
    });
    if (first === "iteration") await pick(ctx, /Train on which iteration/, "Iteration 1");
    await pick(ctx, /Train on which host/, "loopback");
    const dialog = page.locator(".monaco-dialog-box");
    await dialog.waitFor({ state: "visible", timeout: WAIT });
    const text = (await dialog.innerText()).replace(/\s+/g, " ");
    if (!text.includes(fp) || !text.includes(`[127.0.0.1]:${sshd.port}`))
      throw new Error(`the modal shows neither host nor fingerprint ${fp}: ${text}`);
    await shot(ctx, "jobs-host-key");
    await dialog.locator(".monaco-button", { hasText: "Trust and Connect" }).click();
    await ctx.waitFor(
      () => fs.existsSync(knownHosts) && fs.readFileSync(knownHosts, "utf8").includes(`[127.0.0.1]:${sshd.port} ssh-ed25519 `),
      {
        message: "the trusted key in known_hosts",
        timeoutMs: WAIT,
      },
    );
    // The worker then trains over SSH; the job ends in the view like any other.
    const job = await ctx.waitFor(
      () => {
        const j = store.list().find((r) => !before.has(r.id) && r.host === "loopback");
        return j && ["succeeded", "failed", "cancelled", "timeout", "lost"].includes(j.state) ? j : undefined;
      },
      { message: "the training job on loopback to end", timeoutMs: 120_000 },
    );
    if (job.state !== "succeeded")
      throw new Error(`the training job on loopback ended ${job.state}: ${job.detail ?? ""} ${job.error ?? ""}`);
    await ctx.waitFor(async () => (await jobRows(page)).some((r) => r.description.startsWith("succeeded") && r.label === job.title), {
      message: "the loopback job succeeded in the view",
      timeoutMs: WAIT,
    });
    await shot(ctx, "jobs-after-ssh-training");

    await passphraseLaunch(ctx, sshd, bin, before);
  } finally {
    await sshd.stop();
  }
}

/**
 * An encrypted key: its passphrase is asked in a password box, reaches the worker through its
 * environment, and is kept in the secret store, never in a file the extension writes or its log.
 */
async function passphraseLaunch(ctx: UiContext, sshd: Sshd, bin: string, before: Set<string>): Promise<void> {
  const { page } = ctx;
  const store = new JobStore(ctx.workspace);
  const configFile = path.join(ctx.workspace, "metajudge.json");
  const config = JSON.parse(fs.readFileSync(configFile, "utf8")) as { hosts: Record<string, unknown> };
  config.hosts["loopback-enc"] = {
    kind: "ssh",
    ssh: { host: sshd.host, port: sshd.port, user: sshd.user, identity_file: sshd.encryptedKey },
    workdir: "~/mj-ui-jobs",
    setup: `export PATH='${bin}':"$PATH"\nexport MJ_TRL_STEP_MS=20`,
  };
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));

  await ctx.runCommand("Metajudge: Launch DPO Training on Host");
  const first = await ctx.waitFor(async () => /Train on which (iteration|host)/.exec((await quickInputTitle(page)) ?? "")?.[1], {
    message: "the launch's first question",
    timeoutMs: WAIT,
  });
  if (first === "iteration") await pick(ctx, /Train on which iteration/, "Iteration 1");
  await pick(ctx, /Train on which host/, "loopback-enc");
  const box = await waitForQuickInput(ctx, "SSH key passphrase");
  if ((await box.locator("input.input").getAttribute("type")) !== "password")
    throw new Error("the passphrase box does not hide what is typed");
  await box.locator("input.input").fill(sshd.passphrase);
  await shot(ctx, "jobs-passphrase");
  await page.keyboard.press("Enter");
  const job = await ctx.waitFor(
    () => {
      const j = store.list().find((r) => !before.has(r.id) && r.host === "loopback-enc");
      return j && ["succeeded", "failed", "cancelled", "timeout", "lost"].includes(j.state) ? j : undefined;
    },
    { message: "the training job on loopback-enc to end", timeoutMs: 120_000 },
  );
  if (job.state !== "succeeded")
    throw new Error(`the training job on loopback-enc ended ${job.state}: ${job.detail ?? ""} ${job.error ?? ""}`);
  for (const root of [path.join(ctx.workspace, "jobs"), path.join(ctx.server.userDataDir, "logs")]) {
    const leak = filesUnder(root).find((f) => fs.readFileSync(f).includes(sshd.passphrase));
    if (leak) throw new Error(`the passphrase was written to ${leak}`);
  }
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : e.isFile() ? [path.join(dir, e.name)] : []));
}
