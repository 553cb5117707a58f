package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/sdk"
)

// Two sources each hold part of the window because each had an outage: the
// merged timeline has no gap and no overlap, and each segment is read from
// the source that listed it.
func TestMergePartialSources(t *testing.T) {
	ctx := testCtx(t)
	a := newStore("a").add(0, 10, 0).add(20, 30, 0) // outage over 10..20
	b := newStore("b").add(5, 25, 0)                // outage before 5 and after 25
	arch := newArchive(t, Config{Self: "edge", Sources: []Source{{Name: "a", Remote: a}, {Name: "b", Remote: b}}})

	segs, err := arch.Segments(ctx, at(0), at(30))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 30 {
		t.Fatalf("got %d segments, want 30", len(segs))
	}
	checkTimeline(t, segs)
	for _, s := range segs {
		if s.Path != "" {
			t.Fatalf("segment %d from a remote has path %q", s.Start, s.Path)
		}
	}
	r, err := arch.Ranges(ctx, at(0), at(30))
	if err != nil {
		t.Fatal(err)
	}
	if len(r) != 1 || r[0].From != at(0) || r[0].To != at(30) {
		t.Fatalf("ranges: got %+v, want one range [%d, %d)", r, at(0), at(30))
	}
	for i := 0; i < 30; i++ {
		owner := "a"
		if i >= 10 && i < 20 {
			owner = "b"
		}
		got, err := arch.ReadSegment(ctx, at(i))
		if err != nil {
			t.Fatalf("read segment %d: %v", i, err)
		}
		if want := payload(owner, at(i)); !bytes.Equal(got, want) {
			t.Fatalf("segment %d: got bytes of %.8q, want from %s", i, got, owner)
		}
	}
	if n := b.nSegment.Load(); n != 10 {
		t.Fatalf("source b was asked for %d segments, want the 10 it alone has", n)
	}
}

// Overlapping segments: the first source in priority order wins, and a later
// source's segment that overlaps one already taken is dropped.
func TestMergePriority(t *testing.T) {
	ctx := testCtx(t)
	a := newStore("a").add(0, 10, 0)
	b := newStore("b").add(0, 14, 1500) // shifted by half a segment, runs longer
	arch := newArchive(t, Config{Self: "edge", Sources: []Source{{Name: "a", Remote: a}, {Name: "b", Remote: b}}})
	segs, err := arch.Segments(ctx, at(0), at(20))
	if err != nil {
		t.Fatal(err)
	}
	// a's 10, then b's from the one starting at at(10)+1500 (b's at(9)+1500 overlaps a's at(9)).
	if len(segs) != 14 {
		t.Fatalf("got %d segments: %+v", len(segs), segs)
	}
	for i := 0; i < 10; i++ {
		if segs[i].Start != at(i) {
			t.Fatalf("segment %d: start %d, want a's %d", i, segs[i].Start, at(i))
		}
	}
	for i := 1; i < len(segs); i++ {
		if segs[i].Start < segs[i-1].End() {
			t.Fatalf("segments %d and %d overlap", i-1, i)
		}
	}
	if segs[10].Start != at(10)+1500 {
		t.Fatalf("first segment from b: %d, want %d", segs[10].Start, at(10)+1500)
	}
	got, err := arch.ReadSegment(ctx, segs[11].Start)
	if err != nil || !bytes.Equal(got, payload("b", segs[11].Start)) {
		t.Fatalf("read of b's segment: %v", err)
	}
}

func TestMergeSegmentsTable(t *testing.T) {
	s := func(start, dur int64) sdk.SegmentInfo { return sdk.SegmentInfo{Start: start, Duration: dur} }
	tests := []struct {
		name        string
		chosen, add []sdk.SegmentInfo
		want        []int64
	}{
		{"empty", nil, nil, nil},
		{"into empty, unsorted", nil, []sdk.SegmentInfo{s(6000, 3000), s(0, 3000), s(3000, 3000)}, []int64{0, 3000, 6000}},
		{"duplicates dropped", []sdk.SegmentInfo{s(0, 3000), s(3000, 3000)}, []sdk.SegmentInfo{s(0, 3000), s(3000, 3000), s(6000, 3000)}, []int64{0, 3000, 6000}},
		{"fills a hole", []sdk.SegmentInfo{s(0, 3000), s(9000, 3000)}, []sdk.SegmentInfo{s(3000, 3000), s(6000, 3000)}, []int64{0, 3000, 6000, 9000}},
		{"overlap with previous dropped", []sdk.SegmentInfo{s(0, 3000)}, []sdk.SegmentInfo{s(1000, 3000)}, []int64{0}},
		{"overlap with next dropped", []sdk.SegmentInfo{s(3000, 3000)}, []sdk.SegmentInfo{s(1000, 3000)}, []int64{3000}},
		{"overlap within tolerance kept", []sdk.SegmentInfo{s(0, 3000)}, []sdk.SegmentInfo{s(2800, 3000)}, []int64{0, 2800}},
		{"zero duration ignored", nil, []sdk.SegmentInfo{s(0, 0)}, nil},
		{"long later segment spanning two dropped", []sdk.SegmentInfo{s(0, 3000), s(6000, 3000)}, []sdk.SegmentInfo{s(2000, 6000)}, []int64{0, 6000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeSegments(tt.chosen, tt.add, nil)
			var starts []int64
			for _, g := range got {
				starts = append(starts, g.Start)
			}
			if fmt.Sprint(starts) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", starts, tt.want)
			}
		})
	}
}

func TestMergeRangesTable(t *testing.T) {
	r := func(from, to int64) sdk.Range { return sdk.Range{From: from, To: to} }
	tests := []struct {
		name  string
		lists [][]sdk.Range
		want  []sdk.Range
	}{
		{"none", nil, nil},
		{"disjoint", [][]sdk.Range{{r(0, 10)}, {r(1000, 2000)}}, []sdk.Range{r(0, 10), r(1000, 2000)}},
		{"overlap", [][]sdk.Range{{r(0, 1000)}, {r(500, 2000)}}, []sdk.Range{r(0, 2000)}},
		{"touch within tolerance", [][]sdk.Range{{r(0, 1000)}, {r(1200, 2000)}}, []sdk.Range{r(0, 2000)}},
		{"contained", [][]sdk.Range{{r(0, 5000)}, {r(1000, 2000)}}, []sdk.Range{r(0, 5000)}},
		{"three sources with holes", [][]sdk.Range{{r(0, 10), r(30, 40)}, {r(10, 20)}, {r(20, 30), r(100000, 200000)}}, []sdk.Range{r(0, 40), r(100000, 200000)}},
		{"empty range ignored", [][]sdk.Range{{r(5, 5)}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MergeRanges(tt.lists...); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// The local archive comes first, then the disk cache, then the sources.
func TestLookupOrder(t *testing.T) {
	ctx := testCtx(t)
	local := newStore("local").add(0, 5, 0)
	remote := newStore("remote").add(0, 20, 0)
	disk := openDisk(t, cacheCfg())
	if err := disk.Put("cam", sdk.SegmentInfo{Start: at(5), Duration: segDur, InitHash: testInit.Hash}, payload("disk", at(5))); err != nil {
		t.Fatal(err)
	}
	arch := newArchive(t, Config{Self: "edge", Local: local.local(), Disk: disk, Sources: []Source{{Name: "r", Remote: remote}}})
	segs, err := arch.Segments(ctx, at(0), at(20))
	if err != nil {
		t.Fatal(err)
	}
	checkTimeline(t, segs)
	if len(segs) != 20 || segs[5].Path == "" || segs[6].Path != "" {
		t.Fatalf("disk segment should carry its path, remote ones none: %+v", segs[4:7])
	}
	for i, want := range map[int]string{0: "local", 4: "local", 5: "disk", 6: "remote"} {
		got, err := arch.ReadSegment(ctx, at(i))
		if err != nil || !bytes.Equal(got, payload(want, at(i))) {
			t.Fatalf("segment %d: want the bytes of %s (%v)", i, want, err)
		}
	}
	if n := remote.nSegment.Load(); n != 1 {
		t.Fatalf("remote asked for %d segments, want 1", n)
	}
	// The fetched segment went to the disk cache (written behind the
	// answer) with its file path.
	disk.Wait()
	info, ok := disk.Get("cam", at(6))
	if !ok || info.Checksum != segs[6].Checksum {
		t.Fatalf("fetched segment not in the disk cache: %+v %v", info, ok)
	}
	segs, _ = arch.Segments(ctx, at(6), at(7))
	if len(segs) != 1 || segs[0].Path != info.Path {
		t.Fatalf("cached segment listed without its path: %+v", segs)
	}
	// Inits: fetched once, then cached.
	for i := 0; i < 2; i++ {
		in, err := newArchive(t, Config{Self: "edge", Disk: disk, Sources: []Source{{Name: "r", Remote: remote}}}).ReadInit(ctx, testInit.Hash)
		if err != nil || !bytes.Equal(in.Data, testInit.Data) || in.Codecs != testInit.Codecs {
			t.Fatalf("read init: %+v %v", in, err)
		}
	}
	if n := remote.nInit.Load(); n != 1 {
		t.Fatalf("remote asked for the init %d times, want 1", n)
	}
	if _, err := arch.ReadInit(ctx, "0123456789abcdef"); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("unknown init: %v, want not found", err)
	}
}

// misses=N: a fetched segment goes to the disk cache at its Nth request.
func TestLookupMisses(t *testing.T) {
	ctx := testCtx(t)
	remote := newStore("r").add(0, 3, 0)
	cfg := cacheCfg()
	cfg.Misses = 3
	disk := openDisk(t, cfg)
	arch := newArchive(t, Config{Self: "edge", Disk: disk, Sources: []Source{{Name: "r", Remote: remote}}})
	for i := 1; i <= 3; i++ {
		if _, err := arch.ReadSegment(ctx, at(1)); err != nil {
			t.Fatal(err)
		}
		disk.Wait() // the write is behind the answer
		if _, cached := disk.Get("cam", at(1)); cached != (i == 3) {
			t.Fatalf("after request %d: cached %v", i, cached)
		}
	}
	if _, err := arch.ReadSegment(ctx, at(1)); err != nil {
		t.Fatal(err)
	}
	if n := remote.nSegment.Load(); n != 3 {
		t.Fatalf("remote asked %d times, want 3 (the 4th request is a disk hit)", n)
	}
}

// threeLevels builds edge → mid → origin as three lookups talking through
// nodeRemote. origin holds [0,10), mid [10,20), edge nothing.
func threeLevels(t *testing.T, edgeMode, midMode string) (edge *Archive, toMid, toOrigin *nodeRemote, origin *fakeStore) {
	origin = newStore("origin").add(0, 10, 0)
	originArch := newArchive(t, Config{Self: "origin", Local: origin.local()})
	toOrigin = &nodeRemote{target: originArch}
	mid := newArchive(t, Config{Self: "mid", Local: newStore("mid").add(10, 20, 0).local(),
		Sources: []Source{{Name: "origin", Remote: toOrigin, Mode: midMode}}})
	toMid = &nodeRemote{target: mid}
	edge = newArchive(t, Config{Self: "edge", Sources: []Source{{Name: "mid", Remote: toMid, Mode: edgeMode}}})
	return edge, toMid, toOrigin, origin
}

func TestModes(t *testing.T) {
	tests := []struct {
		name              string
		edgeMode, midMode string
		want              int   // segments the edge sees
		midCalls          int64 // listing calls that reach mid
		originCalls       int64 // listing calls that reach origin
	}{
		{"nochain stops at the first level", ModeNoChain, ModeNoChain, 10, 1, 0},
		{"default mode is nochain", "", ModeChain, 10, 1, 0},
		{"chain lets mid ask origin", ModeChain, ModeNoChain, 20, 1, 1},
		{"chain all the way", ModeChain, ModeChain, 20, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			edge, toMid, toOrigin, _ := threeLevels(t, tt.edgeMode, tt.midMode)
			segs, err := edge.Segments(ctx, at(0), at(30))
			if err != nil {
				t.Fatal(err)
			}
			if len(segs) != tt.want {
				t.Fatalf("edge sees %d segments, want %d", len(segs), tt.want)
			}
			checkTimeline(t, segs)
			if n := toMid.calls.Load(); n != tt.midCalls {
				t.Fatalf("mid asked %d times, want %d", n, tt.midCalls)
			}
			if n := toOrigin.calls.Load(); n != tt.originCalls {
				t.Fatalf("origin asked %d times, want %d", n, tt.originCalls)
			}
			// Segment reads follow the same route.
			_, err = edge.ReadSegment(ctx, at(5))
			if tt.want == 20 && err != nil {
				t.Fatalf("read of origin's segment through the chain: %v", err)
			}
			if tt.want == 10 && !errors.Is(err, sdk.ErrNotFound) {
				t.Fatalf("read of origin's segment without chain: %v, want not found", err)
			}
		})
	}
}

// none: only the source in use now is asked (for its own archive).
func TestModeNone(t *testing.T) {
	ctx := testCtx(t)
	primary := newStore("primary").add(0, 10, 0)
	backup := newStore("backup").add(10, 20, 0)
	var mu sync.Mutex
	active := "backup"
	inUse := func(name string) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return active == name }
	}
	arch := newArchive(t, Config{Self: "edge", Sources: []Source{
		{Name: "primary", Remote: primary, Mode: ModeNone, InUse: inUse("primary")},
		{Name: "backup", Remote: backup, Mode: ModeNone, InUse: inUse("backup")},
	}})
	segs, err := arch.Segments(ctx, at(0), at(20))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 10 || segs[0].Start != at(10) || primary.nSegments.Load() != 0 {
		t.Fatalf("with backup in use: %d segments from %d, primary asked %d times", len(segs), segs[0].Start, primary.nSegments.Load())
	}
	if backup.lastHops != "1" || backup.lastVia != "edge" {
		t.Fatalf("none sent via %q hops %q, want edge and 1", backup.lastVia, backup.lastHops)
	}
	mu.Lock()
	active = "primary"
	mu.Unlock()
	segs, err = arch.Segments(ctx, at(0), at(20))
	if err != nil || len(segs) != 10 || segs[0].Start != at(0) || backup.nSegments.Load() != 1 {
		t.Fatalf("with primary in use: %d segments, %v", len(segs), err)
	}
}

// The Via and Hops a source receives, per mode and for a request that
// arrived chained.
func TestRouteHeaders(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		incoming *cluster.Chain
		via      string
		hops     string
		asked    bool
	}{
		{"nochain from here", ModeNoChain, nil, "edge", "1", true},
		{"chain from here", ModeChain, nil, "edge", "4", true},
		{"chain forwarded", ModeChain, &cluster.Chain{Via: []string{"x"}, Hops: 3}, "x,edge", "2", true},
		{"nochain forwarded", ModeNoChain, &cluster.Chain{Via: []string{"x"}, Hops: 3}, "x,edge", "1", true},
		{"no hops left", ModeChain, &cluster.Chain{Via: []string{"x"}, Hops: 1}, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			if tt.incoming != nil {
				ctx = cluster.WithChain(ctx, *tt.incoming)
			}
			src := newStore("s").add(0, 1, 0)
			arch := newArchive(t, Config{Self: "edge", Sources: []Source{{Name: "s", Remote: src, Mode: tt.mode}}})
			segs, err := arch.Segments(ctx, at(0), at(1))
			if err != nil {
				t.Fatal(err)
			}
			if asked := src.nSegments.Load() > 0; asked != tt.asked {
				t.Fatalf("source asked: %v, want %v", asked, tt.asked)
			}
			if tt.asked && (src.lastVia != tt.via || src.lastHops != tt.hops || len(segs) != 1) {
				t.Fatalf("sent via %q hops %q, want %q %q", src.lastVia, src.lastHops, tt.via, tt.hops)
			}
		})
	}
}

// A hop limit bounds a chain of chain-mode sources.
func TestHopLimit(t *testing.T) {
	ctx := testCtx(t)
	// n0 → n1 → n2 → n3 → n4, each holding one segment of its own.
	var next *nodeRemote
	remotes := make([]*nodeRemote, 5)
	var n0 *Archive
	for i := 4; i >= 0; i-- {
		cfg := Config{Self: fmt.Sprintf("n%d", i), HopLimit: 2,
			Local: newStore(fmt.Sprintf("n%d", i)).add(i, i+1, 0).local()}
		if next != nil {
			cfg.Sources = []Source{{Name: fmt.Sprintf("n%d", i+1), Remote: next, Mode: ModeChain}}
		}
		a := newArchive(t, cfg)
		remotes[i] = &nodeRemote{target: a}
		next = remotes[i]
		n0 = a
	}
	segs, err := n0.Segments(ctx, at(0), at(10))
	if err != nil {
		t.Fatal(err)
	}
	// Hop limit 2: n0 calls n1 (hops 2), n1 calls n2 (hops 1), n2 stops.
	if len(segs) != 3 {
		t.Fatalf("got %d segments, want 3 (n0, n1, n2)", len(segs))
	}
	if remotes[3].calls.Load() != 0 {
		t.Fatal("n3 was asked beyond the hop limit")
	}
}

// A→B→A with chain on both: B's call back to A is answered with a loop,
// which B treats as empty; A gets both archives and nothing hangs.
func TestLoop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	toA, toB := &nodeRemote{}, &nodeRemote{}
	mB := NewMetrics()
	a := newArchive(t, Config{Self: "a", Local: newStore("a").add(0, 5, 0).local(), Sources: []Source{{Name: "b", Remote: toB, Mode: ModeChain}}})
	b := newArchive(t, Config{Self: "b", Local: newStore("b").add(5, 10, 0).local(), Metrics: mB, Sources: []Source{{Name: "a", Remote: toA, Mode: ModeChain}}})
	toA.target, toB.target = a, b

	segs, err := a.Segments(ctx, at(0), at(10))
	if err != nil {
		t.Fatal(err)
	}
	checkTimeline(t, segs)
	if len(segs) != 10 {
		t.Fatalf("got %d segments, want 10", len(segs))
	}
	if toA.loops.Load() != 1 {
		t.Fatalf("a answered %d loops, want 1", toA.loops.Load())
	}
	if n := testutil.ToFloat64(mB.loops.WithLabelValues("a")); n != 1 {
		t.Fatalf("b counted %v loops, want 1", n)
	}
	r, err := b.Ranges(ctx, at(0), at(10))
	if err != nil || len(r) != 1 || r[0].From != at(0) || r[0].To != at(10) {
		t.Fatalf("ranges from b: %+v %v", r, err)
	}
	// Reads of a segment nobody has end too, with not found.
	if _, err := a.ReadSegment(ctx, at(50)); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("read of a missing segment around a loop: %v, want not found", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the loop ran into the test deadline")
	}
	// A request that names this node in its Via is itself a loop.
	if _, err := a.Segments(cluster.WithChain(ctx, cluster.Chain{Via: []string{"a"}, Hops: 3}), at(0), at(1)); !errors.Is(err, ErrLoop) {
		t.Fatalf("chained request back to a: %v, want ErrLoop", err)
	}
}

// 50 concurrent reads of one segment make one upstream call, with and
// without a disk cache.
func TestCoalesceReadSegment(t *testing.T) {
	for _, withDisk := range []bool{false, true} {
		t.Run(fmt.Sprintf("disk=%v", withDisk), func(t *testing.T) {
			ctx := testCtx(t)
			remote := newStore("r").add(0, 2, 0)
			remote.gate = make(chan struct{})
			cfg := Config{Self: "edge", Sources: []Source{{Name: "r", Remote: remote}}}
			if withDisk {
				cfg.Disk = openDisk(t, cacheCfg())
			}
			arch := newArchive(t, cfg)
			const n = 50
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					b, err := arch.ReadSegment(ctx, at(1))
					if err == nil && !bytes.Equal(b, payload("r", at(1))) {
						err = errors.New("wrong bytes")
					}
					errs <- err
				}()
			}
			pollUntil(t, "all readers to join the flight", func() bool { return arch.waiting.Load() == n })
			close(remote.gate)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if c := remote.nSegment.Load(); c != 1 {
				t.Fatalf("%d upstream calls, want 1", c)
			}
			if c := testutil.ToFloat64(arch.m.coalesced.WithLabelValues("segment")); c != n-1 {
				t.Fatalf("%v coalesced waits, want %d", c, n-1)
			}
		})
	}
}

// Concurrent listings of one window make one upstream call per source.
func TestCoalesceListings(t *testing.T) {
	ctx := testCtx(t)
	gate := make(chan struct{})
	remote := &gatedLister{fakeStore: newStore("r").add(0, 10, 0), gate: gate}
	arch := newArchive(t, Config{Self: "edge", Sources: []Source{{Name: "r", Remote: remote}}})
	const n = 20
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if segs, err := arch.Segments(ctx, at(0), at(10)); err != nil || len(segs) != 10 {
				t.Errorf("segments: %d, %v", len(segs), err)
			}
		}()
	}
	pollUntil(t, "all listings to join the flight", func() bool { return arch.waiting.Load() == n })
	close(gate)
	wg.Wait()
	if c := remote.nSegments.Load(); c != 1 {
		t.Fatalf("%d upstream listings, want 1", c)
	}
}

// gatedLister holds Segments listings until gate closes.
type gatedLister struct {
	*fakeStore
	gate chan struct{}
}

func (g *gatedLister) Segments(ctx context.Context, stream string, from, to int64, via, hops string) ([]sdk.SegmentInfo, error) {
	<-g.gate
	return g.fakeStore.Segments(ctx, stream, from, to, via, hops)
}

// Empty and failed answers are remembered for NegativeTTL.
func TestNegativeCache(t *testing.T) {
	ctx := testCtx(t)
	remote := newStore("r").add(0, 2, 0)
	arch := newArchive(t, Config{Self: "edge", NegativeTTL: time.Hour, Sources: []Source{{Name: "r", Remote: remote}}})
	for i := 0; i < 3; i++ {
		if _, err := arch.ReadSegment(ctx, at(7)); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("missing segment: %v, want not found", err)
		}
		if segs, err := arch.Segments(ctx, at(100), at(110)); err != nil || len(segs) != 0 {
			t.Fatalf("empty window: %v %v", segs, err)
		}
	}
	if c := remote.nSegment.Load(); c != 1 {
		t.Fatalf("missing segment asked %d times, want 1", c)
	}
	if c := remote.nSegments.Load(); c != 1 {
		t.Fatalf("empty window listed %d times, want 1", c)
	}
	// Expiry: with a short TTL the source is asked again (poll, no timing assertion).
	short := newArchive(t, Config{Self: "edge", NegativeTTL: time.Millisecond, Sources: []Source{{Name: "r", Remote: remote}}})
	before := remote.nSegment.Load()
	pollUntil(t, "negative entry to expire", func() bool {
		short.ReadSegment(ctx, at(7))
		return remote.nSegment.Load() >= before+2
	})
}

// All sources down: what is cached is served, the rest answers Unavailable
// within the per-call deadlines, and a failed source is skipped for a while.
func TestSourcesDown(t *testing.T) {
	ctx := testCtx(t)
	hole := newStore("hole").add(0, 20, 0)
	hole.block = true // a black hole: every call runs into its deadline
	refused := newStore("refused").add(0, 20, 0)
	refused.err = errRefused
	disk := openDisk(t, cacheCfg())
	for i := 0; i < 5; i++ {
		if err := disk.Put("cam", sdk.SegmentInfo{Start: at(i), Duration: segDur, InitHash: testInit.Hash}, payload("hole", at(i))); err != nil {
			t.Fatal(err)
		}
	}
	unavailable := errors.New("proxy: archive unavailable")
	arch := newArchive(t, Config{Self: "edge", Disk: disk, Timeout: 50 * time.Millisecond, Unavailable: unavailable,
		Sources: []Source{{Name: "hole", Remote: hole}, {Name: "refused", Remote: refused}}})

	segs, err := arch.Segments(ctx, at(0), at(20))
	if err != nil || len(segs) != 5 {
		t.Fatalf("cached part: %d segments, %v", len(segs), err)
	}
	if b, err := arch.ReadSegment(ctx, at(2)); err != nil || !bytes.Equal(b, payload("hole", at(2))) {
		t.Fatalf("cached segment: %v", err)
	}
	if _, err := arch.ReadSegment(ctx, at(10)); !errors.Is(err, unavailable) {
		t.Fatalf("uncached segment: %v, want unavailable", err)
	}
	if _, err := arch.Ranges(ctx, at(100), at(200)); !errors.Is(err, unavailable) {
		t.Fatalf("ranges beyond the cache: %v, want unavailable", err)
	}
	if _, err := arch.ReadInit(ctx, testInit.Hash); !errors.Is(err, unavailable) {
		t.Fatalf("init: %v, want unavailable", err)
	}
	if ctx.Err() != nil {
		t.Fatal("lookups ran into the test deadline")
	}
	// Both sources are now skipped until NegativeTTL passes.
	before := hole.nSegment.Load() + refused.nSegment.Load()
	if _, err := arch.ReadSegment(ctx, at(11)); !errors.Is(err, unavailable) {
		t.Fatalf("second uncached segment: %v", err)
	}
	if after := hole.nSegment.Load() + refused.nSegment.Load(); after != before {
		t.Fatalf("down sources asked again (%d calls)", after-before)
	}
	// A caller's own deadline ends its wait even when a flight runs long.
	short, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	slow := newArchive(t, Config{Self: "edge", Timeout: 2 * time.Second, Sources: []Source{{Name: "hole", Remote: newStore("h2").add(0, 1, 0)}}})
	slow.cfg.Sources[0].Remote.(*fakeStore).block = true
	if _, err := slow.ReadSegment(short, at(0)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read with an expired deadline: %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	tests := []Config{
		{Self: "x", Stream: "../bad"},
		{Stream: "cam"},
		{Self: "x", Stream: "cam", Sources: []Source{{Name: "s"}}},
		{Self: "x", Stream: "cam", Sources: []Source{{Name: "s", Remote: newStore("s"), Mode: "sometimes"}}},
	}
	for i, cfg := range tests {
		if _, err := New(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
}
