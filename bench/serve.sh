#!/usr/bin/env bash
# Serving speed of the fasthttp front against nginx (sendfile on) serving
# the same bytes, in the same run, with wrk on 127.0.0.1:
#   - a ~1.5 MiB live segment of a recorded stream (edge: sent from its
#     archive file with sendfile at an explicit offset, corked with the
#     header, as the live window does once the archive
#     holds a segment; RECORD=0: a stream that is not recorded, whose live
#     window keeps the bytes in memory),
#   - the live playlist (edge: rendered once per segment that lands, then
#     shared; nginx: the same bytes as a file).
# Prints each throughput and the ratio edge/nginx.
#
#   bench/serve.sh [SECONDS] [CONNECTIONS]     (defaults: 10 and 64; env RECORD=1)
#
# Needs ffmpeg, nginx and wrk (apt-get install -y ffmpeg nginx-light wrk).
set -euo pipefail
seconds=${1:-10}
conns=${2:-64}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
chmod 755 "$work"  # nginx workers read www/ as an unprivileged user
cleanup() {
  [ -n "${edge_pid:-}" ] && kill "$edge_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for tool in ffmpeg nginx wrk curl; do
  command -v "$tool" >/dev/null || { echo "bench/serve.sh: $tool is missing (apt-get install -y ffmpeg nginx-light wrk curl)" >&2; exit 1; }
done

cd "$root"
if [ -n "${EDGE_BIN:-}" ]; then cp "$EDGE_BIN" "$work/edge"; else go build -o "$work/edge" ./cmd/edge; fi

echo "encoding a 4 Mbit/s source (3 s segments of ~1.5 MiB)..." >&2
ffmpeg -v error -nostdin -f lavfi -i "testsrc2=size=1280x720:rate=25" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t 30 -c:v libx264 -preset veryfast -g 75 -keyint_min 75 -sc_threshold 0 -pix_fmt yuv420p \
  -b:v 3900k -maxrate 3900k -bufsize 4000k -c:a aac -b:a 128k -f mpegts "$work/src.ts"

port=$((20000 + RANDOM % 20000))
nport=$((port + 1))
cat > "$work/topology.toml" <<EOF
[[node]]
name = "bench"
listen = "127.0.0.1:$port"
  [[node.stream]]
  name = "s"
  inputs = ["file://$work/src.ts"]
EOF
if [ "${RECORD:-1}" = 1 ]; then echo "  dvr = { root = \"$work/archive\", depth = \"1h\" }" >> "$work/topology.toml"; fi
"$work/edge" run "$work/topology.toml" 2> "$work/edge.log" &
edge_pid=$!

# Wait for a full live window of a few segments.
for _ in $(seq 1 60); do
  n=$(curl -s "127.0.0.1:$port/s/index.m3u8" | grep -c '^s-' || true)
  [ "${n:-0}" -ge 3 ] && break
  sleep 1
done
curl -s "127.0.0.1:$port/s/index.m3u8" > "$work/index.m3u8"
seg=$(grep '^s-' "$work/index.m3u8" | tail -1)
[ -n "$seg" ] || { echo "no live segment from edge:"; tail -20 "$work/edge.log"; exit 1; }

mkdir -p "$work/www/s"
curl -s -o "$work/www/s/$seg" "127.0.0.1:$port/s/$seg"
cp "$work/index.m3u8" "$work/www/s/index.m3u8"
size=$(stat -c %s "$work/www/s/$seg")
chmod -R a+rX "$work/www"

cat > "$work/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types { application/vnd.apple.mpegurl m3u8; video/mp4 m4s; }
  server {
    listen 127.0.0.1:$nport;
    root $work/www;
  }
}
EOF
nginx -c "$work/nginx.conf" -p "$work" -g "daemon on;"
sleep 0.5

# run URL -> prints "requests/s bytes/s"
run() {
  local out rps tps
  out=$(wrk -t2 -c"$conns" -d"${seconds}s" "$1")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  tps=$(awk '/Transfer\/sec/ {print $2}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then echo "bench/serve.sh: errors from $1:" >&2; echo "$out" >&2; fi
  echo "$rps $tps"
}

echo "segment: $seg ($size bytes); $seconds s per run, $conns connections" >&2
read -r n_seg_rps n_seg_tps < <(run "http://127.0.0.1:$nport/s/$seg")
read -r e_seg_rps e_seg_tps < <(run "http://127.0.0.1:$port/s/$seg")
read -r n_pl_rps _ < <(run "http://127.0.0.1:$nport/s/index.m3u8")
read -r e_pl_rps _ < <(run "http://127.0.0.1:$port/s/index.m3u8")

ratio() { echo "scale=2; $1 / $2" | bc; }
gbps() { echo "scale=2; $1 * $size / 1000000000" | bc; }
echo "segment  nginx: $n_seg_rps req/s ($(gbps "$n_seg_rps") GB/s)  edge: $e_seg_rps req/s ($(gbps "$e_seg_rps") GB/s)  ratio edge/nginx: $(ratio "$e_seg_rps" "$n_seg_rps")"
echo "playlist nginx: $n_pl_rps req/s  edge: $e_pl_rps req/s  ratio edge/nginx: $(ratio "$e_pl_rps" "$n_pl_rps")"
