// Preloaded (`node -r`) into a process under measurement, so the bundle users run is measured as it
// is: at exit it writes the process's peak resident set and CPU time, which only the process itself
// can read.
"use strict";
const fs = require("node:fs");

const out = process.env.BENCH_USAGE_FILE;
if (out) {
  process.on("exit", () => {
    const u = process.resourceUsage();
    fs.writeFileSync(out, JSON.stringify({ maxRssKiB: u.maxRSS, userMs: u.userCPUTime / 1000, systemMs: u.systemCPUTime / 1000 }) + "\n");
  });
}
