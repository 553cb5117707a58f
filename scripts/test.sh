#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what the tests
# need and is missing (ffmpeg, Debian's chromium, Node.js and npm, the npm
# packages of internal/browser), then runs `go test ./...`. Arguments are
# passed to go test, e.g. scripts/test.sh -run TestBrowser -v.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The browser client's npm packages, at the versions package-lock.json pins.
dir=internal/browser
if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

go version
ffmpeg -hide_banner -version 2>/dev/null | sed -n 1p || true
chromium --version 2>/dev/null || true

exec go test "$@" ./...
