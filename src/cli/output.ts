// The CLI's one way to the terminal. Every write to stdout and stderr, whoever makes it, passes
// through printable(), because error texts, job logs and records carry what a server or a host wrote.
// A reader that goes away (`metajudge run --json | head -1`) is a request to stop, not a crash: the
// command that can stop cleanly (a run) is cancelled and records what it did; anything else ends at
// once. Either way the exit status is 141, what a shell reports for a process stopped by SIGPIPE.
import { StringDecoder } from "node:string_decoder";
import { printable } from "../core/printable.js";

export const EXIT_OUTPUT_CLOSED = 141;

export interface Terminal {
  /** Aborted when stdout or stderr is a pipe whose reader has gone. */
  readonly closed: AbortSignal;
  /** For a command that stops cleanly on `closed`: until it lets go, a closed pipe does not end the process. */
  claim(): () => void;
}

type Write = NodeJS.WriteStream["write"];
type Callback = (err?: Error | null) => void;

/** The unguarded write of each guarded stream: the progress bar's own cursor controls go there. */
const rawWrites = new WeakMap<NodeJS.WritableStream, (text: string) => void>();

/** Writes text the CLI composed itself, escape sequences included, bypassing the guard. */
export function writeControl(stream: NodeJS.WritableStream, text: string): void {
  const raw = rawWrites.get(stream);
  if (raw) raw(text);
  else stream.write(text);
}

export function guardTerminal(
  streams: NodeJS.WriteStream[] = [process.stdout, process.stderr],
  exit: (code: number) => void = (c) => process.exit(c),
): Terminal {
  const gone = new AbortController();
  let claims = 0;
  for (const stream of streams) {
    const raw = stream.write.bind(stream) as (chunk: string, cb?: Callback) => boolean;
    // Bytes piped through (a job's log file) may split a character across chunks.
    const decoder = new StringDecoder("utf8");
    rawWrites.set(stream, (text) => {
      if (!gone.signal.aborted) raw(text);
    });
    stream.write = ((chunk: string | Uint8Array, encoding?: BufferEncoding | Callback, cb?: Callback): boolean => {
      const callback = typeof encoding === "function" ? encoding : cb;
      if (gone.signal.aborted) {
        if (callback) process.nextTick(callback);
        return true;
      }
      const text =
        typeof chunk === "string" ? decoder.end() + chunk : decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      return raw(printable(text), callback);
    }) as Write;
    stream.on("error", () => {
      // EPIPE, or a write after it: the reader is gone and nothing more can be shown.
      if (gone.signal.aborted) return;
      gone.abort();
      if (claims === 0) exit(EXIT_OUTPUT_CLOSED);
    });
  }
  return {
    closed: gone.signal,
    claim() {
      claims++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        claims--;
      };
    },
  };
}
