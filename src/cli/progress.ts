// How progress looks: JSON lines for programs, a live bar on a terminal, plain lines otherwise.
import type { ProgressEvent } from "../core/pipeline/events.js";
import { printable } from "../core/printable.js";
import { writeControl } from "./output.js";

export type Printer = (e: ProgressEvent) => void;

export function jsonPrinter(out: NodeJS.WritableStream): Printer {
  return (e) => out.write(JSON.stringify(e) + "\n");
}

const fmt = (n: number): string => n.toLocaleString("en-US");

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

export function humanPrinter(err: NodeJS.WriteStream): Printer {
  const tty = err.isTTY === true;
  let barShown = false;
  let startDone = 0;
  const clearBar = (): void => {
    if (tty && barShown) writeControl(err, "\r\x1b[2K");
    barShown = false;
  };
  return (e) => {
    switch (e.type) {
      case "run-start":
        err.write(printable(`iteration ${e.iteration} of ${e.experiment}: ${e.stages.join(" → ")}\n`));
        break;
      case "stage-start":
        startDone = e.done;
        clearBar();
        err.write(`${e.stage}: ${fmt(e.done)}/${fmt(e.total)} on disk${e.done > 0 && e.done < e.total ? ", resuming" : ""}\n`);
        break;
      case "progress": {
        if (!tty) break;
        const width = 28;
        const frac = e.total > 0 ? e.done / e.total : 1;
        const filled = Math.round(frac * width);
        const rate = e.elapsedMs > 0 ? ((e.done - startDone) * 1000) / e.elapsedMs : 0;
        const eta = rate > 0 ? duration(((e.total - e.done) / rate) * 1000) : "?";
        const line = `${e.stage.padEnd(9)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${fmt(e.done)}/${fmt(e.total)} ${(frac * 100).toFixed(1)}%  ${rate.toFixed(1)}/s  in flight ${e.inFlight}  ${fmt(e.completionTokens)} tok  ETA ${eta}`;
        writeControl(err, `\r\x1b[2K${printable(line.slice(0, (err.columns || 120) - 1))}`);
        barShown = true;
        break;
      }
      case "stage-end": {
        clearBar();
        const counts = Object.entries(e.counts)
          .filter(([, v]) => v !== 0)
          .map(([k, v]) => `${k} ${fmt(v)}`)
          .join(", ");
        err.write(`${e.stage}: ${e.state} in ${duration(e.seconds * 1000)}${counts ? ` (${counts})` : ""}\n`);
        break;
      }
      case "retry":
        break;
      case "warning":
        clearBar();
        err.write(`warning: ${printable(e.message)}\n`);
        break;
      case "run-end":
        clearBar();
        err.write(`iteration ${e.iteration} done in ${duration(e.seconds * 1000)}\n`);
        break;
      case "error":
        clearBar();
        break;
    }
  };
}
