// A real one-node Slurm cluster on loopback for tests (scripts/remote/slurm.sh). It is machine-wide
// (fixed ports, /etc/slurm/slurm.conf), so it is shared: each test process holds a lease on it.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const SCRIPT = join(__dirname, "..", "..", "scripts", "remote", "slurm.sh");
const run = promisify(execFile);

export const slurmUnavailable: string | undefined =
  process.platform !== "linux"
    ? "needs Linux"
    : process.getuid?.() !== 0
      ? "scripts/remote/slurm.sh needs root (apt-get, slurmd)"
      : undefined;

// This process's lease: stopping leaves the cluster up while another test process still uses it.
const leaseEnv = { ...process.env, MJ_SLURM_LEASE: String(process.pid) };

export interface Slurm {
  conf: string;
  stop(): Promise<void>;
}

export async function startSlurm(): Promise<Slurm> {
  if (slurmUnavailable) throw new Error(`cannot start Slurm: ${slurmUnavailable}`);
  let stdout: string;
  try {
    ({ stdout } = await run("bash", [SCRIPT, "start"], { env: leaseEnv, timeout: 600_000 }));
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/remote/slurm.sh start failed: ${e.stderr || e.message}`);
  }
  const conf = /SLURM_CONF=(.*)/.exec(stdout)?.[1]?.trim() ?? "";
  return {
    conf,
    async stop() {
      await run("bash", [SCRIPT, "stop"], { env: leaseEnv, timeout: 120_000 });
    },
  };
}
