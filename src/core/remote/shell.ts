// Building sh -c strings for a remote host: every value we interpolate is quoted here, so a file
// name or a model id can never become shell syntax on someone's GPU box.

/** POSIX single-quoting: safe for any byte string, including newlines and quotes. */
export function quote(value: string): string {
  // A bare word that cannot be misread stays readable in logs and manifests.
  if (value !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) && !value.startsWith("-") && !value.startsWith("~")) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** One command line from its words, each quoted. */
export function command(parts: string[]): string {
  return parts.map(quote).join(" ");
}

/** Expands a leading "~" or "~/" to the remote home: SFTP and quoted paths do not expand it themselves. */
export function remotePath(p: string, home: string): string {
  if (p === "~") return home;
  if (p.startsWith("~/")) return `${home.replace(/\/+$/, "")}/${p.slice(2)}`;
  return p;
}
