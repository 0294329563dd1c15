// Text that a server, a remote host or a record wrote is shown where control characters act: a
// terminal runs escape sequences (colours, cursor moves, window titles, clipboard writes, links) and
// bidi overrides reorder what a person reads. printable() makes every such character visible as a
// \uXXXX escape instead. The same escape is what JSON writes, so inside a JSON string it stands for
// the very same text and a JSON line stays exact; applied twice it changes nothing.

// C0 but tab and newline, DEL, C1, and the bidi embeddings, overrides and isolates.
const ACTIVE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

export function printable(text: string): string {
  // A lone CR would let a line overwrite the one before it; progress bars in logs read fine one per line.
  return text.replace(/\r\n?/g, "\n").replace(ACTIVE, escape);
}
