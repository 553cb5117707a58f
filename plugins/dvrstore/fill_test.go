package dvrstore

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/edgedvr/edge/media"
)

// TestFillHoles writes the same archive twice, once in order and once
// newest first with holes filled in random order (as replication does),
// across hour boundaries, and checks both stores list the same segments
// and ranges, before and after a reopen.
func TestFillHoles(t *testing.T) {
	h := testInit(t, 1).Hash
	// Two and a half hours of 10 s segments with a gap, and one segment
	// that crosses an hour boundary.
	var starts []int64
	start := t0 + hourMs - 25000
	for i := 0; i < 900; i++ {
		if i == 400 {
			start += 30000
		}
		starts = append(starts, start)
		start += 10000
	}
	seg := func(s int64) media.Segment {
		return media.Segment{Start: s, Duration: 10000, InitHash: h, Data: segData(s, 100+int(s%997))}
	}

	inOrder := newStore(t)
	rootA := t.TempDir()
	open(t, inOrder, rootA, "cam1")
	for _, s := range starts {
		if _, err := inOrder.WriteSegment(ctx, "cam1", seg(s)); err != nil {
			t.Fatal(err)
		}
	}
	want := allSegments(t, inOrder, "cam1")
	wantRanges, _ := inOrder.Ranges(ctx, "cam1", 0, maxStart)

	filled := newStore(t)
	rootB := t.TempDir()
	open(t, filled, rootB, "cam1")
	// The newest first, then every other segment backwards, then the rest shuffled.
	order := []int{len(starts) - 1}
	for i := len(starts) - 2; i >= 0; i -= 2 {
		order = append(order, i)
	}
	var rest []int
	for i := len(starts) - 3; i >= 0; i -= 2 {
		rest = append(rest, i)
	}
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	order = append(order, rest...)
	for _, i := range order {
		if _, err := filled.WriteSegment(ctx, "cam1", seg(starts[i])); err != nil {
			t.Fatalf("fill %d: %v", starts[i], err)
		}
	}
	// Filling a segment twice is refused.
	if _, err := filled.WriteSegment(ctx, "cam1", seg(starts[10])); err == nil {
		t.Fatal("writing a stored segment again succeeded")
	}
	check := func(s *Store, when string) {
		t.Helper()
		got := allSegments(t, s, "cam1")
		if len(got) != len(want) {
			t.Fatalf("%s: %d segments, want %d", when, len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.Start != w.Start || g.Duration != w.Duration || g.Size != w.Size || g.Checksum != w.Checksum || g.InitHash != w.InitHash {
				t.Fatalf("%s: segment %d is %+v, want %+v", when, i, g, w)
			}
		}
		checkSegments(t, s, "cam1", got)
		if gr, _ := s.Ranges(ctx, "cam1", 0, maxStart); !slices.Equal(gr, wantRanges) {
			t.Fatalf("%s: ranges %v, want %v", when, gr, wantRanges)
		}
	}
	check(filled, "filled")
	filled.Close()
	for round := range 2 {
		s := newStore(t)
		open(t, s, rootB, "cam1")
		check(s, "reopened")
		s.Close()
		_ = round
	}
}
