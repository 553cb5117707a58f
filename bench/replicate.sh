#!/usr/bin/env bash
# DVR replication throughput: a fresh secondary copies a primary's synthetic
# archive (HOURS hours of SEGMENT segments of SIZE random bytes, ending now)
# over loopback with no rate limit, against `cp -r` (and `cp -r` + sync) of
# the same files on the same disk in the same run; and the time from the
# secondary's start until it holds the newest hour (replication copies
# newest first); and the CPU time each side spent (user + system, the
# node's plugin processes included) against cp -r's; and the floor of
# durable writes on that disk (bench/replfloor: the same files stored with
# replication's flushes by one process, no network, no plugin boundary).
# And rsync -a from an rsync daemon on 127.0.0.1 (a networked copy
# between servers, the usual tool for it), when rsync is installed.
#
#   bench/replicate.sh [HOURS] [SEGMENT] [SIZE]     (defaults: 24 3s 32768)
#
# Needs curl. 127.0.0.1 only; stops by itself.
set -euo pipefail
hours=${1:-24}
segment=${2:-3s}
size=${3:-32768}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; [ -n "${KEEP_LOGS:-}" ] && cp "$work"/*.log "$KEEP_LOGS"/; rm -rf "$work"' EXIT
command -v curl >/dev/null || { echo "bench/replicate.sh: curl is missing" >&2; exit 1; }
cd "$root"
if [ -n "${EDGE_BIN:-}" ]; then cp "$EDGE_BIN" "$work/edge"; else go build -o "$work/edge" ./cmd/edge; fi
go build -o "$work/replgen" ./bench/replgen
go build -o "$work/replfloor" ./bench/replfloor

echo "writing $hours h of $segment segments of $size bytes..." >&2
read -r nsegs nbytes < <("$work/replgen" -root "$work/primary" -stream s -hours "$hours" -segment "$segment" -size "$size")
segms=$(( $(echo "$segment" | sed 's/s$//') * 1000 ))
hour_segs=$(( 3600000 / segms ))
sync

p=$((20000 + RANDOM % 10000))
udp=$((p + 5))
cat > "$work/topology.toml" <<TOML
cluster_key = "bench-key"
[[node]]
name = "primary"
listen = "127.0.0.1:$p"
  [[node.stream]]
  name = "s"
  inputs = ["udp://127.0.0.1:$udp"]     # nothing sends: the archive is all there is
  dvr = { root = "$work/primary", depth = "30d" }
[[node]]
name = "secondary"
listen = "127.0.0.1:$((p + 1))"
  [[node.stream]]
  name = "s"
  inputs = ["m4f://primary/s"]
  dvr = { root = "$work/secondary", depth = "30d", replicate = true }
TOML
"$work/edge" run "$work/topology.toml" --node primary > /dev/null 2> "$work/primary.log" &
pids+=($!)
until curl -sf "http://127.0.0.1:$p/api/v1/streams" > /dev/null; do sleep 0.1; done

# cpu PID: CPU seconds (user + system) of PID and its plugin processes.
cpu() {
  local t=0 c
  for c in "$1" $(pgrep -P "$1" || true); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0)))
  done
  echo "scale=2; $t / $(getconf CLK_TCK)" | bc
}
metric() { curl -sf "http://127.0.0.1:$((p + 1))/metrics" | awk -v m="$1" '$1 ~ "^"m"(\\{|$)" {s+=$2} END {print s+0}'; }
cpu_p0=$(cpu "${pids[0]}")
t0=$(date +%s.%N)
"$work/edge" run "$work/topology.toml" --node secondary > /dev/null 2> "$work/secondary.log" &
pids+=($!)
t_hour=""
while :; do
  copied=$(metric edge_replication_segments_copied_total 2>/dev/null) || copied=0
  if [ -z "$t_hour" ] && [ "${copied%.*}" -ge "$hour_segs" ]; then t_hour=$(date +%s.%N); fi
  if curl -sf "http://127.0.0.1:$((p + 1))/api/v1/streams/s" | grep -q '"caught_up":true'; then break; fi
  sleep 0.2
done
t1=$(date +%s.%N)
cpu_p=$(echo "$(cpu "${pids[0]}") - $cpu_p0" | bc); cpu_s=$(cpu "${pids[1]}")
copied=$(metric edge_replication_segments_copied_total)
for p_ in "${pids[@]}"; do kill "$p_" 2>/dev/null; done
wait 2>/dev/null || true
pids=()

sync; t2=$(date +%s.%N)
TIMEFORMAT='%U %S'; cpu_cp=$( { time cp -r "$work/primary" "$work/cp"; } 2>&1 | awk '{print $1 + $2}')
t3=$(date +%s.%N); sync; t4=$(date +%s.%N)
sync; floor=$("$work/replfloor" -from "$work/primary" -to "$work/floor")
# rsync over loopback TCP: the usual tool for copying an archive between
# servers (a daemon on 127.0.0.1 serving the primary's files, read only).
rsync_s="" rsyncs_s=""
if command -v rsync >/dev/null; then
  rp=$((p + 7))
  printf 'pid file = %s\nuid = root\ngid = root\nuse chroot = no\n[primary]\npath = %s\nread only = yes\n' \
    "$work/rsyncd.pid" "$work/primary" > "$work/rsyncd.conf"
  rsync --daemon --no-detach --config="$work/rsyncd.conf" --address=127.0.0.1 --port="$rp" 2> "$work/rsyncd.log" &
  pids+=($!)
  until rsync "rsync://127.0.0.1:$rp/" > /dev/null 2>&1; do sleep 0.1; done
  sync; t5=$(date +%s.%N)
  rsync -a "rsync://127.0.0.1:$rp/primary/" "$work/rsync/"
  t6=$(date +%s.%N); sync; t7=$(date +%s.%N)
  kill "${pids[0]}" 2>/dev/null; wait 2>/dev/null || true; pids=()
  rsync_s=$(echo "$t6 - $t5" | bc -l); rsyncs_s=$(echo "$t7 - $t5" | bc -l)
fi

repl=$(echo "$t1 - $t0" | bc -l); cp_=$(echo "$t3 - $t2" | bc -l); cps=$(echo "$t4 - $t2" | bc -l)
hour=$(echo "${t_hour:-$t1} - $t0" | bc -l)
printf 'archive:              %d segments, %d bytes (%s of %s, %d bytes each)\n' "$nsegs" "$nbytes" "${hours}h" "$segment" "$size"
printf 'replication:          %.2f s for %d segments, %.1f MB/s (node start included)\n' "$repl" "${copied%.*}" "$(echo "$nbytes / $repl / 1000000" | bc -l)"
printf 'newest hour served:   %.2f s after the secondary started\n' "$hour"
printf 'cpu:                  primary %.2f s, secondary %.2f s (plugins included), cp -r %.2f s\n' "$cpu_p" "$cpu_s" "$cpu_cp"
printf 'cp -r:                %.2f s, %.1f MB/s\n' "$cp_" "$(echo "$nbytes / $cp_ / 1000000" | bc -l)"
printf 'cp -r + sync:         %.2f s, %.1f MB/s\n' "$cps" "$(echo "$nbytes / $cps / 1000000" | bc -l)"
printf 'durable-write floor:  %.2f s (bench/replfloor: the same files stored as replication batches do, one process)\n' "$floor"
if [ -n "$rsync_s" ]; then
  printf 'rsync over loopback:  %.2f s, %.1f MB/s (+ sync: %.2f s)\n' "$rsync_s" "$(echo "$nbytes / $rsync_s / 1000000" | bc -l)" "$rsyncs_s"
  printf 'ratio replication/rsync: %.2f (vs rsync + sync: %.2f)\n' "$(echo "$rsync_s / $repl" | bc -l)" "$(echo "$rsyncs_s / $repl" | bc -l)"
fi
printf 'ratio replication/cp: %.2f (vs cp -r + sync: %.2f; floor/cp: %.2f)\n' "$(echo "$cp_ / $repl" | bc -l)" "$(echo "$cps / $repl" | bc -l)" "$(echo "$cp_ / $floor" | bc -l)"
