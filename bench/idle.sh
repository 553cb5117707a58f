#!/usr/bin/env bash
# Idle cost: CPU seconds per minute of a node (all its processes) with one
# recorded udp:// stream configured and nothing sending to it.
#
#   bench/idle.sh [SECONDS]     (default 60; env EDGE_BIN to use a built binary)
#
# 127.0.0.1 only; stops by itself.
set -euo pipefail
seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
cd "$root"
if [ -n "${EDGE_BIN:-}" ]; then cp "$EDGE_BIN" "$work/edge"; else go build -o "$work/edge" ./cmd/edge; fi
port=$((20000 + RANDOM % 20000))
cat > "$work/topology.toml" <<EOF2
[[node]]
name = "idle"
listen = "127.0.0.1:$port"
  [[node.stream]]
  name = "cam"
  inputs = ["udp://127.0.0.1:$((port + 1))"]
  dvr = { root = "$work/archive" }
EOF2
"$work/edge" run "$work/topology.toml" > "$work/edge.log" 2>&1 &
pid=$!
until curl -sf "http://127.0.0.1:$port/api/v1/streams" > /dev/null; do sleep 0.1; done
sleep 5 # start-up done, the source declared silent
# ns: nanoseconds on CPU of the node and its plugin processes, summed over
# their threads (schedstat is exact, where utime/stime count whole ticks).
ns() {
  local c
  for c in "$pid" $(pgrep -P "$pid" || true); do
    cat /proc/"$c"/task/*/schedstat 2>/dev/null
  done | awk '{s += $1} END {printf "%d", s}'
}
a=$(ns); sleep "$seconds"; b=$(ns)
printf 'idle node, 1 stream, no input: %.3f CPU s per minute (%d processes)\n' \
  "$(echo "($b - $a) / 1000000000 * 60 / $seconds" | bc -l)" "$((1 + $(pgrep -P "$pid" | wc -l)))"
