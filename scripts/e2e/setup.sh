#!/usr/bin/env bash
# Makes this machine able to run the real-editor tests: Debian's chromium and the build inputs of
# code-server's native modules, then code-server itself in .e2e/code-server from the committed
# manifest and lockfile in test/vscode/server. Safe to rerun: when everything is in place it only
# checks, in a few seconds. Only the npm registry and Debian's archive are needed.
set -euo pipefail
cd "$(dirname "$0")/../.."

CS_VERSION=4.100.3
# The @vscode/ripgrep that code-server 4.100.3 pins (lib/vscode/npm-shrinkwrap.json) and the rg
# release it wants; Debian 12's ripgrep is that same 13.0.0.
RG_PKG_VERSION=1.15.11
RG_RELEASE=v13.0.0-10

E2E=$PWD/.e2e
mkdir -p "$E2E"
# Two test runs on one machine must not install into the same folder at once: the second waits here
# and then finds everything in place.
exec 9>"$E2E/.setup.lock"
flock 9
CS_DIR=$E2E/code-server
CS_ENTRY=$CS_DIR/node_modules/code-server/out/node/entry.js
STAMP=$CS_DIR/.installed
LOG=$E2E/code-server-install.log
t0=$(date +%s)

# ---- Debian packages -------------------------------------------------------------------------
# chromium drives the workbench; libkrb5-dev is needed to compile code-server's kerberos module;
# ripgrep stands in for a binary that @vscode/ripgrep would otherwise fetch from GitHub.
need=()
for p in chromium libkrb5-dev ripgrep; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
command -v unzip >/dev/null || need+=(unzip)
command -v make >/dev/null || need+=(make)
command -v g++ >/dev/null || need+=(g++)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  echo "== apt: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# ---- code-server -----------------------------------------------------------------------------
manifest_sum() { cat test/vscode/server/package.json test/vscode/server/package-lock.json | sha256sum | cut -d' ' -f1; }
installed_ok() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(manifest_sum)" ] && [ -f "$CS_ENTRY" ] &&
    node "$CS_ENTRY" --version 2>/dev/null | grep -q "^$CS_VERSION "
}

if installed_ok; then
  echo "== code-server $CS_VERSION is installed in $CS_DIR ($(($(date +%s) - t0))s)"
  exit 0
fi

case "$(uname -m)" in
  x86_64) rg_target=x86_64-unknown-linux-musl ;;
  aarch64) rg_target=aarch64-unknown-linux-musl ;;
  *) echo "setup: no ripgrep seed for $(uname -m)" >&2; exit 1 ;;
esac

echo "== installing code-server $CS_VERSION into $CS_DIR (compiles native modules; about 2 minutes cold)"
rm -rf "$CS_DIR" "$E2E/tmp"
mkdir -p "$CS_DIR" "$E2E/tmp/vscode-ripgrep-cache-$RG_PKG_VERSION" "$E2E/tmp/rg"
cp test/vscode/server/package.json test/vscode/server/package-lock.json "$CS_DIR/"

# @vscode/ripgrep's postinstall looks in $TMPDIR/vscode-ripgrep-cache-<version>/ before it tries
# GitHub, so a tarball of Debian's rg there keeps the install offline.
cp "$(command -v rg)" "$E2E/tmp/rg/rg"
tar czf "$E2E/tmp/vscode-ripgrep-cache-$RG_PKG_VERSION/ripgrep-$RG_RELEASE-$rg_target.tar.gz" -C "$E2E/tmp/rg" rg

# npm_config_yes: node-pty's postinstall runs `npx node-gyp`, which a `yes=false` npmrc refuses.
# npm_config_unsafe_perm: code-server's postinstall refuses to run as root without it.
if ! (cd "$CS_DIR" && TMPDIR="$E2E/tmp" npm_config_yes=true npm_config_unsafe_perm=true \
  npm ci --no-audit --no-fund --foreground-scripts >"$LOG" 2>&1); then
  tail -n 60 "$LOG" >&2
  echo "setup: npm ci of code-server failed; the whole log is $LOG" >&2
  exit 1
fi
if ! node "$CS_ENTRY" --version | grep -q "^$CS_VERSION "; then
  echo "setup: code-server does not answer --version with $CS_VERSION" >&2
  exit 1
fi
manifest_sum >"$STAMP"
rm -rf "$E2E/tmp"
echo "== code-server $(node "$CS_ENTRY" --version | head -n 1) installed in $(($(date +%s) - t0))s"
