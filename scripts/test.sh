#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what the tests
# need and is missing (ffmpeg, Debian's chromium, Node.js and npm, the npm
# packages of internal/browser, versitygw), then runs `go test ./...` and
# the tests of the example plugin's own module. Arguments are
# passed to go test, e.g. scripts/test.sh -run TestBrowser -v.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
# Where `go install` puts binaries ($HOME/go/bin by default).
export PATH="$PATH:$(go env GOPATH)/bin"

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

# The S3 server the S3 archive tests run against (a real one, no fake).
command -v versitygw >/dev/null 2>&1 || go install github.com/versity/versitygw/cmd/versitygw@v1.8.0

go version
ffmpeg -hide_banner -version 2>/dev/null | sed -n 1p || true
chromium --version 2>/dev/null || true

go test -timeout 30m "$@" ./...
# The example plugin is a module of its own (built against the SDK only):
# `go test ./...` above does not enter it.
(cd examples/plugins/flatstore && go test -timeout 30m "$@" ./...)
