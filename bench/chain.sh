#!/usr/bin/env bash
# Chained archive lookup: serving one archive range (its MP4 export and one
# of its segments) from an edge whose disk cache holds it, against the
# origin serving it from its own archive, in the same run with wrk; and the
# latency a cold miss adds at each tier (origin archive, cache tier asking
# the origin, edge asking the cache tier), to the first byte and to the last.
#
#   bench/chain.sh [SECONDS] [CONNECTIONS]     (defaults: 10 and 16)
#
# RECORD (seconds, default 160) sets how long the origin records first: the
# cold-miss figures take one tier per segment older than the live window,
# so a longer recording gives more samples. The cold misses are printed as
# medians and as ratios to the origin's in the same run (target for the
# edge through the cache tier: at most 2). It also prints the M4F calls
# each edge cold miss makes on the cache tier and the origin, by endpoint
# (edge_m4f_requests_total; "streams" is the sources' periodic polling,
# not caused by the miss).
#
# TRACE=DIR writes an execution trace of every edge process of the run
# (nodes and plugins; EDGE_TRACE, see cmd/edge/profile.go) into DIR, from
# its start to the end of the cold misses, for `go tool trace`.
#
# Needs ffmpeg, wrk and curl. 127.0.0.1 only; stops by itself.
set -euo pipefail
seconds=${1:-10}
conns=${2:-16}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap '[ -n "${edge_pid:-}" ] && kill "$edge_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for tool in ffmpeg wrk curl; do
  command -v "$tool" >/dev/null || { echo "bench/chain.sh: $tool is missing" >&2; exit 1; }
done
cd "$root"
if [ -n "${EDGE_BIN:-}" ]; then cp "$EDGE_BIN" "$work/edge"; else go build -o "$work/edge" ./cmd/edge; fi

echo "encoding a 4 Mbit/s source..." >&2
ffmpeg -v error -nostdin -f lavfi -i "testsrc2=size=1280x720:rate=25" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t 30 -c:v libx264 -preset veryfast -g 75 -keyint_min 75 -sc_threshold 0 -pix_fmt yuv420p \
  -b:v 3900k -maxrate 3900k -bufsize 4000k -c:a aac -b:a 128k -f mpegts "$work/src.ts"

p=$((20000 + RANDOM % 10000))
cat > "$work/topology.toml" <<EOF
cluster_key = "bench-key"
[[node]]
name = "origin"
listen = "127.0.0.1:$p"
  [[node.stream]]
  name = "s"
  inputs = ["file://$work/src.ts"]
  dvr = { root = "$work/origin" }
[[node]]
name = "cache"
listen = "127.0.0.1:$((p + 1))"
  [[node.source]]
  url = "m4f://origin"
  cache = { root = "$work/cache-tier", depth = "1h", max_size = "10G" }
[[node]]
name = "edge"
listen = "127.0.0.1:$((p + 2))"
  [[node.source]]
  url = "m4f://cache"
  remote_dvr = "chain"
  cache = { root = "$work/edge-cache", depth = "1h", max_size = "10G" }
EOF
record=${RECORD:-160}
trace_env=()
[ -n "${TRACE:-}" ] && trace_env=(env "EDGE_TRACE=$TRACE:$((record + 20))")
"${trace_env[@]}" "$work/edge" up "$work/topology.toml" > "$work/up.out" 2> "$work/up.log" &
edge_pid=$!
origin="http://127.0.0.1:$p"; cachen="http://127.0.0.1:$((p + 1))"; edge="http://127.0.0.1:$((p + 2))"

# The range must be older than the live windows (about 60 s), so that it
# is served from archives and caches, not from memory.
echo "recording $record s..." >&2
sleep "$record"
from=$(curl -sf "$origin/s/recording_status.json" | sed -E 's/.*"from":([0-9]+).*/\1/')
[ -n "$from" ] || { echo "no archive on the origin"; tail -20 "$work/up.log"; exit 1; }
from=$((from + 1))
cold=$((record - 70))
segs=$(curl -sf "$origin/s/archive-$from-$cold.m3u8" | grep '^s-')
n=$(echo "$segs" | wc -l)

# Cold misses, one tier at a time, on segments nobody asked for yet:
# origin (its archive), cache tier (asks the origin), edge (asks the cache tier).
# The M4F calls each edge miss causes are counted on the tiers it reaches
# (edge_m4f_requests_total by endpoint, read just before and after it).
# ttfb URL TIER: prints the time to the first byte, keeps the time to the
# last byte in $work/last.TIER.
ttfb() { local r; r=$(curl -s -o /dev/null -w '%{time_starttransfer} %{time_total}' "$1"); echo "${r% *}"; echo "${r#* }" >> "$work/last.$2"; }
m4f() { curl -sf "$1/metrics" | awk '/^edge_m4f_requests_total\{/ && match($0, /endpoint="[^"]*"/) {n[substr($0, RSTART + 10, RLENGTH - 11)] += $NF} END {for (k in n) print k, n[k]}'; }
declare -A calls
count() { # count SIGN TIER: add (SIGN 1) or subtract (-1) the tier's counters
  while read -r ep v; do calls["$2 $ep"]=$(( ${calls["$2 $ep"]:-0} + $1 * ${v%.*} )); done < <(m4f "$3")
}
i=0; o=(); c=(); e=()
for s in $segs; do
  case $((i % 3)) in
    0) o+=("$(ttfb "$origin/s/$s" o)") ;;
    1) c+=("$(ttfb "$cachen/s/$s" c)") ;;
    2) count -1 cache "$cachen"; count -1 origin "$origin"
       e+=("$(ttfb "$edge/s/$s" e)")
       count 1 cache "$cachen"; count 1 origin "$origin" ;;
  esac
  i=$((i + 1))
done
ne=${#e[@]}
line=""; total=0
for k in $(printf '%s\n' "${!calls[@]}" | tr ' ' '/' | sort); do
  v=${calls["${k/\// }"]}; [ "$v" -gt 0 ] || continue
  line="$line ${k/\// <- }:$(echo "scale=2; $v / $ne" | bc)"; total=$((total + v))
done
echo "M4F calls per edge cold miss (tier <- endpoint: calls, over $ne misses):$line; total $(echo "scale=2; $total / $ne" | bc)"
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)] * 1000}'; }
mo=$(med "${o[@]}"); mc=$(med "${c[@]}"); me=$(med "${e[@]}")
echo "cold segment, time to first byte (median of $((n / 3)) each): origin archive $mo ms, cache tier miss $mc ms, edge miss through cache tier $me ms"
echo "cold segment, time to last byte (medians): origin archive $(med $(cat "$work/last.o")) ms, cache tier miss $(med $(cat "$work/last.c")) ms, edge miss through cache tier $(med $(cat "$work/last.e")) ms"
echo "cold segment, ratio to the origin's: cache tier miss $(echo "scale=2; $mc / $mo" | bc), edge miss through cache tier $(echo "scale=2; $me / $mo" | bc) (target <= 2)"

# Warm the edge's disk cache with a 30 s range, then serve it hot.
dur=30
nexp=$(curl -sf "$origin/s/archive-$from-$dur.m3u8" | grep -c '^s-')
curl -sf -o /dev/null "$edge/s/archive-$from-$dur.mp4" || { echo "edge export failed:"; curl -s "$edge/s/archive-$from-$dur.mp4" | head -c 300; echo; grep -i "warn\|error" "$work/up.log" | tail; exit 1; }
seg=$(echo "$segs" | sed -n 2p)
run() { wrk -t2 -c"$conns" -d"${seconds}s" "$1" | awk '/Requests\/sec/ {r=$2} /Transfer\/sec/ {t=$2} /Non-2xx/ {print "ERRORS"} END {print r, t}'; }
read -r o_mp4 o_mp4t < <(run "$origin/s/archive-$from-$dur.mp4")
read -r e_mp4 e_mp4t < <(run "$edge/s/archive-$from-$dur.mp4")
read -r o_seg o_segt < <(run "$origin/s/$seg")
read -r e_seg e_segt < <(run "$edge/s/$seg")
ratio() { echo "scale=2; $1 / $2" | bc; }
echo "mp4 export of $dur s ($nexp segments): origin $o_mp4 req/s ($o_mp4t/s), edge hot $e_mp4 req/s ($e_mp4t/s), edge/origin $(ratio "$e_mp4" "$o_mp4")"
echo "archive segment: origin $o_seg req/s ($o_segt/s), edge hot $e_seg req/s ($e_segt/s), edge/origin $(ratio "$e_seg" "$o_seg")"
