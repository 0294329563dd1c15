// Follows a file a worker appends to (its --json lines and stderr), from an offset, line by line.
// Polling, not fs.watch: it works the same on every file system, and a run writes a line a second or so.
import * as fs from "node:fs";
import { StringDecoder } from "node:string_decoder";

export interface Tail {
  /** Reads what is there now, up to the last complete line. */
  flush(): void;
  stop(): void;
}

export function tailLines(file: string, onLine: (line: string) => void, opts: { from?: number; everyMs?: number } = {}): Tail {
  let offset = opts.from ?? 0;
  let partial = "";
  // A read may end inside a character; the decoder keeps its first bytes for the next.
  const decoder = new StringDecoder("utf8");
  const flush = (): void => {
    let fd: number;
    try {
      fd = fs.openSync(file, "r");
    } catch {
      return; // not there yet, or removed: nothing to read
    }
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, offset);
        if (n <= 0) break;
        offset += n;
        partial += decoder.write(buf.subarray(0, n));
      }
    } finally {
      fs.closeSync(fd);
    }
    let nl: number;
    while ((nl = partial.indexOf("\n")) !== -1) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (line.trim()) onLine(line);
    }
  };
  const timer = setInterval(flush, opts.everyMs ?? 250);
  return {
    flush,
    stop: () => clearInterval(timer),
  };
}
