package dvrstore

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgedvr/edge/sdk"
)

// fakeClock is a settable clock for retention.
type fakeClock struct{ ms atomic.Int64 }

func (c *fakeClock) now() time.Time { return time.UnixMilli(c.ms.Load()) }

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fillDur is the segment duration of fill: long, so that tests write few
// files (a file create costs a third of a millisecond here).
const fillDur = 30000

// fill writes fillDur segments from start for hours hours and returns the end.
func fill(t *testing.T, s *Store, name string, start int64, hours int, hash string) int64 {
	t.Helper()
	for i := int64(0); i < int64(hours)*hourMs/fillDur; i++ {
		write(t, s, name, start, fillDur, hash)
		start += fillDur
	}
	return start
}

func TestRetentionByDepth(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cam1")
	h := testInit(t, 1).Hash
	s := newStore(t)
	open(t, s, root, "cam1")
	end := fill(t, s, "cam1", t0, 5, h)
	s.Close()

	clock := &fakeClock{}
	clock.ms.Store(end)
	s2 := New(nil)
	defer s2.Close()
	s2.Now = clock.now
	s2.CleanInterval = 10 * time.Millisecond
	// Depth 2.5 h: at open, hours 0-1 go whole and half of hour 2.
	cfg := sdk.StreamConfig{Stream: "cam1", Root: root, Depth: 150 * time.Minute}
	if err := s2.OpenStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	cutoff := end - 150*60000
	segs := allSegments(t, s2, "cam1")
	if segs[0].End() < cutoff || segs[0].Start >= cutoff {
		t.Fatalf("oldest kept segment %d-%d, cutoff %d", segs[0].Start, segs[0].End(), cutoff)
	}
	if segs[len(segs)-1].End() != end {
		t.Fatal("newest segment deleted")
	}
	checkSegments(t, s2, "cam1", segs)
	for _, gone := range []int64{t0, t0 + hourMs} {
		if _, err := os.Stat(hourDir(dir, gone)); !os.IsNotExist(err) {
			t.Fatalf("hour %s still there: %v", hourDir(dir, gone), err)
		}
	}
	if names, _ := readDirNames(hourDir(dir, t0+2*hourMs)); len(names) != 61+2 {
		t.Fatalf("half hour holds %d files, want 61 segments (the one ending at the cutoff stays) + index + summary", len(names))
	}

	// Time passes: the ticker removes the rest of hour 2 and hour 3, and the
	// empty day directory goes with the last hour of the day.
	clock.ms.Store(end + 2*hourMs)
	waitFor(t, "retention on the ticker", func() bool {
		segs, _ := s2.Segments(ctx, "cam1", 0, maxStart)
		return len(segs) > 0 && segs[0].Start == end+2*hourMs-150*60000-fillDur
	})
	waitFor(t, "hour 3 to be removed", func() bool {
		_, err := os.Stat(hourDir(dir, t0+3*hourMs))
		return os.IsNotExist(err)
	})

	// Everything expired: the stream still refuses to go back in time.
	clock.ms.Store(end + 10*hourMs)
	waitFor(t, "all expired", func() bool {
		segs, _ := s2.Segments(ctx, "cam1", 0, maxStart)
		return len(segs) == 0
	})
	// The listing empties before the cleaner removes the directories.
	waitFor(t, "the empty year directory to be removed", func() bool {
		_, err := os.Stat(filepath.Join(dir, "2024"))
		return os.IsNotExist(err)
	})
	if _, err := s2.WriteSegment(ctx, "cam1", segOf(end-3000, h)); err == nil {
		t.Fatal("write before the last end succeeded after retention")
	}
	write(t, s2, "cam1", end, 3000, h)
}

func TestRetentionBySize(t *testing.T) {
	root := t.TempDir()
	h := testInit(t, 1).Hash
	s := newStore(t)
	open(t, s, root, "cam1")
	fill(t, s, "cam1", t0, 3, h)
	all := allSegments(t, s, "cam1")
	var total int64
	for _, sg := range all {
		total += sg.Size
	}
	s.Close()

	tests := []struct {
		name    string
		maxSize int64
	}{
		{"a third", total / 3},
		{"one byte less", total - 1},
		{"everything fits", total},
		{"smaller than one segment", 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(nil)
			defer s.Close()
			if err := s.OpenStream(ctx, sdk.StreamConfig{Stream: "cam1", Root: root, MaxSize: tc.maxSize}); err != nil {
				t.Fatal(err)
			}
			segs := allSegments(t, s, "cam1")
			var kept int64
			for _, sg := range segs {
				kept += sg.Size
			}
			// The oldest went first: what is left is a suffix of what was
			// there, and one segment more would not have fitted.
			if kept > tc.maxSize {
				t.Fatalf("kept %d bytes, max %d", kept, tc.maxSize)
			}
			if len(segs) > 0 && segs[len(segs)-1] != all[len(all)-1] {
				t.Fatal("newest segment deleted")
			}
			if n := len(segs); n < len(all) && kept+all[len(all)-n-1].Size <= tc.maxSize {
				t.Fatalf("deleted more than needed: kept %d, max %d", kept, tc.maxSize)
			}
			checkSegments(t, s, "cam1", segs)
			all = segs
		})
	}
}

// TestRetentionIsolation runs retention on cam1 while cam10 and cam1x share
// the root: only cam1's files may go.
func TestRetentionIsolation(t *testing.T) {
	root := t.TempDir()
	h := testInit(t, 1).Hash
	s := newStore(t)
	for _, name := range []string{"cam1", "cam10", "cam1x"} {
		open(t, s, root, name)
		fill(t, s, name, t0, 2, h)
	}
	keep := map[string][]sdk.SegmentInfo{}
	for _, name := range []string{"cam10", "cam1x"} {
		keep[name] = allSegments(t, s, name)
	}
	// A file of someone else beside the streams.
	other := filepath.Join(root, "notes.txt")
	os.WriteFile(other, []byte("x"), 0o644)
	s.Close()

	clock := &fakeClock{}
	clock.ms.Store(t0 + 100*hourMs)
	s2 := newStore(t)
	s2.Now = clock.now
	if err := s2.OpenStream(ctx, sdk.StreamConfig{Stream: "cam1", Root: root, Depth: time.Hour, MaxSize: 1}); err != nil {
		t.Fatal(err)
	}
	if n := len(allSegments(t, s2, "cam1")); n != 0 {
		t.Fatalf("cam1 kept %d segments", n)
	}
	for name, want := range keep {
		open(t, s2, root, name)
		got := allSegments(t, s2, name)
		if len(got) != len(want) {
			t.Fatalf("%s: %d segments, want %d", name, len(got), len(want))
		}
		checkSegments(t, s2, name, got)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cam1", initDirName)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenTwiceIsRefused(t *testing.T) {
	root := t.TempDir()
	s1 := newStore(t)
	open(t, s1, root, "cam1")
	s2 := newStore(t)
	if err := s2.OpenStream(ctx, sdk.StreamConfig{Stream: "cam1", Root: root}); err == nil {
		t.Fatal("a second store opened the same archive")
	}
	s1.Close()
	open(t, s2, root, "cam1")
	// Reopening in the same store reconfigures it.
	open(t, s2, root, "cam1")
}
