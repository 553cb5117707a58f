package dvrstore

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgedvr/edge/sdk"
)

// TestRetentionOfFutureSegments: segments that start more than MaxFuture
// after the wall clock go, in a stream with no depth too, at open and then
// by the cleaner; those within MaxFuture stay, and so does every segment of
// a neighbour stream dated as far ahead; afterwards recording appends after
// the newest remaining segment, not after the deleted ones.
func TestRetentionOfFutureSegments(t *testing.T) {
	root := t.TempDir()
	h := testInit(t, 1).Hash
	clock := &fakeClock{}
	now := t0 + hourMs
	clock.ms.Store(now)
	day := MaxFuture.Milliseconds()

	s := newStore(t)
	open(t, s, root, "cam1")
	open(t, s, root, "cam10")
	var kept []int64
	for start := t0; start < now; start += fillDur {
		write(t, s, "cam1", start, fillDur, h)
		kept = append(kept, start)
	}
	// Within MaxFuture (a clock stepped back by less than a day): kept.
	for _, start := range []int64{now + hourMs, now + day - fillDur, now + day} {
		write(t, s, "cam1", start, fillDur, h)
		kept = append(kept, start)
	}
	// Beyond it: deleted, whole hours and part of one.
	future := []int64{now + day + fillDur, now + day + 3*fillDur, now + 3*day, now + 3*day + hourMs}
	for _, start := range future {
		write(t, s, "cam1", start, fillDur, h)
	}
	write(t, s, "cam10", now+3*day, fillDur, h) // another stream, not opened below
	s.Close()

	s2 := New(nil)
	defer s2.Close()
	s2.noSync = true
	s2.Now = clock.now
	s2.CleanInterval = 10 * time.Millisecond
	if err := s2.OpenStream(ctx, sdk.StreamConfig{Stream: "cam1", Root: root}); err != nil {
		t.Fatal(err)
	}
	segs := allSegments(t, s2, "cam1")
	if len(segs) != len(kept) {
		t.Fatalf("%d segments after open, want %d", len(segs), len(kept))
	}
	for i, si := range segs {
		if si.Start != kept[i] {
			t.Fatalf("segment %d starts at %d, want %d", i, si.Start, kept[i])
		}
	}
	checkSegments(t, s2, "cam1", segs)
	for _, gone := range []int64{now + 3*day, now + 3*day + hourMs} {
		if _, err := os.Stat(hourDir(filepath.Join(root, "cam1"), gone)); !os.IsNotExist(err) {
			t.Fatalf("future hour %s still there: %v", hourDir(filepath.Join(root, "cam1"), gone), err)
		}
	}
	st, _ := s2.stream("cam1")
	st.mu.RLock()
	lastEnd := st.lastEnd
	st.mu.RUnlock()
	if want := now + day + fillDur; lastEnd != want {
		t.Fatalf("recording appends after %d, want %d (the newest kept segment's end)", lastEnd, want)
	}
	// The neighbour stream (cam10 next to cam1) keeps its future segment:
	// retention of cam1 deletes inside cam1 only.
	if names, err := readDirNames(hourDir(filepath.Join(root, "cam10"), now+3*day)); err != nil || len(names) == 0 {
		t.Fatalf("cam10's segment went with cam1's retention: %v %v", names, err)
	}

	// A future segment written later (a peer's) goes at the next clean.
	late := now + 2*day
	write(t, s2, "cam1", late, fillDur, h)
	waitFor(t, "the cleaner to delete the late future segment", func() bool {
		got, err := s2.Segments(ctx, "cam1", late, late+1)
		return err == nil && len(got) == 0
	})
	if n := len(allSegments(t, s2, "cam1")); n != len(kept) {
		t.Fatalf("%d segments after the cleaner, want %d", n, len(kept))
	}
}
