package dvrstore

import (
	"strings"
	"testing"
)

// FuzzParseSegmentName checks that the path codec accepts only what it
// writes: a parsed name formats back to itself and stays in its hour.
func FuzzParseSegmentName(f *testing.F) {
	for _, s := range []string{
		"00-00.000_3000_0123456789abcdef.m4s",
		"59-59.999_3600000_a.m4s",
		"12-34.567_1_ff.m4s",
		"12-34.567_01_ff.m4s",
		"60-00.000_3000_ab.m4s",
		"00-00.000_3000_AB.m4s",
		"00-00.000_3000_../x.m4s",
		"00-00.000__ab.m4s",
		"00-00.000_3000_ab.mp4",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		start, dur, hash, err := parseSegmentName(t0, name)
		if err != nil {
			return
		}
		if hourOf(start) != t0 || dur < 1 || dur > maxSegmentDuration || !validHash(hash) {
			t.Fatalf("%q parsed to %d %d %q", name, start, dur, hash)
		}
		if got := segmentName(start, dur, hash); got != name {
			t.Fatalf("%q formats back as %q", name, got)
		}
		if strings.ContainsAny(name, "/\\") {
			t.Fatalf("%q with a separator accepted", name)
		}
	})
}

// FuzzIndexLine checks that the index parser never panics, and that a line
// it accepts formats back to itself, so a damaged line is either rejected
// or read exactly.
func FuzzIndexLine(f *testing.F) {
	for _, s := range []string{
		"1710046800000 3000 1500000 0123456789abcdef 89abcdef",
		"0 1 0 a 00000000",
		"1710046800000 3000 1500000 0123456789abcdef 89abcde",
		"1710046800000 03000 1500000 0123456789abcdef 89abcdef",
		"1710046800000 3000 -1 0123456789abcdef 89abcdef",
		"1710046800000  3000 1500000 0123456789abcdef 89abcdef",
		"1710046800000 3000 1500000 0123456789abcdef 89abcdef extra",
		"garbage",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, err := parseIndexLine(line)
		if err != nil {
			return
		}
		if got := string(appendIndexLine(nil, e)); got != line+"\n" {
			t.Fatalf("%q formats back as %q", line, got)
		}
		// A whole index made of this line, twice, parses without panic.
		segs, bad, _ := parseIndex(line+"\n"+line+"\n"+line[:len(line)/2], hourOf(e.start))
		if len(segs)+bad != 2 {
			t.Fatalf("%d segments and %d bad lines from two lines", len(segs), bad)
		}
	})
}

// FuzzSummary checks that the summary parser accepts only what
// formatSummary writes.
func FuzzSummary(f *testing.F) {
	f.Add(string(formatSummary(hourSummary{indexSize: 100, tol: 250, count: 2, bytes: 10, spans: []span{{1, 3000, 3000}, {4000, 7000, 3000}}})))
	f.Add(string(formatSummary(hourSummary{tol: 250})))
	f.Add("dvrstore-summary 1 5 250 1 1 1\n1 2 1\n00000000\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, data string) {
		s, err := parseSummary(data)
		if err != nil {
			return
		}
		if got := string(formatSummary(s)); got != data {
			t.Fatalf("%q formats back as %q", data, got)
		}
	})
}

// FuzzIndex checks that a whole hour's index, lines in any order, parses
// into segments of that hour in order of start without overlaps, and that
// what it keeps formats and parses back to the same.
func FuzzIndex(f *testing.F) {
	const hour = t0
	f.Add(string(appendIndexLine(appendIndexLine(nil, segEntry{start: hour + 3000, dur: 3000, size: 10, hash: "ab", sum: 1}),
		segEntry{start: hour, dur: 3000, size: 10, hash: "ab", sum: 2})))
	f.Add(string(appendIndexLine(appendIndexLine(nil, segEntry{start: hour, dur: 3000, size: 10, hash: "ab", sum: 1}),
		segEntry{start: hour + 1000, dur: 3000, size: 10, hash: "cd", sum: 2})) + "12")
	f.Add("")
	f.Fuzz(func(t *testing.T, data string) {
		segs, bad, _ := parseIndex(data, hour)
		if lines := strings.Count(data, "\n"); len(segs)+bad != lines {
			t.Fatalf("%d segments and %d bad lines from %d lines", len(segs), bad, lines)
		}
		var again []byte
		for i, e := range segs {
			if hourOf(e.start) != hour {
				t.Fatalf("segment %d outside the hour", e.start)
			}
			if i > 0 && e.start < segs[i-1].end() {
				t.Fatalf("segment %d overlaps %d", e.start, segs[i-1].start)
			}
			again = appendIndexLine(again, e)
		}
		back, bad2, torn := parseIndex(string(again), hour)
		if bad2 != 0 || torn || len(back) != len(segs) {
			t.Fatalf("kept segments do not parse back: %d of %d, %d bad", len(back), len(segs), bad2)
		}
	})
}
