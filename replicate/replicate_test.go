package replicate

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/plugins/dvrstore"
	"github.com/edgedvr/edge/sdk"
)

var ctx = context.Background()

// t0 is 2024-01-01 00:00:00 UTC; the archives of these tests lie after it.
const t0 = int64(1704067200000)

// storeSource serves a real dvrstore archive as a Source, the way a node
// answers the M4F archive calls. corrupt, when set, flips a byte of the
// segment that starts there (a peer or a link that damages data).
type storeSource struct {
	st      *dvrstore.Store
	stream  string
	corrupt int64
}

func (s storeSource) Segments(ctx context.Context, from, to int64) ([]sdk.SegmentInfo, error) {
	return s.st.Segments(ctx, s.stream, from, to)
}

func (s storeSource) Segment(ctx context.Context, start int64) ([]byte, error) {
	b, err := s.st.ReadSegment(ctx, s.stream, start)
	if err == nil && start == s.corrupt {
		b = bytes.Clone(b)
		b[len(b)/2] ^= 0xff
	}
	return b, err
}

func (s storeSource) Init(ctx context.Context, hash string) (media.Init, error) {
	return s.st.ReadInit(ctx, s.stream, hash)
}

// orderStore is the real local store, noting the order of segment writes.
type orderStore struct {
	*dvrstore.Store
	mu     sync.Mutex
	writes []int64
}

func (o *orderStore) WriteSegment(ctx context.Context, stream string, seg media.Segment) (sdk.SegmentInfo, error) {
	info, err := o.Store.WriteSegment(ctx, stream, seg)
	if err == nil {
		o.mu.Lock()
		o.writes = append(o.writes, seg.Start)
		o.mu.Unlock()
	}
	return info, err
}

// WriteSegments notes the segments of a batch in the order given.
func (o *orderStore) WriteSegments(ctx context.Context, stream string, segs []media.Segment) ([]sdk.SegmentResult, error) {
	res, err := o.Store.WriteSegments(ctx, stream, segs)
	if err == nil {
		o.mu.Lock()
		for k, r := range res {
			if r.Err == nil {
				o.writes = append(o.writes, segs[k].Start)
			}
		}
		o.mu.Unlock()
	}
	return res, err
}

// newArchive writes n segments of 2 s with random bytes (a gap after the
// tenth) and two inits into a new store.
func newArchive(t *testing.T, n int) *dvrstore.Store {
	t.Helper()
	st := dvrstore.New(nil)
	t.Cleanup(func() { st.Close() })
	if err := st.OpenStream(ctx, sdk.StreamConfig{Stream: "cam", Root: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 9))
	var inits []media.Init
	for i := range 2 {
		data := bytes.Repeat([]byte{'i', byte(i)}, 50)
		in := media.Init{Hash: media.InitHash(data), Data: data}
		if err := st.WriteInit(ctx, "cam", in); err != nil {
			t.Fatal(err)
		}
		inits = append(inits, in)
	}
	start := t0
	for i := range n {
		if i == 10 {
			start += 7000
		}
		data := make([]byte, 500+r.IntN(500))
		for k := range data {
			data[k] = byte(r.Uint32())
		}
		if _, err := st.WriteSegment(ctx, "cam", media.Segment{Start: start, Duration: 2000, InitHash: inits[i*2/n].Hash, Data: data}); err != nil {
			t.Fatal(err)
		}
		start += 2000
	}
	return st
}

func emptyStore(t *testing.T) *orderStore {
	t.Helper()
	st := dvrstore.New(nil)
	t.Cleanup(func() { st.Close() })
	if err := st.OpenStream(ctx, sdk.StreamConfig{Stream: "cam", Root: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	return &orderStore{Store: st}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCopiesNewestFirstAndIdentical(t *testing.T) {
	src := newArchive(t, 40)
	local := emptyStore(t)
	now := time.UnixMilli(t0 + 200_000)
	job, err := New(Config{
		Stream: "cam", Source: storeSource{st: src, stream: "cam", corrupt: -1},
		Store:           func(context.Context) (sdk.Store, error) { return local, nil },
		SegmentDuration: 10 * time.Millisecond, Now: func() time.Time { return now },
		batchSegments: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	waitFor(t, "caught up", func() bool { return job.Status().CaughtUp })
	st := job.Status()
	if st.SegmentsCopied != 40 || st.SegmentsMissing != 0 || st.LastError != "" {
		t.Fatalf("status %+v, want 40 copied, none missing, no error", st)
	}
	local.mu.Lock()
	writes := append([]int64(nil), local.writes...)
	local.mu.Unlock()
	if len(writes) != 40 {
		t.Fatalf("%d segment writes noted, want 40", len(writes))
	}
	// Newest first, give or take the batches copied at the same time.
	for i := range writes {
		older := 0
		for _, w := range writes[:i] {
			if w < writes[i] {
				older++
			}
		}
		if older >= inFlight*4 {
			t.Fatalf("write %d at %d came after %d older segments: not newest first", i, writes[i], older)
		}
	}
	want, _ := src.Segments(ctx, "cam", 0, 1<<62)
	got, _ := local.Segments(ctx, "cam", 0, 1<<62)
	if len(got) != len(want) {
		t.Fatalf("%d segments copied, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Start != g.Start || w.Duration != g.Duration || w.Checksum != g.Checksum || w.InitHash != g.InitHash || w.Size != g.Size {
			t.Fatalf("segment %d: %+v, want %+v", i, g, w)
		}
		wb, _ := src.ReadSegment(ctx, "cam", w.Start)
		gb, _ := local.ReadSegment(ctx, "cam", g.Start)
		if !bytes.Equal(wb, gb) {
			t.Fatalf("segment %d: bytes differ", i)
		}
		if _, err := local.ReadInit(ctx, "cam", w.InitHash); err != nil {
			t.Fatalf("init %s not copied: %v", w.InitHash, err)
		}
	}
}

func TestDepthAndLiveGuard(t *testing.T) {
	src := newArchive(t, 40) // segments from t0 to t0+87 s
	local := emptyStore(t)
	// Now is just after the archive's end; depth 30 s.
	now := time.UnixMilli(t0 + 88_000)
	job, err := New(Config{
		Stream: "cam", Source: storeSource{st: src, stream: "cam", corrupt: -1},
		Store:           func(context.Context) (sdk.Store, error) { return local, nil },
		Depth:           30 * time.Second,
		SegmentDuration: 2 * time.Second, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	waitFor(t, "caught up", func() bool { return job.Status().CaughtUp })
	got, _ := local.Segments(ctx, "cam", 0, 1<<62)
	from, to := now.UnixMilli()-30_000, now.Add(-liveGuard(2*time.Second)).UnixMilli()
	want, _ := src.Segments(ctx, "cam", from, to)
	if len(got) != len(want) || got[0].Start != want[0].Start || got[len(got)-1].Start != want[len(want)-1].Start {
		t.Fatalf("copied %d segments, want the %d that start in [now-depth, now-guard)", len(got), len(want))
	}
}

func TestRefusesBadBytes(t *testing.T) {
	src := newArchive(t, 20)
	local := emptyStore(t)
	segs, _ := src.Segments(ctx, "cam", 0, 1<<62)
	bad := segs[5].Start
	m := NewMetrics()
	now := time.UnixMilli(t0 + 200_000)
	job, err := New(Config{
		Stream: "cam", Source: storeSource{st: src, stream: "cam", corrupt: bad},
		Store:           func(context.Context) (sdk.Store, error) { return local, nil },
		SegmentDuration: 10 * time.Millisecond, Now: func() time.Time { return now }, Metrics: m,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	waitFor(t, "the good segments", func() bool { return job.Status().SegmentsCopied == 19 })
	waitFor(t, "the error", func() bool { return strings.Contains(job.Status().LastError, "checksum") })
	if have, _ := local.Segments(ctx, "cam", bad, bad+1); len(have) != 0 {
		t.Fatal("a segment whose bytes do not match its checksum was stored")
	}
	if st := job.Status(); st.CaughtUp || st.SegmentsMissing != 1 {
		t.Fatalf("status %+v: want 1 missing and not caught up", st)
	}
}

func TestNewRejects(t *testing.T) {
	store := func(context.Context) (sdk.Store, error) { return nil, nil }
	src := storeSource{}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad stream", Config{Stream: "../x", Source: src, Store: store}, "stream name"},
		{"no source", Config{Stream: "cam", Store: store}, "no source"},
		{"no store", Config{Stream: "cam", Source: src}, "no store"},
		{"negative depth", Config{Stream: "cam", Source: src, Store: store, Depth: -1}, "negative depth"},
		{"negative speed", Config{Stream: "cam", Source: src, Store: store, Speed: -1}, "negative speed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := New(tc.cfg)
			if err == nil {
				j.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
		})
	}
}

// TestSourceWins builds the seam of a cross-replication recovery: the
// local archive recorded [t0+20 s, t0+50 s) itself with 3 s segments that
// do not line up with the source's 2 s ones. With SourceWins the local
// segments that overlap the source's are replaced; without, they stay and
// only what overlaps nothing is copied.
func TestSourceWins(t *testing.T) {
	for _, wins := range []bool{true, false} {
		t.Run(map[bool]string{true: "source wins", false: "local wins"}[wins], func(t *testing.T) {
			src := newArchive(t, 20) // 2 s segments from t0, a 7 s gap after the tenth
			local := emptyStore(t)
			own := media.Init{Hash: media.InitHash([]byte("own init")), Data: []byte("own init")}
			if err := local.WriteInit(ctx, "cam", own); err != nil {
				t.Fatal(err)
			}
			var ownStarts []int64
			for s := t0 + 20_000 + 500; s < t0+50_000; s += 3000 {
				if _, err := local.Store.WriteSegment(ctx, "cam", media.Segment{Start: s, Duration: 3000, InitHash: own.Hash, Data: []byte{byte(s)}}); err != nil {
					t.Fatal(err)
				}
				ownStarts = append(ownStarts, s)
			}
			now := time.UnixMilli(t0 + 200_000)
			job, err := New(Config{
				Stream: "cam", Source: storeSource{st: src, stream: "cam", corrupt: -1},
				Store:           func(context.Context) (sdk.Store, error) { return local, nil },
				SegmentDuration: 10 * time.Millisecond, Now: func() time.Time { return now }, SourceWins: wins,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer job.Close()
			waitFor(t, "caught up", func() bool { return job.Status().CaughtUp })
			srcSegs, _ := src.Segments(ctx, "cam", 0, 1<<62)
			got, _ := local.Segments(ctx, "cam", 0, 1<<62)
			overlaps := func(a, b sdk.SegmentInfo) bool { return a.Start < b.End() && b.Start < a.End() }
			// Expected, from the two archives as they were: the winner's
			// segments, and the loser's that overlap none of the winner's.
			ownSegs := make([]sdk.SegmentInfo, len(ownStarts))
			for i, s := range ownStarts {
				ownSegs[i] = sdk.SegmentInfo{Start: s, Duration: 3000}
			}
			winner, loser := srcSegs, ownSegs
			if !wins {
				winner, loser = ownSegs, srcSegs
			}
			want := map[int64]bool{}
			for _, w := range winner {
				want[w.Start] = true
			}
			for _, l := range loser {
				free := true
				for _, w := range winner {
					if overlaps(l, w) {
						free = false
					}
				}
				if free {
					want[l.Start] = true
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d local segments, want %d", len(got), len(want))
			}
			for _, g := range got {
				if !want[g.Start] {
					t.Fatalf("local segment %d should not be there", g.Start)
				}
			}
			if wins && job.Status().Conflicts != 0 || !wins && job.Status().Conflicts == 0 {
				t.Fatalf("conflicts %d", job.Status().Conflicts)
			}
		})
	}
}

// bulkSource is storeSource with Bulk, counting the calls of each kind;
// old makes Bulk answer as a node that predates it (404).
type bulkSource struct {
	storeSource
	old                 bool
	mu                  sync.Mutex
	bulkCalls, segCalls int
}

func (s *bulkSource) Segment(ctx context.Context, start int64) ([]byte, error) {
	s.mu.Lock()
	s.segCalls++
	s.mu.Unlock()
	return s.storeSource.Segment(ctx, start)
}

func (s *bulkSource) Bulk(ctx context.Context, from, to int64, each func(media.Segment) error) error {
	s.mu.Lock()
	s.bulkCalls++
	s.mu.Unlock()
	if s.old {
		return fmt.Errorf("m4f: GET /m4f/v1/bulk/cam: 404 not found: %w", sdk.ErrNotFound)
	}
	segs, err := s.st.Segments(ctx, s.stream, from, to)
	if err != nil {
		return err
	}
	for _, si := range segs {
		b, err := s.storeSource.Segment(ctx, si.Start)
		if err != nil {
			return err
		}
		if err := each(media.Segment{Start: si.Start, Duration: si.Duration, InitHash: si.InitHash, Data: b}); err != nil {
			return err
		}
	}
	return nil
}

// TestBulk: a source with Bulk is asked for each batch of consecutive
// missing segments once, and the copy is identical and verified (a
// corrupted segment is refused); a source that answers Bulk with 404 is
// copied segment by segment.
func TestBulk(t *testing.T) {
	for _, old := range []bool{false, true} {
		t.Run(fmt.Sprintf("old=%v", old), func(t *testing.T) {
			src := newArchive(t, 40)
			segs, _ := src.Segments(ctx, "cam", 0, 1<<62)
			bad := segs[25].Start
			local := emptyStore(t)
			// The local store already has segment 30: two runs of missing segments.
			have, _ := src.ReadSegment(ctx, "cam", segs[30].Start)
			if _, err := local.Store.WriteSegment(ctx, "cam", media.Segment{Start: segs[30].Start, Duration: segs[30].Duration, InitHash: segs[30].InitHash, Data: have}); err != nil {
				t.Fatal(err)
			}
			bs := &bulkSource{storeSource: storeSource{st: src, stream: "cam", corrupt: bad}, old: old}
			now := time.UnixMilli(t0 + 200_000)
			job, err := New(Config{
				Stream: "cam", Source: bs,
				Store:           func(context.Context) (sdk.Store, error) { return local, nil },
				SegmentDuration: 10 * time.Millisecond, Now: func() time.Time { return now },
				batchSegments: 8,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer job.Close()
			waitFor(t, "the good segments", func() bool { return job.Status().SegmentsCopied == 38 })
			waitFor(t, "the checksum error", func() bool { return strings.Contains(job.Status().LastError, "checksum") })
			job.Close()
			got, _ := local.Segments(ctx, "cam", 0, 1<<62)
			if len(got) != 39 {
				t.Fatalf("%d segments here, want 39 (all but the corrupted one)", len(got))
			}
			for _, g := range got {
				if g.Start == bad {
					t.Fatal("a segment whose bytes do not match its checksum was stored")
				}
				wb, _ := src.ReadSegment(ctx, "cam", g.Start)
				gb, _ := local.ReadSegment(ctx, "cam", g.Start)
				if !bytes.Equal(wb, gb) {
					t.Fatalf("segment %d: bytes differ", g.Start)
				}
			}
			bs.mu.Lock()
			defer bs.mu.Unlock()
			if old {
				if bs.segCalls < 38 {
					t.Fatalf("%d Segment calls; a source without Bulk must be copied segment by segment", bs.segCalls)
				}
				return
			}
			// Runs of 30 and 9 segments in batches of 8: 4 + 2 bulk calls at
			// the first pass; the later passes only ask for the corrupted one.
			if bs.segCalls != 0 || bs.bulkCalls < 6 {
				t.Fatalf("%d Segment and %d Bulk calls; want Bulk only, 6 or more", bs.segCalls, bs.bulkCalls)
			}
		})
	}
}
