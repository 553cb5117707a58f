#!/usr/bin/env bash
# Side-by-side CPU and memory cost of capturing + recording live MPEG-TS over
# UDP: edge vs mediamtx, one server at a time, alternating rounds. (From
# shared/peers/mediamtx/ingest-side-by-side.sh, plus PSS: the RSS sum counts
# the pages of the edge binary that its three processes share three times;
# the PSS sum counts them once.) mediamtx is built outside the project, from
# its public repository; measured: v1.20.1-6-g3e09466c (commit 3e09466c):
#   git archive 3e09466c | tar -x -C /tmp/mtx && cd /tmp/mtx &&
#   echo v1.20.1-6-g3e09466c > internal/core/VERSION &&
#   touch internal/servers/hls/hls.min.js && go build -o mediamtx .
# (HLS is off below, so the player files its go generate fetches are not needed.)
#
#   bench/ingest-sbs.sh EDGE_BIN MEDIAMTX_BIN
#
# Env knobs (defaults): KS="1 4 16" ROUNDS=2 WARMUP=10 WINDOW=60 SERVERS="edge mtx"
#   STAGGER=0: seconds over which the K senders start, evenly spaced. At 0
#   they start together, so every stream cuts its segments at the same
#   moments (the worst case for memory); independent encoders do not, and
#   STAGGER of one segment's duration spreads them (4 s for edge here: 3 s
#   asked, cut at the next of the source's keyframes, every 2 s).
#   WORK=~/.cache/ingest-sbs (src.ts is made there once and reused)
#   MTXREC=$WORK/mtxrec   EDGEREC=$WORK/edgerec   BASE_PORT=31000
#
# Per run: start server, start K ffmpeg senders (-re -stream_loop -1 -c copy),
# wait WARMUP s, then over WINDOW s sum utime+stime of the server process and
# all its descendants (edge: host + `edge plugin udp|dvrstore`), sample the
# summed VmRSS every second (peak), and at the end sum VmHWM. Verifies each
# stream's recording dir grew during the window. Only kills PIDs it started
# (and, as a fallback, descendants of the server PID it started).
# Binds 127.0.0.1 only. Results: $WORK/results.tsv, summary on stdout;
# per run $WORK/run-SERVER-kK-rR/ keeps config, logs and rss.tsv (VmRSS kB of
# each process, every second of the window). The "procs:" line after each
# run gives, per process, VmRSS at the end, VmHWM and CPU s over the window.
set -euo pipefail

edge_bin=$(readlink -f "${1:?usage: $0 EDGE_BIN MEDIAMTX_BIN}")
mtx_bin=$(readlink -f "${2:?usage: $0 EDGE_BIN MEDIAMTX_BIN}")
ks=${KS:-"1 4 16"}
servers=${SERVERS:-"edge mtx"}
rounds=${ROUNDS:-2}
warmup=${WARMUP:-10}
window=${WINDOW:-60}
stagger=${STAGGER:-0}
work=${WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/ingest-sbs}
mtxrec=${MTXREC:-$work/mtxrec}
edgerec=${EDGEREC:-$work/edgerec}
base=${BASE_PORT:-31000}
hz=$(getconf CLK_TCK)
mkdir -p "$work"
src=$work/src.ts
res=$work/results.tsv

server_pid=""
sender_pids=()
cleanup() {
  local p
  for p in "${sender_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$server_pid" ]; then stop_server; fi
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -s "$src" ]; then
  echo "encoding 180 s source $src ..." >&2
  ffmpeg -v error -nostdin -y -f lavfi -i testsrc2=size=1280x720:rate=25 -f lavfi -i sine=frequency=440 -t 180 \
    -c:v libx264 -preset veryfast -b:v 4M -maxrate 4M -bufsize 8M -g 50 -pix_fmt yuv420p \
    -c:a aac -b:a 128k -f mpegts "$src"
fi

# --- /proc helpers (bash builtins only, so the sampler itself stays cheap) ---
# descendants PID: PID and every process below it, by scanning /proc/*/stat.
tree() {
  local root=$1 f line rest pid ppid
  local -A kids=()
  for f in /proc/[0-9]*/stat; do
    { read -r line < "$f"; } 2>/dev/null || continue # the process may be gone
    pid=${line%% *}; rest=${line##*) }; rest=${rest#* }; ppid=${rest%% *}
    kids[$ppid]+="$pid "
  done
  local queue=("$root") out=() p
  while ((${#queue[@]})); do
    p=${queue[0]}; queue=("${queue[@]:1}")
    [ -e "/proc/$p/stat" ] || continue
    out+=("$p")
    for f in ${kids[$p]:-}; do queue+=("$f"); done
  done
  echo "${out[@]}"
}
ticks() { # sum utime+stime of the given pids
  local t=0 p line; local -a f
  for p in "$@"; do
    read -r line < "/proc/$p/stat" 2>/dev/null || continue
    read -r -a f <<< "${line##*) }"
    t=$((t + f[11] + f[12]))
  done
  echo "$t"
}
statuskb() { # KEY pids...: sum of KEY (VmRSS, VmHWM) in kB
  local key=$1 t=0 p k v _; shift
  for p in "$@"; do
    while read -r k v _; do
      if [ "$k" = "$key:" ]; then t=$((t + v)); break; fi
    done < "/proc/$p/status" 2>/dev/null || true
  done
  echo "$t"
}
psskb() { # sum of Pss (kB) of the given pids, from smaps_rollup
  local t=0 p k v _
  for p in "$@"; do
    while read -r k v _; do
      if [ "$k" = "Pss:" ]; then t=$((t + v)); break; fi
    done < "/proc/$p/smaps_rollup" 2>/dev/null || true
  done
  echo "$t"
}
udp_rcvbuf_errors() { # from /proc/net/snmp Udp: RcvbufErrors
  local hdr=() val=() line i
  while read -r line; do
    case $line in Udp:\ InDatagrams*) read -r -a hdr <<< "$line";; Udp:\ [0-9]*) read -r -a val <<< "$line";; esac
  done < /proc/net/snmp
  for i in "${!hdr[@]}"; do [ "${hdr[$i]}" = RcvbufErrors ] && echo "${val[$i]}" && return; done
  echo 0
}
sys_busy() { local a; read -r -a a < /proc/stat; echo "$((a[1]+a[2]+a[3]+a[6]+a[7])) $((a[4]+a[5]))"; }
now() { echo "${EPOCHREALTIME/./}"; } # microseconds
dirbytes() { local v; v=$(du -sb "$1" 2>/dev/null | cut -f1 || true); echo "${v:-0}"; }

stop_server() {
  local pids p i
  pids=$(tree "$server_pid")
  kill -TERM "$server_pid" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  sleep 0.5
  for p in $pids; do # leftover plugin children of the server we started
    [ "$p" = "$server_pid" ] && continue
    kill -0 "$p" 2>/dev/null && { echo "warn: killing leftover child $p" >&2; kill -KILL "$p" 2>/dev/null || true; }
  done
  server_pid=""
}

write_edge_topology() { # K FILE
  local k=$1 i
  {
    echo "[[node]]"
    echo "name = \"bench\""
    echo "listen = \"127.0.0.1:$base\""
    for i in $(seq 1 "$k"); do
      echo "[[node.stream]]"
      echo "name = \"cam$i\""
      echo "inputs = [\"udp://127.0.0.1:$((base + i))\"]"
      echo "segment_duration = \"3s\""
      echo "dvr = { root = \"$edgerec\", depth = \"1h\" }"
    done
  } > "$2"
}
write_mtx_config() { # K FILE
  local k=$1 i
  {
    cat <<EOF
logLevel: info
api: false
metrics: false
pprof: false
playback: false
rtsp: false
rtmp: false
hls: false
webrtc: false
srt: false
moq: false
pathDefaults:
  record: yes
  recordPath: $mtxrec/%path/%Y-%m-%d_%H-%M-%S-%f
  recordFormat: fmp4
  recordPartDuration: 1s
  recordSegmentDuration: 60s
  recordDeleteAfter: 0s
paths:
EOF
    for i in $(seq 1 "$k"); do
      echo "  cam$i:"
      echo "    source: udp+mpegts://127.0.0.1:$((base + i))"
    done
  } > "$2"
}

run_one() { # SERVER K ROUND
  local srv=$1 k=$2 round=$3 dir i recroot
  dir=$work/run-$srv-k$k-r$round; rm -rf "$dir"; mkdir -p "$dir"
  rm -rf "$mtxrec" "$edgerec"
  if [ "$srv" = edge ]; then
    recroot=$edgerec
    write_edge_topology "$k" "$dir/topology.toml"
    "$edge_bin" run "$dir/topology.toml" > "$dir/server.log" 2>&1 &
  else
    recroot=$mtxrec
    write_mtx_config "$k" "$dir/mediamtx.yml"
    (cd "$dir" && exec "$mtx_bin" "$dir/mediamtx.yml") > "$dir/server.log" 2>&1 &
  fi
  server_pid=$!
  sleep 1
  sender_pids=()
  for i in $(seq 1 "$k"); do
    if [ "$i" -gt 1 ] && [ "$stagger" != 0 ]; then sleep "$(echo "scale=3; $stagger / $k" | bc)"; fi
    ffmpeg -v error -nostdin -re -stream_loop -1 -i "$src" -c copy -flush_packets 0 -f mpegts \
      "udp://127.0.0.1:$((base + i))?pkt_size=1316" 2> "$dir/sender$i.log" &
    sender_pids+=($!)
  done
  sleep "$warmup"

  local pids0 pids1 t0 t1 w0 w1 e0 e1 s0 s1 st0 st1 b0=() b1=() peak=0 rss nsamp=0 rsssum=0 pss ppeak=0
  pids0=$(tree "$server_pid")
  for i in $(seq 1 "$k"); do b0+=("$(dirbytes "$recroot/cam$i")"); done
  e0=$(udp_rcvbuf_errors); st0=($(sys_busy)); s0=$(ticks "${sender_pids[@]}")
  w0=$(now); t0=$(ticks $pids0)
  local -A pt0=(); local p0; for p0 in $pids0; do pt0[$p0]=$(ticks "$p0"); done
  local deadline=$((w0 + window * 1000000)) next=$w0 pids
  while :; do
    pids=$(tree "$server_pid")
    rss=$(statuskb VmRSS $pids); ((rss > peak)) && peak=$rss
    pss=$(psskb $pids); ((pss > ppeak)) && ppeak=$pss
    { printf '%s' "$(( ($(now) - w0) / 1000000 ))"; for p in $pids; do printf '\t%s:%s' "$p" "$(statuskb VmRSS "$p")"; done; echo; } >> "$dir/rss.tsv"
    rsssum=$((rsssum + rss)); nsamp=$((nsamp + 1))
    next=$((next + 1000000)); ((next > deadline)) && next=$deadline
    local n; n=$(now); ((n >= deadline)) && break
    local d=$((next - n)); ((d > 0)) && sleep "$(printf '%d.%06d' $((d / 1000000)) $((d % 1000000)))"
  done
  pids1=$(tree "$server_pid")
  t1=$(ticks $pids1); w1=$(now)
  s1=$(ticks "${sender_pids[@]}"); st1=($(sys_busy)); e1=$(udp_rcvbuf_errors)
  local hwm; hwm=$(statuskb VmHWM $pids1)
  for i in $(seq 1 "$k"); do b1+=("$(dirbytes "$recroot/cam$i")"); done
  [ "$pids0" = "$pids1" ] || echo "warn: process set changed during window: [$pids0] -> [$pids1]" >&2
  local extra=""
  if [ "$srv" = edge ]; then
    extra="segs=$(curl -s "127.0.0.1:$base/metrics" | awk '/^edge_dvr_segments_written_total/ {s+=$2} END {print s+0}')"
    curl -s "127.0.0.1:$base/cam1/recording_status.json" > "$dir/recording_status.json" || true
  else
    extra="files=$(find "$recroot" -type f | wc -l)"
  fi
  local procs; procs=$(for p in $pids1; do echo -n "$p $(statuskb VmRSS "$p")kB hwm=$(statuskb VmHWM "$p")kB cpu=$(echo "scale=2; ($(ticks "$p") - ${pt0[$p]:-0}) / $hz" | bc)s "; tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-50; echo -n ';'; done | tr '\n' ' ' || true)
  [ "$srv" = edge ] && { curl -s "127.0.0.1:$base/metrics" > "$dir/metrics.txt" || true; }

  for p in "${sender_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${sender_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  sender_pids=()
  stop_server
  du -sb "$recroot"/* > "$dir/recorded_bytes.txt" 2>/dev/null || true
  rm -rf "$mtxrec" "$edgerec"

  local secs cpu per grow=() okall=1 minmb
  secs=$(echo "scale=3; ($w1 - $w0) / 1000000" | bc)
  cpu=$(echo "scale=3; ($t1 - $t0) / $hz" | bc)
  per=$(echo "scale=3; $cpu / $k / ($secs / 60)" | bc)
  for i in $(seq 0 $((k - 1))); do
    grow+=($(( (b1[i] - b0[i]) / 1000000 )))
    ((b1[i] - b0[i] > 1000000)) || okall=0
  done
  local sysb=$(( st1[0] - st0[0] )) sysi=$(( st1[1] - st0[1] ))
  local sysbusy; sysbusy=$(echo "scale=1; 100 * $sysb / ($sysb + $sysi)" | bc)
  local sendcpu; sendcpu=$(echo "scale=2; ($s1 - $s0) / $hz" | bc)
  local line
  line=$(printf '%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t%s\t%s\t%s\t%d\t%.1f\t%.2f\t%d' \
    "$srv" "$k" "$round" "$secs" "$cpu" "$per" $((peak / 1024)) $((rsssum / nsamp / 1024)) $((hwm / 1024)) \
    "$(IFS=,; echo "${grow[*]}")" "$okall" "$extra" $((e1 - e0)) "$sysbusy" "$sendcpu" $((ppeak / 1024)))
  echo "$line" >> "$res"
  echo "$line  procs: $procs" >&2
}

printf 'server\tK\tround\twindow_s\tcpu_s\tcpu_s_per_stream_min\tpeak_rss_mb\tmean_rss_mb\tsum_vmhwm_mb\trec_growth_mb_per_stream\trecorded_ok\tcheck\tudp_rcvbuf_err\tsys_busy_pct\tsenders_cpu_s\tpeak_pss_mb\n' > "$res"
echo "edge: $edge_bin ($("$edge_bin" version 2>&1 | head -1))" >&2
echo "mediamtx: $mtx_bin ($("$mtx_bin" --version 2>&1 | head -1))" >&2
for k in $ks; do
  for r in $(seq 1 "$rounds"); do
    for srv in $servers; do
      run_one "$srv" "$k" "$r"
      sleep 2
    done
  done
done

echo
column -t -s $'\t' "$res"
echo
# median per server/K, ratio edge/mtx
awk -F'\t' 'NR>1 { key=$2; n[$1,key]++; c[$1,key,n[$1,key]]=$6; r[$1,key,n[$1,key]]=$7; h[$1,key,n[$1,key]]=$9; q[$1,key,n[$1,key]]=$16; ks[key]=1 }
function med(a, s, k, m,   i, j, t, v) { m=n[s,k]; for (i=1;i<=m;i++) v[i]=a[s,k,i];
  for (i=1;i<=m;i++) for (j=i+1;j<=m;j++) if (v[j]<v[i]) { t=v[i]; v[i]=v[j]; v[j]=t }
  return (m%2) ? v[(m+1)/2] : (v[m/2]+v[m/2+1])/2 }
END { for (k in ks) {
  ce=med(c,"edge",k); cm=med(c,"mtx",k); re=med(r,"edge",k); rm=med(r,"mtx",k); he=med(h,"edge",k); hm=med(h,"mtx",k); qe=med(q,"edge",k); qm=med(q,"mtx",k);
  printf "K=%s  median cpu s/stream-min: edge %.3f mtx %.3f ratio %s | median peak RSS MB: edge %d mtx %d ratio %s | median sum VmHWM MB: edge %d mtx %d ratio %s | median peak PSS MB: edge %d mtx %d ratio %s\n", k, ce, cm, ratio(ce,cm), re, rm, ratio(re,rm), he, hm, ratio(he,hm), qe, qm, ratio(qe,qm) } }
function ratio(a, b) { return (a > 0 && b > 0) ? sprintf("%.2f", a / b) : "NA" }' "$res" | sort
