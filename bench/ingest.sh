#!/usr/bin/env bash
# CPU time per stream-minute of capture + recording, and peak RSS, for N
# streams of a 4 Mbit/s H.264+AAC MPEG-TS that ffmpeg replays over UDP with
# -c copy. Counts the edge host and its plugin processes together.
#
#   bench/ingest.sh [STREAMS] [SECONDS]     (defaults: 1 and 60)
#
# Needs ffmpeg. Binds 127.0.0.1 only, stops by itself.
set -euo pipefail
streams=${1:-1}
seconds=${2:-60}
warmup=8
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

cd "$root"
if [ -n "${EDGE_BIN:-}" ]; then cp "$EDGE_BIN" "$work/edge"; else go build -o "$work/edge" ./cmd/edge; fi

src="$work/src.ts"
total=$((seconds + warmup + 10))
echo "encoding a ${total}s 4 Mbit/s H.264+AAC source..." >&2
ffmpeg -v error -nostdin -f lavfi -i "testsrc2=size=1280x720:rate=25" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t "$total" -c:v libx264 -preset veryfast -g 50 -keyint_min 50 -sc_threshold 0 -pix_fmt yuv420p \
  -b:v 3900k -maxrate 3900k -bufsize 4000k -c:a aac -b:a 128k -f mpegts "$src"

port=$((20000 + RANDOM % 20000))
http=$((port - 1))
{
  echo "[[node]]"
  echo "name = \"bench\""
  echo "listen = \"127.0.0.1:$http\""
  for i in $(seq 1 "$streams"); do
    echo "[[node.stream]]"
    echo "name = \"s$i\""
    echo "inputs = [\"udp://127.0.0.1:$((port + i))\"]"
    echo "dvr = { root = \"$work/archive\" }"
  done
} > "$work/topology.toml"

"$work/edge" run "$work/topology.toml" 2> "$work/edge.log" &
edge=$!
sleep 2
for i in $(seq 1 "$streams"); do
  ffmpeg -v error -nostdin -re -i "$src" -c copy -f mpegts "udp://127.0.0.1:$((port + i))?pkt_size=1316" &
done

# pids: the host and its children (the plugin processes)
pids() { echo "$edge"; pgrep -P "$edge" || true; }
ticks() { local t=0; for p in $(pids); do
  read -r -a f < <(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
  t=$((t + f[11] + f[12])); done; echo "$t"; }

sleep "$warmup"
t0=$(ticks)
sleep "$seconds"
t1=$(ticks)
hz=$(getconf CLK_TCK)
cpu=$(echo "scale=3; ($t1 - $t0) / $hz" | bc)
per=$(echo "scale=3; $cpu / $streams / ($seconds / 60)" | bc)
rss=0
for p in $(pids); do
  kb=$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
  rss=$((rss + kb))
  echo "pid $p $(tr '\0' ' ' < /proc/$p/cmdline | cut -c1-60): peak RSS $((kb / 1024)) MB" >&2
done
segs=$(curl -s "127.0.0.1:$http/metrics" | awk '/^edge_dvr_segments_written_total/ {s+=$2} END {print s+0}')
echo "streams=$streams seconds=$seconds cpu_seconds=$cpu cpu_s_per_stream_minute=$per peak_rss_total_mb=$((rss / 1024)) peak_rss_per_stream_mb=$((rss / 1024 / streams)) segments_written=$segs"
