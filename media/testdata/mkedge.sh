#!/bin/sh
# mkedge.sh makes edge.ts, the committed input of the segmenter's golden
# test (TestSegmenterGolden). It was run once; the test reads the file and
# never runs this. Needs ffmpeg, dd and head.
#
# edge.ts is, in order: 333 random bytes; 5 s of 160x120 H.264 + AAC whose
# 33-bit PTS wraps about 2 s in; 1000 random bytes; 4 s more whose clock
# starts 1000 s later (a timestamp jump), with its 40th TS packet dropped (a
# continuity-counter error).
set -eu
out=${1:-edge.ts}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gen() { # gen seconds offset file
	ffmpeg -v error -y -f lavfi -i "testsrc2=size=160x120:rate=25" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
		-t "$1" -c:v libx264 -preset ultrafast -g 25 -b:v 100k -pix_fmt yuv420p -c:a aac -b:a 32k \
		-output_ts_offset "$2" -f mpegts "$3"
}
gen 5 95440 "$tmp/a.ts"
gen 4 1000 "$tmp/b.ts"
head -c 333 /dev/urandom >"$out"
cat "$tmp/a.ts" >>"$out"
head -c 1000 /dev/urandom >>"$out"
dd if="$tmp/b.ts" bs=188 count=39 status=none >>"$out"
dd if="$tmp/b.ts" bs=188 skip=40 status=none >>"$out"
