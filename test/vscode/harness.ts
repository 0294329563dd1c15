// Runs the extension in a real VS Code: code-server (VS Code's server and web workbench) on
// loopback, driven by Debian's chromium through playwright-core. Two kinds of test use it:
//   - mocha suites inside the real Node extension host, loaded through the workbench's `payload`
//     URL parameter, the same mechanism VS Code's own browser integration tests use;
//   - UI tests that click through the workbench, against the extension installed from the .vsix.
// Everything a run writes (profile, extensions, HOME, XDG dirs) lives in one temp folder, and the
// server runs in its own process group so that stopping it also stops the extension host, the
// file watcher and the pty host it forks, and nothing else.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { format } from "node:util";
import { chromium, type BrowserContext, type Frame, type Page } from "playwright-core";
import type { FixtureExperiment } from "./fixture/experiment.js";

export const ROOT = path.resolve(__dirname, "..", "..");
export const E2E_DIR = path.join(ROOT, ".e2e");
export const VSIX = path.join(E2E_DIR, "metajudge.vsix");
export const SUITE_ENTRY = path.join(ROOT, "dist", "test", "vscode", "index.js");
export const UI_DIR = path.join(__dirname, "ui");
export const ARTIFACTS = path.join(ROOT, "test-artifacts", "vscode");
export const CODE_SERVER = path.join(E2E_DIR, "code-server", "node_modules", "code-server", "out", "node", "entry.js");
export const CHROMIUM = process.env.METAJUDGE_CHROMIUM ?? "/usr/bin/chromium";
export const EXTENSION_ID = "metajudge.metajudge";

// A quiet workbench: no welcome page, trust prompt, telemetry, update or experiment traffic.
const USER_SETTINGS = {
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoUpdate": false,
  "extensions.autoCheckUpdates": false,
  "extensions.ignoreRecommendations": true,
  "update.mode": "none",
  // code-server saves edits after a second by default: a test that types into a fixture file must
  // decide itself whether anything is written.
  "files.autoSave": "off",
};

// Without these chromium keeps calling Google hosts that this network does not reach.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  message?: string;
}

/** Polls until `predicate` returns something truthy, and returns it. Exceptions count as "not yet". */
export async function waitFor<T>(predicate: () => T | Promise<T>, opts: WaitOptions = {}): Promise<NonNullable<T>> {
  const end = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await predicate();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      const why = last instanceof Error ? `: ${last.message}` : "";
      throw new Error(`timed out waiting for ${opts.message ?? "a condition"}${why}`);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(" ")}: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

export interface CodeServerOptions {
  /** Installed into the fresh extensions dir before the server starts. */
  vsix?: string;
  /** Added to the server's environment, which the extension host inherits. */
  env?: Record<string, string>;
}

export interface CodeServer {
  url: string;
  /** The remote authority the workbench uses in vscode-remote:// URIs. */
  authority: string;
  dir: string;
  userDataDir: string;
  home: string;
  serverLog: string;
  /** Copies the server's and the extension host's logs into test-artifacts/vscode/<label>/. */
  collectLogs(label: string): string;
  stop(): Promise<void>;
}

export async function startCodeServer(opts: CodeServerOptions = {}): Promise<CodeServer> {
  if (!fs.existsSync(CODE_SERVER)) throw new Error(`${CODE_SERVER} is missing: run scripts/e2e/setup.sh`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mj-vscode-"));
  const userDataDir = path.join(dir, "user-data");
  const extensionsDir = path.join(dir, "extensions");
  const home = path.join(dir, "home");
  const serverLog = path.join(dir, "code-server.log");
  const config = path.join(dir, "config.yaml");
  for (const d of [path.join(userDataDir, "User"), extensionsDir, home]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(userDataDir, "User", "settings.json"), JSON.stringify(USER_SETTINGS, null, 2));
  fs.writeFileSync(config, "auth: none\ncert: false\n");
  // HOME and XDG_*: otherwise code-server and the extension host write under the real ~/.config,
  // ~/.local and ~/.cache, and one run's state leaks into the next.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, ".config"),
    XDG_DATA_HOME: path.join(home, ".local", "share"),
    XDG_CACHE_HOME: path.join(home, ".cache"),
    ...opts.env,
  };
  // Set by node's test runner for its own children; the extension's worker must not inherit it.
  delete env.NODE_TEST_CONTEXT;
  const common = ["--config", config, "--user-data-dir", userDataDir, "--extensions-dir", extensionsDir];
  if (opts.vsix) await run(process.execPath, [CODE_SERVER, ...common, "--install-extension", opts.vsix], env, 120_000);

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const out = fs.openSync(serverLog, "a");
  // detached: the child calls setsid(), so its PID is the id of a process group holding all it forks.
  const child: ChildProcess = spawn(
    process.execPath,
    [
      CODE_SERVER,
      ...common,
      "--bind-addr",
      `127.0.0.1:${port}`,
      "--auth",
      "none",
      "--disable-telemetry",
      "--disable-update-check",
      "--disable-workspace-trust",
      "--disable-getting-started-override",
    ],
    { cwd: dir, env, detached: true, stdio: ["ignore", out, out] },
  );
  fs.closeSync(out);
  const pgid = child.pid!;
  let exited = false;
  child.once("exit", () => (exited = true));
  const killGroup = (signal: NodeJS.Signals | 0) => {
    try {
      process.kill(-pgid, signal);
      return true;
    } catch {
      return false; // ESRCH: the group is empty
    }
  };
  // A test process that ends without calling stop() must not leave a server behind. The server
  // has its own session, so a Ctrl-C at the terminal does not reach it: pass signals on, then let
  // them take their usual course.
  const onExit = () => killGroup("SIGKILL");
  const onSignal = (signal: NodeJS.Signals) => {
    killGroup("SIGKILL");
    process.kill(process.pid, signal);
  };
  process.once("exit", onExit);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const stop = async () => {
    process.removeListener("exit", onExit);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    if (!killGroup("SIGTERM")) return;
    const graceful = Date.now() + 5_000;
    while (Date.now() < graceful && killGroup(0)) await sleep(100);
    killGroup("SIGKILL");
  };

  const deadline = Date.now() + 60_000;
  while (
    !(await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (exited || Date.now() > deadline) {
      await stop();
      const why = exited ? "exited" : `did not answer ${url}/healthz within 60s`;
      throw new Error(`code-server ${why}:\n${fs.readFileSync(serverLog, "utf8")}`);
    }
    await sleep(100);
  }

  // code-server 4.100 calls its authority "remote"; read it from the page rather than guess.
  const html = await (await fetch(`${url}/`)).text();
  const m = /id="vscode-workbench-web-configuration"[^>]*data-settings="([^"]*)"/.exec(html);
  const settings = m ? (JSON.parse(m[1]!.replace(/&quot;/g, '"').replace(/&amp;/g, "&")) as { remoteAuthority?: string }) : {};
  const authority = settings.remoteAuthority ?? `127.0.0.1:${port}`;

  return {
    url,
    authority,
    dir,
    userDataDir,
    home,
    serverLog,
    stop: async () => {
      await stop();
      if (!process.env.METAJUDGE_E2E_KEEP) fs.rmSync(dir, { recursive: true, force: true });
    },
    collectLogs: (label) => {
      const dest = path.join(ARTIFACTS, label);
      fs.rmSync(dest, { recursive: true, force: true });
      fs.mkdirSync(dest, { recursive: true });
      fs.copyFileSync(serverLog, path.join(dest, "code-server.log"));
      const logs = path.join(userDataDir, "logs");
      if (fs.existsSync(logs)) fs.cpSync(logs, path.join(dest, "logs"), { recursive: true });
      return dest;
    },
  };
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors, for failure messages. */
  errors: string[];
  close(): Promise<void>;
}

export async function launchBrowser(server: CodeServer): Promise<Browser> {
  const profile = fs.mkdtempSync(path.join(server.dir, "chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: CHROMIUM_ARGS,
    env: { ...process.env, HOME: server.home },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return {
    context,
    page,
    errors,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The workbench URL for `folder`; `payload` entries become VS Code's `payload` parameter. */
export function workbenchUrl(server: CodeServer, folder: string, payload: [string, string][] = []): string {
  let u = `${server.url}/?folder=${encodeURIComponent(folder)}`;
  if (payload.length) u += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  return u;
}

export async function openWorkbench(page: Page, server: CodeServer, folder: string): Promise<void> {
  await page.goto(workbenchUrl(server, folder));
  await page.locator(".monaco-workbench").waitFor({ timeout: 90_000 });
  await page.locator(".part.activitybar").waitFor({ timeout: 90_000 });
}

/** Runs a command by its palette title, e.g. "Metajudge: Run Iteration", through F1. */
export async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input.input");
  await input.waitFor({ state: "visible" });
  await input.fill(`>${title}`);
  const row = page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first();
  await row.waitFor({ timeout: 15_000 });
  await page.keyboard.press("Enter");
}

/** A webview's content is a frame nested in the workbench's iframe; finds the one showing `selector`. */
export async function findWebviewFrame(page: Page, selector: string, timeoutMs = 30_000): Promise<Frame> {
  return waitFor(
    async () => {
      for (const f of page.frames()) {
        if (
          await f
            .locator(selector)
            .count()
            .catch(() => 0)
        )
          return f;
      }
      return undefined;
    },
    { timeoutMs, intervalMs: 200, message: `a frame containing ${selector}` },
  );
}

/** Saves test-artifacts/vscode/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name.replace(/[^\w.-]+/g, "-")}.png`);
  await page.screenshot({ path: file });
  return file;
}

// ---- mocha inside the extension host ---------------------------------------------------------

export interface ExtensionHostRun {
  code: number;
  /** What the tests printed: mocha's report and the console output of tests and extension. */
  output: string;
  /** Everything the page logged, the workbench's own messages included. */
  log: string;
  timedOut: boolean;
}

export interface ExtensionHostOptions {
  folder: string;
  developmentPath?: string;
  testsPath?: string;
  timeoutMs?: number;
  /** Called with each line the tests print, as it comes. */
  onLine?: (line: string) => void;
}

// Printed by test/vscode/suite/index.ts before mocha starts.
const SUITE_START = /^vscode-exthost: running /;

/**
 * Opens the workbench in extension-test mode: the extension host loads the extension from
 * `developmentPath` (the repo, not the .vsix) and calls `run()` of the module at `testsPath`.
 * When that settles the workbench calls `window.codeAutomationExit(code)`.
 */
export async function runExtensionHostTests(server: CodeServer, opts: ExtensionHostOptions): Promise<ExtensionHostRun> {
  const remote = (p: string) => `vscode-remote://${server.authority}${p}`;
  const browser = await launchBrowser(server);
  const all: string[] = [];
  const suite: string[] = [];
  let queue = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  try {
    const { page } = browser;
    let exit!: (code: number) => void;
    const exited = new Promise<number>((r) => (exit = r));
    await page.exposeFunction("codeAutomationExit", (code: number) => exit(code));
    // The extension host's stdout and console reach the page as console.log("%c INFO", "color: …",
    // fmt, ...args), as the workbench's own log does; formatting them again gives back the text.
    // A queue keeps the lines in order although reading each message's arguments is async.
    page.on("console", (msg) => {
      const values = Promise.all(msg.args().map((a) => a.jsonValue().catch(() => "?")));
      queue = queue.then(async () => {
        const [tag, style, ...rest] = await values;
        // Unstyled messages are the browser's own (iframe sandbox, service worker), never the host's.
        const fromHost = typeof tag === "string" && /^%c\s*(INFO|ERR|WARN)/.test(tag) && typeof style === "string";
        const text = fromHost ? format(...rest) : msg.text();
        for (const line of text.replace(/\n$/, "").split("\n")) {
          all.push(line);
          if (fromHost && (suite.length || SUITE_START.test(line))) {
            suite.push(line);
            opts.onLine?.(line);
          }
        }
      });
    });
    await page.goto(
      workbenchUrl(server, opts.folder, [
        ["extensionDevelopmentPath", remote(opts.developmentPath ?? ROOT)],
        ["extensionTestsPath", remote(opts.testsPath ?? SUITE_ENTRY)],
        ["skipWelcome", "true"],
      ]),
    );
    const timeoutMs = opts.timeoutMs ?? 300_000;
    const timedOut = new Promise<number>((r) => (timer = setTimeout(() => r(-1), timeoutMs)));
    const code = await Promise.race([exited, timedOut]);
    // The last lines of mocha's report may still be on their way through the page.
    await sleep(300);
    await queue;
    const notes = browser.errors.map((e) => `page error: ${e}`);
    if (code === -1) notes.push(`the extension host tests did not finish within ${timeoutMs / 1000}s`);
    // Without the start line the suite never ran, and the workbench's log is the only clue.
    const output = [...(suite.length ? suite : all), ...notes].join("\n");
    return { code, output, log: [...all, ...notes].join("\n"), timedOut: code === -1 };
  } finally {
    clearTimeout(timer);
    await browser.close();
  }
}

// ---- UI tests --------------------------------------------------------------------------------

export interface UiContext {
  page: Page;
  server: CodeServer;
  /** The experiment folder the workbench has open. */
  workspace: string;
  /** Its finished iteration, iterations/1. */
  iteration: string;
  /** The fake chat-completions server's base URL, as written in metajudge.json. */
  fakeOpenAIUrl: string;
  screenshot(name: string): Promise<string>;
  runCommand(title: string): Promise<void>;
  findWebviewFrame(selector: string, timeoutMs?: number): Promise<Frame>;
  waitFor: typeof waitFor;
  log(message: string): void;
}

export type UiTest = (ctx: UiContext) => Promise<void>;

export function uiContext(page: Page, server: CodeServer, fixture: FixtureExperiment): UiContext {
  const t0 = Date.now();
  return {
    page,
    server,
    workspace: fixture.dir,
    iteration: fixture.iteration,
    fakeOpenAIUrl: fixture.fake.url,
    screenshot: (name) => screenshot(page, name),
    runCommand: (title) => runCommand(page, title),
    findWebviewFrame: (selector, timeoutMs) => findWebviewFrame(page, selector, timeoutMs),
    waitFor,
    log: (m) => console.log(`[ui +${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`),
  };
}

/** test/vscode/ui/*.ui.ts in name order, each with its default export. */
export function uiTests(): { name: string; run: UiTest }[] {
  return fs
    .readdirSync(UI_DIR)
    .filter((f) => f.endsWith(".ui.ts"))
    .sort()
    .map((f) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(path.join(UI_DIR, f)) as { default?: unknown };
      if (typeof mod.default !== "function") throw new Error(`${f} must export default async (ctx: UiContext) => void`);
      return { name: f.replace(/\.ui\.ts$/, ""), run: mod.default as UiTest };
    });
}
