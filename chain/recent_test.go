package chain

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/sdk"
)

// one lists the segment at start the way the front does before reading it.
func one(ctx context.Context, a *Archive, start int64) ([]sdk.SegmentInfo, error) {
	return a.Segments(ctx, start, start+1)
}

// A one-segment listing right after a listing that covered it is answered
// from that listing, on the same route only, for ListingTTL only.
func TestOneSegmentListingRecalled(t *testing.T) {
	chained := func(ctx context.Context) context.Context {
		return cluster.WithChain(ctx, cluster.Chain{Via: []string{"viewer-edge"}, Hops: 3})
	}
	tests := []struct {
		name      string
		ttl       time.Duration
		second    func(context.Context) context.Context // the one-segment listing's route
		wantCalls int64                                 // upstream listings in all
	}{
		{"same route", 0, func(ctx context.Context) context.Context { return ctx }, 1},
		{"other route", 0, chained, 2},
		{"never recalled", -1, func(ctx context.Context) context.Context { return ctx }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			remote := newStore("r").add(0, 20, 0)
			arch := newArchive(t, Config{Self: "edge", ListingTTL: tt.ttl, Sources: []Source{{Name: "r", Remote: remote}}})
			if segs, err := arch.Segments(ctx, at(0), at(20)); err != nil || len(segs) != 20 {
				t.Fatalf("listing: %d segments, %v", len(segs), err)
			}
			segs, err := one(tt.second(ctx), arch, at(5))
			want := remote.list(at(5), at(5)+1)[0]
			want.Path = ""
			if err != nil || len(segs) != 1 || segs[0] != want {
				t.Fatalf("one-segment listing: %+v %v, want %+v", segs, err, want)
			}
			if n := remote.nSegments.Load(); n != tt.wantCalls {
				t.Fatalf("%d upstream listings, want %d", n, tt.wantCalls)
			}
			if n := testutil.ToFloat64(arch.m.recalled); n != float64(2-tt.wantCalls) {
				t.Fatalf("listings_recalled_total = %v", n)
			}
		})
	}
}

// A recalled listing expires after ListingTTL: the sources are asked again.
func TestOneSegmentListingExpires(t *testing.T) {
	ctx := testCtx(t)
	remote := newStore("r").add(0, 5, 0)
	arch := newArchive(t, Config{Self: "edge", ListingTTL: 20 * time.Millisecond, Sources: []Source{{Name: "r", Remote: remote}}})
	if _, err := arch.Segments(ctx, at(0), at(5)); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "a one-segment listing to ask the source again", func() bool {
		segs, err := one(ctx, arch, at(2))
		if err != nil || len(segs) != 1 {
			t.Fatalf("one-segment listing: %+v %v", segs, err)
		}
		return remote.nSegments.Load() == 2
	})
}

// A segment gone upstream after it was listed: the read that follows the
// recalled listing is a clean not-found, and the next listing asks the
// source again and comes out empty.
func TestOneSegmentListingGoneUpstream(t *testing.T) {
	ctx := testCtx(t)
	remote := newStore("r").add(0, 10, 0)
	arch := newArchive(t, Config{Self: "edge", Sources: []Source{{Name: "r", Remote: remote}}})
	if _, err := arch.Segments(ctx, at(0), at(10)); err != nil {
		t.Fatal(err)
	}
	remote.mu.Lock()
	delete(remote.data, at(3))
	remote.segs = append(remote.segs[:3:3], remote.segs[4:]...)
	remote.mu.Unlock()
	if _, err := arch.ReadSegment(ctx, at(3)); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("read of a segment gone upstream: %v, want not found", err)
	}
	before := remote.nSegments.Load()
	segs, err := one(ctx, arch, at(3))
	if err != nil || len(segs) != 0 {
		t.Fatalf("listing after the failed read: %+v %v, want none", segs, err)
	}
	if remote.nSegments.Load() != before+1 {
		t.Fatal("the listing after the failed read did not ask the source")
	}
}

// A segment the disk cache lists needs no source at all.
func TestOneSegmentListingFromDisk(t *testing.T) {
	ctx := testCtx(t)
	remote := newStore("r").add(0, 10, 0)
	disk := openDisk(t, cacheCfg())
	if err := disk.Put("cam", sdk.SegmentInfo{Start: at(4), Duration: segDur, InitHash: testInit.Hash}, payload("r", at(4))); err != nil {
		t.Fatal(err)
	}
	arch := newArchive(t, Config{Self: "edge", Disk: disk, Sources: []Source{{Name: "r", Remote: remote}}})
	segs, err := one(ctx, arch, at(4))
	if err != nil || len(segs) != 1 || segs[0].Path == "" {
		t.Fatalf("one-segment listing of a cached segment: %+v %v", segs, err)
	}
	if n := remote.nSegments.Load(); n != 0 {
		t.Fatalf("%d upstream listings, want 0", n)
	}
}

// frontRemote is a node reached over M4F whose front, like the real one
// (proxy's serveM4FSegment), lists a segment before reading it and answers
// not-found when the listing has no segment at that start.
type frontRemote struct{ nodeRemote }

func (f *frontRemote) Segment(ctx context.Context, stream string, start int64, via, hops string) ([]byte, error) {
	ctx, err := f.enter(ctx, via, hops)
	if err != nil {
		return nil, err
	}
	segs, err := f.target.Segments(ctx, start, start+1)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 || segs[0].Start != start {
		return nil, fmt.Errorf("no segment at %d: %w", start, sdk.ErrNotFound)
	}
	return f.target.ReadSegment(ctx, start)
}

// Cold misses on an edge through a cache tier, each front listing the
// segment before reading it (a viewer reading on, 3 segments within
// listAhead): each segment's bytes cross each tier once, and the first
// one-segment listing (asked for listAhead) describes the other two, at
// the edge and at the cache tier.
func TestColdMissCallsThroughTier(t *testing.T) {
	ctx := testCtx(t)
	origin := newStore("origin").add(0, 10, 0)
	tier := newArchive(t, Config{Self: "cache", Disk: openDisk(t, cacheCfg()), Sources: []Source{{Name: "origin", Remote: origin}}})
	toTier := &frontRemote{nodeRemote{target: tier}}
	edge := newArchive(t, Config{Self: "edge", Disk: openDisk(t, cacheCfg()), Sources: []Source{{Name: "cache", Remote: toTier, Mode: ModeChain}}})
	for i := 0; i < 3; i++ {
		segs, err := one(ctx, edge, at(i))
		if err != nil || len(segs) != 1 || segs[0].Start != at(i) {
			t.Fatalf("edge listing of segment %d: %+v %v", i, segs, err)
		}
		b, err := edge.ReadSegment(ctx, at(i))
		if err != nil || string(b) != string(payload("origin", at(i))) {
			t.Fatalf("edge read of segment %d: %v", i, err)
		}
	}
	if l, s, c := origin.nSegments.Load(), origin.nSegment.Load(), toTier.calls.Load(); l != 1 || s != 3 || c != 4 {
		t.Fatalf("3 cold misses: origin got %d listings and %d segment reads, the cache tier %d calls; want 1, 3, 4", l, s, c)
	}
}

// The look-ahead does not change a one-segment listing's answer: a
// segment of the first source that starts just after start (and would
// overlap the second source's segment at start in a wider listing) does
// not hide it; and the look-ahead's own picks answer the next listings as
// one-segment listings of the sources would.
func TestOneSegmentListingAheadExact(t *testing.T) {
	ctx := testCtx(t)
	first := newStore("a").add(1, 5, 1000) // starts 1 s into b's segments
	second := newStore("b").add(0, 5, 0)
	arch := newArchive(t, Config{Self: "edge", Sources: []Source{{Name: "a", Remote: first}, {Name: "b", Remote: second}}})
	segs, err := one(ctx, arch, at(0))
	if err != nil || len(segs) != 1 || segs[0].Start != at(0) || segs[0].Checksum != second.list(at(0), at(0)+1)[0].Checksum {
		t.Fatalf("one-segment listing at %d: %+v %v, want b's segment", at(0), segs, err)
	}
	if b, err := arch.ReadSegment(ctx, at(0)); err != nil || string(b) != string(payload("b", at(0))) {
		t.Fatalf("read: %v, want b's bytes", err)
	}
	calls := first.nSegments.Load() + second.nSegments.Load()
	for _, start := range []int64{at(1) + 1000, at(2) + 1000} {
		segs, err := one(ctx, arch, start)
		if err != nil || len(segs) != 1 || segs[0].Checksum != first.list(start, start+1)[0].Checksum {
			t.Fatalf("one-segment listing at %d: %+v %v, want a's segment", start, segs, err)
		}
	}
	if n := first.nSegments.Load() + second.nSegments.Load(); n != calls {
		t.Fatalf("the next listings asked the sources %d times, want 0", n-calls)
	}
}

// Listings on two routes keep their own records: a listing on one route
// does not take away what the other route's listing gave.
func TestOneSegmentListingRoutesApart(t *testing.T) {
	ctx := testCtx(t)
	downstream := cluster.WithChain(ctx, cluster.Chain{Via: []string{"viewer-edge"}, Hops: 3})
	remote := newStore("r").add(0, 10, 0)
	arch := newArchive(t, Config{Self: "edge", Sources: []Source{{Name: "r", Remote: remote}}})
	for _, c := range []context.Context{downstream, ctx} {
		if _, err := arch.Segments(c, at(0), at(10)); err != nil {
			t.Fatal(err)
		}
	}
	if segs, err := one(downstream, arch, at(4)); err != nil || len(segs) != 1 {
		t.Fatalf("one-segment listing: %+v %v", segs, err)
	}
	if n := remote.nSegments.Load(); n != 2 {
		t.Fatalf("%d upstream listings, want 2", n)
	}
}
