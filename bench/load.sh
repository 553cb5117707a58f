#!/usr/bin/env bash
# Bounded load test: CLIENTS HLS players follow the live playlist of one
# node for SECONDS on 127.0.0.1; prints errors and the p50/p99 latency of
# segment requests. Exits non-zero on any error.
#
#   bench/load.sh [CLIENTS] [SECONDS]     (defaults: 500 and 60)
set -euo pipefail
clients=${1:-500}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap '[ -n "${edge_pid:-}" ] && kill "$edge_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
cd "$root"
if [ -n "${EDGE_BIN:-}" ]; then cp "$EDGE_BIN" "$work/edge"; else go build -o "$work/edge" ./cmd/edge; fi
go build -o "$work/hlsload" ./bench/hlsload
ulimit -n 65536 2>/dev/null || true

port=$((20000 + RANDOM % 20000))
cat > "$work/topology.toml" <<EOF
[[node]]
name = "load"
listen = "127.0.0.1:$port"
  [[node.stream]]
  name = "sample"
  inputs = ["file://$root/examples/topologies/sample.ts"]
  dvr = { root = "$work/archive" }
EOF
"$work/edge" run "$work/topology.toml" 2> "$work/edge.log" &
edge_pid=$!
for _ in $(seq 1 30); do
  curl -sf "127.0.0.1:$port/sample/index.m3u8" | grep -q '^s-' && break
  sleep 1
done
"$work/hlsload" -url "http://127.0.0.1:$port/sample/index.m3u8" -clients "$clients" -duration "${seconds}s"
