// Package dvrstore holds the local-disk DVR archive: atomic segment writes, a per-hour index, ranges and retention by depth and size.
package dvrstore

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// The on-disk path codec. A segment of stream S under root R lives at
//
//	R/S/YYYY/MM/DD/HH/MM-SS.mmm_<durms>_<inithash>.m4s
//
// (UTC, the hour of its start), so the file name alone gives its start,
// duration and init hash and an index can be rebuilt from names.

const (
	hourMs = int64(time.Hour / time.Millisecond)

	// maxSegmentDuration is the longest segment accepted: a segment never
	// reaches past the hour after the one it starts in.
	maxSegmentDuration = hourMs
	// maxStart is the last millisecond of year 9999: paths use 4-digit years.
	maxStart = int64(253402300799999)

	initDirName  = "init"
	tmpDirName   = ".tmp"
	lockName     = ".lock"
	indexName    = "index"
	summaryName  = "summary"
	segmentExt   = ".m4s"
	initExt      = ".mp4"
	initMetaExt  = ".json"
	maxHashLen   = 64
	maxDurDigits = 7 // maxSegmentDuration has 7 digits
)

// hourOf returns the start of the UTC hour that holds ms (ms >= 0).
func hourOf(ms int64) int64 { return ms - ms%hourMs }

// hourParts returns the directory names of an hour: year, month, day, hour.
func hourParts(hour int64) [4]string {
	t := time.UnixMilli(hour).UTC()
	return [4]string{
		pad(int64(t.Year()), 4),
		pad(int64(t.Month()), 2),
		pad(int64(t.Day()), 2),
		pad(int64(t.Hour()), 2),
	}
}

// hourDir is the directory of one hour of a stream.
func hourDir(streamDir string, hour int64) string {
	p := hourParts(hour)
	return filepath.Join(streamDir, p[0], p[1], p[2], p[3])
}

// parseHourParts is the inverse of hourParts: it accepts only canonical names
// of a real UTC date and hour.
func parseHourParts(year, month, day, hour string) (int64, bool) {
	if len(year) != 4 || len(month) != 2 || len(day) != 2 || len(hour) != 2 {
		return 0, false
	}
	y, ok1 := parseDigits(year)
	m, ok2 := parseDigits(month)
	d, ok3 := parseDigits(day)
	h, ok4 := parseDigits(hour)
	if !ok1 || !ok2 || !ok3 || !ok4 || m < 1 || m > 12 || d < 1 || d > 31 || h > 23 {
		return 0, false
	}
	t := time.Date(int(y), time.Month(m), int(d), int(h), 0, 0, 0, time.UTC)
	if t.Year() != int(y) || int64(t.Month()) != m || int64(t.Day()) != d || t.UnixMilli() < 0 {
		return 0, false
	}
	return t.UnixMilli(), true
}

// segmentName is the file name of a segment inside its hour directory.
func segmentName(start, dur int64, initHash string) string {
	off := start - hourOf(start)
	b := make([]byte, 0, 32+len(initHash))
	b = appendPad(b, off/60000, 2)
	b = append(b, '-')
	b = appendPad(b, off/1000%60, 2)
	b = append(b, '.')
	b = appendPad(b, off%1000, 3)
	b = append(b, '_')
	b = strconv.AppendInt(b, dur, 10)
	b = append(b, '_')
	b = append(b, initHash...)
	b = append(b, segmentExt...)
	return string(b)
}

// segmentPath is the absolute path of a segment file.
func segmentPath(streamDir string, start, dur int64, initHash string) string {
	return filepath.Join(hourDir(streamDir, hourOf(start)), segmentName(start, dur, initHash))
}

// parseSegmentName parses a segment file name found in the directory of the
// given hour. Only the exact form segmentName produces is accepted.
func parseSegmentName(hour int64, name string) (start, dur int64, initHash string, err error) {
	const head = len("MM-SS.mmm_")
	if len(name) < head+len("1_a.m4s") || name[2] != '-' || name[5] != '.' || name[9] != '_' {
		return 0, 0, "", fmt.Errorf("parse segment name %q: not MM-SS.mmm_DUR_HASH.m4s", name)
	}
	mm, ok1 := parseDigits(name[0:2])
	ss, ok2 := parseDigits(name[3:5])
	ms, ok3 := parseDigits(name[6:9])
	if !ok1 || !ok2 || !ok3 || mm > 59 || ss > 59 {
		return 0, 0, "", fmt.Errorf("parse segment name %q: bad minute, second or millisecond", name)
	}
	rest := name[head:]
	if len(rest) < len(segmentExt) || rest[len(rest)-len(segmentExt):] != segmentExt {
		return 0, 0, "", fmt.Errorf("parse segment name %q: no %s suffix", name, segmentExt)
	}
	rest = rest[:len(rest)-len(segmentExt)]
	i := 0
	for i < len(rest) && rest[i] != '_' {
		i++
	}
	if i == len(rest) {
		return 0, 0, "", fmt.Errorf("parse segment name %q: no init hash", name)
	}
	dur, ok := parseCanonical(rest[:i], maxDurDigits)
	if !ok || dur < 1 || dur > maxSegmentDuration {
		return 0, 0, "", fmt.Errorf("parse segment name %q: bad duration", name)
	}
	initHash = rest[i+1:]
	if !validHash(initHash) {
		return 0, 0, "", fmt.Errorf("parse segment name %q: bad init hash", name)
	}
	start = hour + mm*60000 + ss*1000 + ms
	return start, dur, initHash, nil
}

// validHash reports whether h is a safe content hash: 1 to 64 lowercase hex
// digits. Hashes become file names, so nothing else is accepted.
func validHash(h string) bool {
	if len(h) == 0 || len(h) > maxHashLen {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// parseDigits parses a fixed-width run of ASCII digits.
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// parseCanonical parses a non-negative decimal with no sign and no leading
// zero, of at most maxDigits digits.
func parseCanonical(s string, maxDigits int) (int64, bool) {
	if s == "" || len(s) > maxDigits || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	return parseDigits(s)
}

func pad(v int64, width int) string { return string(appendPad(nil, v, width)) }

func appendPad(b []byte, v int64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
