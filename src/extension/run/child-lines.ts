// A worker speaks one JSON object a line on stdout and plain text on stderr; both arrive in chunks
// that split lines anywhere.
import type { Readable } from "node:stream";

/** Calls onLine for every complete, non-blank stdout line. */
export function onStdoutLines(stream: Readable, onLine: (line: string) => void): void {
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf("\n")) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) onLine(line);
    }
  });
}

/** Hands each non-blank stderr line to the log. */
export function onStderrLines(stream: Readable, log: (line: string) => void): void {
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    for (const l of chunk.split("\n")) if (l.trim()) log(l);
  });
}
