#!/usr/bin/env bash
# Makes a fresh machine (Node 20 + npm) ready: pnpm at the pinned version, redis-server 7 when
# missing (apt-get or brew), and the workspace's dependencies from the lockfile. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1

want_pnpm=$(node -p "require('./package.json').packageManager.split('@')[1]")
if [ "$(pnpm --version 2>/dev/null || true)" != "$want_pnpm" ]; then
  echo "bootstrap: installing pnpm@$want_pnpm"
  npm install -g "pnpm@$want_pnpm" >/dev/null
fi

if ! command -v redis-server >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing redis-server (apt-get)"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo_cmd apt-get update -qq >/dev/null
    $sudo_cmd apt-get install -y -qq redis-server >/dev/null
  elif command -v brew >/dev/null 2>&1; then
    echo "bootstrap: installing redis (brew)"
    brew install redis >/dev/null
  else
    echo "bootstrap: no redis-server and no apt-get or brew to install it; install Redis 7+ yourself" >&2
    exit 1
  fi
fi
# Browser tests (the gate's HTML report, page tests) drive Debian's chromium through playwright-core;
# playwright's own browser download cannot reach the network here.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: installing chromium (apt-get, for browser tests)"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq >/dev/null
  $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
echo "bootstrap: $(redis-server --version | cut -d' ' -f1-3), pnpm $(pnpm --version), node $(node --version)"

pnpm install --frozen-lockfile
