#!/usr/bin/env bash
# Packs the extension the way users receive it, into .e2e/metajudge.vsix (or $1), offline, and
# checks what went in: the extension spawns dist/cli.js as its worker and reads prompts/ and
# schema/ at run time, so a .vsix without them installs fine and then fails in front of a user.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-.e2e/metajudge.vsix}
mkdir -p "$(dirname "$out")"

node scripts/build.mjs
# No repository exists to link to (so relative links in the README stay as they are); vsce would otherwise stop and ask. </dev/null keeps any other
# question from waiting for an answer that CI cannot give.
npx vsce package --no-dependencies --allow-missing-repository --no-rewrite-relative-links -o "$out" </dev/null

entries=$(unzip -Z1 "$out")
fail=0
for want in extension/package.json extension/readme.md extension/LICENSE.txt \
  extension/dist/extension.js extension/dist/cli.js extension/prompts/ extension/schema/ extension/media/; do
  grep -qiF -- "$want" <<<"$entries" || { echo "package: $out lacks $want" >&2; fail=1; }
done
for banned in '^extension/(src|test|node_modules|\.e2e|bench|scripts|dist/test)/' '\.(map|ts|vsix)$'; do
  if grep -qE -- "$banned" <<<"$entries"; then echo "package: $out must not contain $banned" >&2; fail=1; fi
done
exit $fail
