#!/usr/bin/env bash
# Cost of the MPEG-TS outputs (proxy/mpegts.go) on one node, in one run:
#   1. one live segment served as fMP4 (/s/s-START.m4s) and as MPEG-TS
#      (/s/s-START.ts: remuxed on the first request, then from the memory
#      cache), with wrk: requests/s, bytes/s and the ratio ts/fmp4; plus the
#      time of the first (cold, remuxing) .ts request;
#   2. CPU seconds per viewer-minute of the live /s/mpegts output with VIEWERS
#      concurrent curl clients for DURATION seconds: CPU time of the edge host
#      and its plugin processes over that window, minus the idle rate
#      (capture + recording, no viewer) measured over a window of the same
#      length just before; plus the bytes each viewer received on average.
#
#   bench/mpegts.sh [SECONDS] [CONNECTIONS] [VIEWERS] [DURATION]
#                   (defaults: 10, 64, 100 and 60)
#
# The source is a 4 Mbit/s 720p H.264+AAC file looped in real time with 3 s
# segments, recorded to a temporary dvr. The live window holds 10 segments
# (about 30 s): with SECONDS above ~12 the fMP4 run may end up reading the
# segment from the archive on disk instead of memory.
# Needs ffmpeg, wrk, curl and bc (apt-get install -y ffmpeg wrk curl bc).
# Binds 127.0.0.1 only, stops by itself and stops only what it started.
set -euo pipefail
seconds=${1:-10}
conns=${2:-64}
viewers=${3:-100}
duration=${4:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
client_pids=()
cleanup() {
  for p in "${client_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${edge_pid:-}" ] && kill "$edge_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for tool in ffmpeg wrk curl bc; do
  command -v "$tool" >/dev/null || { echo "bench/mpegts.sh: $tool is missing (apt-get install -y ffmpeg wrk curl bc)" >&2; exit 1; }
done

cd "$root"
if [ -n "${EDGE_BIN:-}" ]; then cp "$EDGE_BIN" "$work/edge"; else go build -o "$work/edge" ./cmd/edge; fi

echo "encoding a 4 Mbit/s 720p H.264+AAC source (3 s segments of ~1.5 MiB)..." >&2
ffmpeg -v error -nostdin -f lavfi -i "testsrc2=size=1280x720:rate=25" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t 30 -c:v libx264 -preset veryfast -g 75 -keyint_min 75 -sc_threshold 0 -pix_fmt yuv420p \
  -b:v 3900k -maxrate 3900k -bufsize 4000k -c:a aac -b:a 128k -f mpegts "$work/src.ts"

port=$((20000 + RANDOM % 20000))
base="http://127.0.0.1:$port"
cat > "$work/topology.toml" <<EOF
[[node]]
name = "bench"
listen = "127.0.0.1:$port"
  [[node.stream]]
  name = "s"
  inputs = ["file://$work/src.ts"]
  dvr = { root = "$work/archive" }
EOF
"$work/edge" run "$work/topology.toml" 2> "$work/edge.log" &
edge_pid=$!

# Wait for a live window of a few segments.
for _ in $(seq 1 60); do
  n=$(curl -s "$base/s/index.m3u8" | grep -c '^s-' || true)
  [ "${n:-0}" -ge 3 ] && break
  sleep 1
done

# ---- 1. one segment, fMP4 against MPEG-TS -------------------------------
seg=$(curl -s "$base/s/index.m3u8" | grep '^s-' | tail -1 || true)
[ -n "$seg" ] || { echo "no live segment from edge:" >&2; tail -20 "$work/edge.log" >&2; exit 1; }
m4s="$seg"
ts="${seg%.m4s}.ts"
[ "$ts" != "$m4s" ] || { echo "bench/mpegts.sh: unexpected segment name $seg" >&2; exit 1; }

# The first .ts request remuxes (cold); it also warms the cache for wrk.
read -r code cold_s ts_size < <(curl -s -o /dev/null -w '%{http_code} %{time_total} %{size_download}\n' "$base/s/$ts")
[ "$code" = 200 ] || { echo "bench/mpegts.sh: $base/s/$ts answered $code" >&2; exit 1; }
read -r code warm_s _ < <(curl -s -o /dev/null -w '%{http_code} %{time_total} %{size_download}\n' "$base/s/$ts")
read -r code m4s_s m4s_size < <(curl -s -o /dev/null -w '%{http_code} %{time_total} %{size_download}\n' "$base/s/$m4s")
[ "$code" = 200 ] || { echo "bench/mpegts.sh: $base/s/$m4s answered $code" >&2; exit 1; }

# run URL -> prints requests/s
run() {
  local out
  out=$(wrk -t2 -c"$conns" -d"${seconds}s" "$1")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then echo "bench/mpegts.sh: errors from $1:" >&2; echo "$out" >&2; fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}

echo "segment $m4s ($m4s_size bytes) / $ts ($ts_size bytes); wrk $seconds s per run, $conns connections" >&2
m4s_rps=$(run "$base/s/$m4s")
ts_rps=$(run "$base/s/$ts")

mbps() { echo "scale=1; $1 * $2 / 1000000" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }
m4s_bps=$(echo "$m4s_rps * $m4s_size" | bc)
ts_bps=$(echo "$ts_rps * $ts_size" | bc)
echo "segment fmp4:   $m4s_rps req/s  $(mbps "$m4s_rps" "$m4s_size") MB/s  ($m4s_size bytes)"
echo "segment mpegts: $ts_rps req/s  $(mbps "$ts_rps" "$ts_size") MB/s  ($ts_size bytes)"
echo "ratio ts/fmp4:  $(ratio "$ts_rps" "$m4s_rps") req/s  $(ratio "$ts_bps" "$m4s_bps") bytes/s"
echo "first .ts request (cold, remux): $(echo "scale=1; $cold_s * 1000 / 1" | bc) ms; second (cached): $(echo "scale=1; $warm_s * 1000 / 1" | bc) ms; fmp4: $(echo "scale=1; $m4s_s * 1000 / 1" | bc) ms"

# ---- 2. CPU per viewer-minute of /s/mpegts --------------------------------
# pids: the host and its children (the plugin processes)
pids() { echo "$edge_pid"; pgrep -P "$edge_pid" || true; }
ticks() { local t=0 p; for p in $(pids); do
  read -r -a f < <(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
  t=$((t + f[11] + f[12])); done; echo "$t"; }
now() { date +%s.%N; }
# stamp -> "TICKS TIME": the CPU ticks, and the time halfway through reading them
stamp() { local a t b; a=$(now); t=$(ticks); b=$(now); echo "$t $(echo "scale=3; ($a + $b) / 2" | bc)"; }
hz=$(getconf CLK_TCK)

echo "idle window: ${duration} s with no viewer..." >&2
read -r i0 iw0 < <(stamp)
sleep "$duration"
read -r i1 iw1 < <(stamp)

echo "viewer window: $viewers clients of /s/mpegts for ${duration} s..." >&2
read -r v0 vw0 < <(stamp)
for i in $(seq 1 "$viewers"); do
  curl -s -o /dev/null --max-time "$duration" -w '%{size_download}\n' "$base/s/mpegts" > "$work/viewer.$i" &
  client_pids+=($!)
done
for p in "${client_pids[@]}"; do wait "$p" 2>/dev/null || true; done
read -r v1 vw1 < <(stamp)
client_pids=()

idle_cpu=$(echo "scale=3; ($i1 - $i0) / $hz" | bc)
idle_wall=$(echo "scale=3; $iw1 - $iw0" | bc)
view_cpu=$(echo "scale=3; ($v1 - $v0) / $hz" | bc)
view_wall=$(echo "scale=3; $vw1 - $vw0" | bc)
# The idle rate, scaled to the viewer window's wall time, is the baseline.
extra=$(echo "scale=3; $view_cpu - $idle_cpu * $view_wall / $idle_wall" | bc)
per=$(echo "scale=4; $extra / ($viewers * $duration / 60)" | bc)
total=0; got=0
for i in $(seq 1 "$viewers"); do
  b=$(tr -dc 0-9 < "$work/viewer.$i")
  [ -n "$b" ] && { total=$((total + b)); got=$((got + 1)); }
done
avg=$(( got > 0 ? total / got : 0 ))
expect=$((4000000 * duration / 8))
# /s/mpegts starts with the newest whole segment, so each viewer also gets
# up to one segment (~1.5 MB) at once on top of the real-time rate.
echo "idle (capture + recording): $idle_cpu cpu s over $idle_wall s wall"
echo "with $viewers mpegts viewers: $view_cpu cpu s over $view_wall s wall; above idle: $extra cpu s"
echo "mpegts live: $per cpu s per viewer-minute ($viewers viewers x $duration s)"
echo "bytes per viewer: $avg on average ($got of $viewers clients reported; 4 Mbit/s x $duration s = $expect, plus up to one ~1.5 MB segment sent at once on connect)"
