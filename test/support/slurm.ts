// A real one-node Slurm cluster on loopback for tests (scripts/remote/slurm.sh). It is machine-wide
// (fixed ports, /etc/slurm/slurm.conf), so one test file at a time starts and stops it.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const SCRIPT = join(__dirname, "..", "..", "scripts", "remote", "slurm.sh");
const run = promisify(execFile);

export const slurmUnavailable: string | undefined =
  process.platform !== "linux" ? "needs Linux" : process.getuid?.() !== 0 ? "scripts/remote/slurm.sh needs root (apt-get, slurmd)" : undefined;

export interface Slurm {
  conf: string;
  stop(): Promise<void>;
}

export async function startSlurm(): Promise<Slurm> {
  if (slurmUnavailable) throw new Error(`cannot start Slurm: ${slurmUnavailable}`);
  let stdout: string;
  try {
    ({ stdout } = await run("bash", [SCRIPT, "start"], { timeout: 600_000 }));
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/remote/slurm.sh start failed: ${e.stderr || e.message}`);
  }
  const conf = /SLURM_CONF=(.*)/.exec(stdout)?.[1]?.trim() ?? "";
  return {
    conf,
    async stop() {
      await run("bash", [SCRIPT, "stop"], { timeout: 120_000 });
    },
  };
}
