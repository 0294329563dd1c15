#!/usr/bin/env bash
# `npm run demo`: everything from a fresh clone to a workbench on a finished iteration. Installs what
# is missing (idempotent), then hands over to scripts/demo.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
say "building the extension, the CLI and the inspector"
node scripts/build.mjs
exec node --import tsx scripts/demo.ts "$@"
