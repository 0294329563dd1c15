// Ending what a test's detached jobs left running. A job's process group is ended only while its
// leader is still that job: PIDs wrap around (32768 here), so a recorded pid may by now belong to
// someone else's process, and that one must never be signalled.
import { readFileSync } from "node:fs";

export interface StartedJob {
  pid?: number | undefined;
  dir: string;
}

function stillThatJob(job: StartedJob): boolean {
  if (!job.pid) return false;
  try {
    const stat = readFileSync(`/proc/${job.pid}/stat`, "utf8");
    // Fields after the parenthesised command: state, ppid, pgrp.
    const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
    const cmdline = readFileSync(`/proc/${job.pid}/cmdline`, "utf8");
    return pgrp === job.pid && cmdline.includes(job.dir);
  } catch {
    return false; // ended
  }
}

/** SIGKILLs the job's process group if its leader is still the job started in job.dir. */
export function endJobGroup(job: StartedJob): void {
  if (!stillThatJob(job)) return;
  try {
    process.kill(-job.pid!, "SIGKILL");
  } catch {
    // ended in between
  }
}
