package s3store

import (
	"slices"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// TestRetentionOfFutureSegments: segments dated days ahead by a wrong
// clock do not keep correctly dated ones out (they fill the hole before
// them); retention deletes what starts more than MaxFuture ahead, in that
// stream only and whatever its depth, keeps what is less, and recording
// then appends again, also into a reopened store.
func TestRetentionOfFutureSegments(t *testing.T) {
	srv := testkit.StartS3(t, "edge-future")
	s, _ := newStore(t, srv)
	root := srv.Root("r")
	now := time.UnixMilli(t0 + hourMs)
	s.Now = func() time.Time { return now }
	s.CleanInterval = time.Hour // passes run from the test below
	open(t, s, root, "cam", 0, 0)
	open(t, s, root, "cam10", 0, 0)
	in := testInit(1)
	day := MaxFuture.Milliseconds()
	var kept []int64
	for st := t0; st < t0+hourMs; st += 600000 {
		writeSeg(t, s, "cam", st, 600000, in.Hash)
		kept = append(kept, st)
	}
	near := now.UnixMilli() + day - 600000 // less than a day ahead: kept
	writeSeg(t, s, "cam", near, 600000, in.Hash)
	kept = append(kept, near)
	for _, st := range []int64{now.UnixMilli() + day + 600000, now.UnixMilli() + 3*day, now.UnixMilli() + 3*day + 600000} {
		writeSeg(t, s, "cam", st, 600000, in.Hash)
	}
	writeSeg(t, s, "cam10", now.UnixMilli()+3*day, 600000, in.Hash)
	seg := media.Segment{Start: now.UnixMilli(), Duration: 600000, InitHash: in.Hash, Data: segData(now.UnixMilli(), 300)}
	if _, err := s.WriteSegment(ctx, "cam", seg); err != nil {
		t.Fatalf("write before a future segment: %v", err)
	}
	kept = slices.Insert(kept, len(kept)-1, seg.Start)

	if err := s.streams["cam"].clean(ctx, now); err != nil {
		t.Fatal(err)
	}
	segs, _ := s.Segments(ctx, "cam", 0, now.UnixMilli()+10*day)
	if len(segs) != len(kept) {
		t.Fatalf("%d segments after retention, want %d: %+v", len(segs), len(kept), segs)
	}
	for i := range segs {
		if segs[i].Start != kept[i] {
			t.Fatalf("segment %d at %d, want %d", i, segs[i].Start, kept[i])
		}
	}
	if n := len(listKeys(t, srv, "r/cam/seg/")); n != len(kept) {
		t.Fatalf("%d segment objects left, want %d", n, len(kept))
	}
	if n := len(listKeys(t, srv, "r/cam10/seg/")); n != 1 {
		t.Fatalf("cam10 holds %d segment objects, want its 1: retention of cam touched it", n)
	}
	// Stored once only; after the near segment: stored.
	if _, err := s.WriteSegment(ctx, "cam", seg); !sdk.IsPermanent(err) {
		t.Fatalf("second write of the same segment: %v, want refused", err)
	}
	after := near + 600000
	writeSeg(t, s, "cam", after, 600000, in.Hash)
	s.Close()

	// Reopened, the store has the same archive and appends after it.
	s2, _ := newStore(t, srv)
	s2.Now = func() time.Time { return now }
	open(t, s2, root, "cam", 0, 0)
	segs, _ = s2.Segments(ctx, "cam", 0, now.UnixMilli()+10*day)
	if len(segs) != len(kept)+1 || segs[len(segs)-1].Start != after {
		t.Fatalf("after reopen: %+v", segs)
	}
	writeSeg(t, s2, "cam", after+600000, 600000, in.Hash)
}

// TestRetentionOfFutureSegmentsWholeHour: when the future hours go whole,
// recording appends to the hour before them, keeping its segments.
func TestRetentionOfFutureSegmentsWholeHour(t *testing.T) {
	srv := testkit.StartS3(t, "edge-future2")
	s, _ := newStore(t, srv)
	root := srv.Root("r")
	now := time.UnixMilli(t0 + hourMs)
	s.Now = func() time.Time { return now }
	s.CleanInterval = time.Hour
	open(t, s, root, "cam", 0, 0)
	in := testInit(1)
	for st := t0; st < t0+50*60000; st += 600000 {
		writeSeg(t, s, "cam", st, 600000, in.Hash)
	}
	writeSeg(t, s, "cam", now.UnixMilli()+2*MaxFuture.Milliseconds(), 600000, in.Hash)
	if err := s.streams["cam"].clean(ctx, now); err != nil {
		t.Fatal(err)
	}
	// The next correctly dated segment lands in the hour of the others,
	// which all stay listed.
	writeSeg(t, s, "cam", t0+50*60000, 600000, in.Hash)
	writeSeg(t, s, "cam", t0+hourMs, 600000, in.Hash)
	segs, _ := s.Segments(ctx, "cam", 0, t0+100*hourMs)
	if len(segs) != 7 || segs[0].Start != t0 || segs[6].Start != t0+hourMs {
		t.Fatalf("segments %+v, want 7 from t0", segs)
	}
}
