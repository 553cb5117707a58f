package dvrstore

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
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

// TestDeleteSegments removes segments across an hour boundary and a whole
// hour, then replaces one with an overlapping segment, as replication does
// at a cross-replication seam, and checks the result before and after a
// reopen.
func TestDeleteSegments(t *testing.T) {
	h := testInit(t, 1).Hash
	root := t.TempDir()
	s := newStore(t)
	open(t, s, root, "cam1")
	// 10 s segments from 50 min past t0's hour to 2 h 10 min past it.
	var starts []int64
	for st := t0 + 50*60000; st < t0+130*60000; st += 10000 {
		starts = append(starts, st)
		write(t, s, "cam1", st, 10000, h)
	}
	// Everything from 55 min to 2 h 5 min: the rest of the first hour, all
	// of the second, the start of the third.
	from, to := t0+55*60000, t0+125*60000
	n, err := s.DeleteSegments(ctx, "cam1", from, to)
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, st := range starts {
		if st < from || st >= to {
			want = append(want, st)
		}
	}
	if n != len(starts)-len(want) {
		t.Fatalf("deleted %d, want %d", n, len(starts)-len(want))
	}
	// A replacement that overlaps where two deleted segments were.
	if _, err := s.WriteSegment(ctx, "cam1", media.Segment{Start: from + 5000, Duration: 10000, InitHash: h, Data: segData(1, 300)}); err != nil {
		t.Fatal(err)
	}
	want = append(want, from+5000)
	slices.Sort(want)
	check := func(s *Store, when string) {
		t.Helper()
		got := allSegments(t, s, "cam1")
		var starts []int64
		for _, g := range got {
			starts = append(starts, g.Start)
		}
		if !slices.Equal(starts, want) {
			t.Fatalf("%s: %d segments %v..., want %d", when, len(starts), starts[:min(3, len(starts))], len(want))
		}
		checkSegments(t, s, "cam1", got)
		rs, _ := s.Ranges(ctx, "cam1", 0, maxStart)
		if len(rs) != 3 {
			t.Fatalf("%s: ranges %v, want 3", when, rs)
		}
	}
	check(s, "after delete")
	s.Close()
	s2 := newStore(t)
	open(t, s2, root, "cam1")
	check(s2, "reopened")
	// Appending after the newest still works.
	write(t, s2, "cam1", starts[len(starts)-1]+10000, 10000, h)
}

// TestFillHolesConcurrently fills holes from eight writers at once, each
// segment offered by two of them (one must be refused), alongside live
// appends, and checks the archive is exactly the segments once each.
func TestFillHolesConcurrently(t *testing.T) {
	h := testInit(t, 1).Hash
	s := newStore(t)
	open(t, s, t.TempDir(), "cam1")
	const n = 400
	newest := t0 + n*3000
	write(t, s, "cam1", newest, 3000, h)
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := map[int64]int{}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 5))
			for _, i := range r.Perm(n) {
				if i%4 != w%4 {
					continue
				}
				start := t0 + int64(i)*3000
				if _, err := s.WriteSegment(ctx, "cam1", media.Segment{Start: start, Duration: 3000, InitHash: h, Data: segData(start, 200)}); err == nil {
					mu.Lock()
					stored[start]++
					mu.Unlock()
				} else if !strings.Contains(err.Error(), "overlaps") {
					t.Errorf("fill %d: %v", start, err)
				}
			}
		}()
	}
	// Live recording goes on meanwhile.
	for i := 1; i <= 20; i++ {
		write(t, s, "cam1", newest+int64(i)*3000, 3000, h)
	}
	wg.Wait()
	got := allSegments(t, s, "cam1")
	if len(got) != n+21 {
		t.Fatalf("%d segments, want %d", len(got), n+21)
	}
	for start, k := range stored {
		if k != 1 {
			t.Fatalf("segment %d stored %d times", start, k)
		}
	}
	checkSegments(t, s, "cam1", got)
}
