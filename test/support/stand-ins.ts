// Puts the vllm / trl / accelerate stand-ins on a test host, through the same RemoteShell the
// product stages its files with, so a test host needs nothing but node.
import * as path from "node:path";
import { quote, remotePath } from "../../src/core/remote/shell.js";
import type { RemoteShell } from "../../src/core/remote/types.js";

const BIN = path.join(__dirname, "remote-bin");
const FILES = ["common.mjs", "vllm.mjs", "trl.mjs", "vllm", "trl", "accelerate"];

/** Uploads the stand-ins to ~/mj-bin (or `dir`) and returns that folder, absolute, for PATH. */
export async function installStandIns(shell: RemoteShell, dir = "~/mj-bin"): Promise<string> {
  const target = remotePath(dir, await shell.home());
  const mk = await shell.exec(`mkdir -p ${quote(target)}`);
  if (mk.code !== 0) throw new Error(`mkdir ${target} on ${shell.label}: ${mk.stderr}`);
  for (const f of FILES) await shell.upload(path.join(BIN, f), `${target}/${f}`);
  const chmod = await shell.exec(`chmod 755 ${["vllm", "trl", "accelerate"].map((f) => quote(`${target}/${f}`)).join(" ")}`);
  if (chmod.code !== 0) throw new Error(`chmod in ${target} on ${shell.label}: ${chmod.stderr}`);
  return target;
}

/** The host profile line that puts them first on PATH. */
export function standInSetup(dir: string): string {
  return `export PATH=${quote(dir)}:"$PATH"`;
}
