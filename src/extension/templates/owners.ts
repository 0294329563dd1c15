// Which experiment a template belongs to and which role it plays. The config that names a file
// decides; a file nobody names falls back to its name (actor.md, judge.md, meta_judge.md), which is
// what `metajudge init` writes. Configs are read from disk and cached until a metajudge.json changes.
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { CONFIG_FILE, checkConfigText, resolveIn } from "../../core/config.js";
import { ROLES, type Config, type Role } from "../../core/schema.js";

export interface TemplateOwner {
  role?: Role;
  /** How the role was found: "config" when a metajudge.json names the file. */
  how: "config" | "file-name" | "unknown";
  /** The experiment that names the file, else the nearest one above it. */
  experimentDir?: string;
  config?: Config;
  /** Why the experiment's metajudge.json could not be used, when it could not. */
  configProblem?: string;
}

interface LoadedConfig {
  config?: Config;
  problem?: string;
}

const ROLE_BY_FILE_NAME: Record<string, Role> = { "actor.md": "actor", "judge.md": "judge", "meta_judge.md": "meta_judge" };

// Paths compare as the file system does: case-blind where it is.
const samePathKey = (p: string): string =>
  process.platform === "win32" || process.platform === "darwin" ? path.resolve(p).toLowerCase() : path.resolve(p);

export class TemplateOwners implements vscode.Disposable {
  private readonly configs = new Map<string, Promise<LoadedConfig>>();
  private named: Promise<Map<string, { dir: string; role: Role }>> | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.changed];

  /** Fires when a metajudge.json is created, changed or deleted: roles may have moved. */
  readonly onDidChange = this.changed.event;

  constructor() {
    const watcher = vscode.workspace.createFileSystemWatcher(`**/${CONFIG_FILE}`);
    const onConfig = (uri: vscode.Uri): void => {
      this.configs.delete(samePathKey(path.dirname(uri.fsPath)));
      this.named = undefined;
      this.changed.fire();
    };
    this.disposables.push(watcher, watcher.onDidCreate(onConfig), watcher.onDidChange(onConfig), watcher.onDidDelete(onConfig));
  }

  async ownerOf(uri: vscode.Uri): Promise<TemplateOwner> {
    if (uri.scheme !== "file") return { how: "unknown" };
    const file = uri.fsPath;
    const nearest = this.nearestExperiment(path.dirname(file));
    if (nearest !== undefined) {
      const loaded = await this.configAt(nearest);
      const role = loaded.config && roleIn(loaded.config, nearest, file);
      if (role && loaded.config) return { role, how: "config", experimentDir: nearest, config: loaded.config };
    }
    // Templates may live anywhere ("../shared/judge-v2.md"): any experiment of the workspace may name it.
    const elsewhere = (await this.namedTemplates()).get(samePathKey(file));
    if (elsewhere !== undefined) {
      const loaded = await this.configAt(elsewhere.dir);
      if (loaded.config) return { role: elsewhere.role, how: "config", experimentDir: elsewhere.dir, config: loaded.config };
    }
    const byName = ROLE_BY_FILE_NAME[path.basename(file)];
    const owner: TemplateOwner = byName ? { role: byName, how: "file-name" } : { how: "unknown" };
    if (nearest === undefined) return owner;
    const loaded = await this.configAt(nearest);
    return {
      ...owner,
      experimentDir: nearest,
      ...(loaded.config ? { config: loaded.config } : {}),
      ...(loaded.problem ? { configProblem: loaded.problem } : {}),
    };
  }

  /** Whether some metajudge.json of the workspace names this file as one of its templates. */
  async isNamedTemplate(uri: vscode.Uri): Promise<boolean> {
    return uri.scheme === "file" && (await this.namedTemplates()).has(samePathKey(uri.fsPath));
  }

  private nearestExperiment(from: string): string | undefined {
    for (let dir = from; ; dir = path.dirname(dir)) {
      if (fs.existsSync(path.join(dir, CONFIG_FILE))) return dir;
      if (path.dirname(dir) === dir) return undefined;
    }
  }

  private configAt(dir: string): Promise<LoadedConfig> {
    const key = samePathKey(dir);
    let loaded = this.configs.get(key);
    if (!loaded) {
      loaded = readConfig(dir);
      this.configs.set(key, loaded);
    }
    return loaded;
  }

  private namedTemplates(): Promise<Map<string, { dir: string; role: Role }>> {
    this.named ??= (async () => {
      const out = new Map<string, { dir: string; role: Role }>();
      const uris = await vscode.workspace.findFiles(`**/${CONFIG_FILE}`, "**/{node_modules,.git}/**", 500);
      for (const uri of uris) {
        const dir = path.dirname(uri.fsPath);
        const { config } = await this.configAt(dir);
        if (!config) continue;
        for (const role of ROLES) out.set(samePathKey(resolveIn(dir, config.templates[role])), { dir, role });
      }
      return out;
    })();
    return this.named;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

function roleIn(config: Config, dir: string, file: string): Role | undefined {
  const key = samePathKey(file);
  return ROLES.find((r) => samePathKey(resolveIn(dir, config.templates[r])) === key);
}

async function readConfig(dir: string): Promise<LoadedConfig> {
  const file = path.join(dir, CONFIG_FILE);
  try {
    const { config, problems } = checkConfigText(await fs.promises.readFile(file, "utf8"), file);
    const first = problems[0];
    if (config) return { config };
    return { problem: first ? `${file}:${first.line}:${first.column}: ${first.message}` : `${file}: not a valid experiment config` };
  } catch (err) {
    return { problem: `${file}: ${err instanceof Error ? err.message : String(err)}` };
  }
}
