#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, checks types and the house
# rules, builds the bundles, then runs unit and end-to-end tests in one node test run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

echo "== type check"
npx tsc --noEmit -p .
echo "== type check (webview, browser types)"
npx tsc --noEmit -p webview
echo "== lint (src/core must not import vscode; the webview imports only src/shared)"
npx eslint src test bench scripts webview
echo "== format (prettier; npm run format rewrites)"
npm run --silent format:check
echo "== build"
node scripts/build.mjs

echo "== tests"
node --import tsx --test --test-concurrency=1 --test-reporter=spec test/unit/*.test.ts test/e2e/*.test.ts
