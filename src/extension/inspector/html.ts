// The inspector's page shell and its Content Security Policy. Plain strings, no editor API, so the
// policy can be pinned by a unit test and reused by a browser harness.
import { randomBytes } from "node:crypto";

/** 128 random bits per page load: a script without this exact nonce never runs. */
export function makeNonce(): string {
  return randomBytes(16).toString("base64");
}

/**
 * Nothing loads unless named here: the one nonce-tagged bundle, and stylesheets from the extension's
 * own media folder. Lit adopts its component styles as constructed stylesheets and sets the few
 * dynamic ones through CSSOM, neither of which needs 'unsafe-inline'; no fonts, images, frames or
 * connections are used, so default-src 'none' denies them all.
 */
export function inspectorCsp(cspSource: string, nonce: string): string {
  return [`default-src 'none'`, `script-src 'nonce-${nonce}'`, `style-src ${cspSource}`, `base-uri 'none'`, `form-action 'none'`].join(
    "; ",
  );
}

const escapeAttr = (s: string): string => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export interface PageParts {
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
}

/** The body stays empty: the bundle builds every node, so no data is ever spliced into this HTML. */
export function inspectorHtml(p: PageParts): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(inspectorCsp(p.cspSource, p.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttr(p.styleUri)}">
<title>Metajudge Inspector</title>
</head>
<body>
<script nonce="${escapeAttr(p.nonce)}" src="${escapeAttr(p.scriptUri)}"></script>
</body>
</html>`;
}
