package cache

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgedvr/edge/media"
)

func seg(start, dur int64, init string) media.Segment {
	return media.Segment{Start: start, Duration: dur, InitHash: init, Data: []byte(init)}
}

func TestLiveWindow(t *testing.T) {
	a := media.Init{Hash: "aaaaaaaaaaaaaaaa", Data: []byte("A")}
	b := media.Init{Hash: "bbbbbbbbbbbbbbbb", Data: []byte("B")}
	l := NewLive(3)
	if _, ok := l.Snapshot().Last(); ok {
		t.Fatal("new window not empty")
	}
	pushes := []struct {
		init media.Init
		seg  media.Segment
		disc bool
	}{
		{a, seg(1_000_000, 3000, a.Hash), false},
		{a, seg(1_003_000, 3000, a.Hash), false},
		{a, seg(1_006_200, 3000, a.Hash), false}, // 200 ms hole: within max(250, 300)
		{a, seg(1_010_000, 3000, a.Hash), true},  // 800 ms hole
		{b, seg(1_013_000, 3000, b.Hash), true},  // init change
		{b, seg(1_015_900, 3000, b.Hash), false}, // 100 ms overlap
	}
	for i, p := range pushes {
		l.Push(p.init, p.seg)
		v := l.Snapshot()
		last, _ := v.Last()
		// Captured here (unnumbered): the first segment gets firstNumbers
		// of its start (before the numbering epoch: the rooms), then one more each.
		if last.Seq != seqRoom+int64(i) || last.Disc != p.disc || last.Index != int64(i)+1 {
			t.Errorf("push %d: seq %d disc %v index %d, want %d %v %d", i, last.Seq, last.Disc, last.Index, seqRoom+i, p.disc, i+1)
		}
		if len(v.Segments) > 3 {
			t.Errorf("push %d: %d segments kept, want <= 3", i, len(v.Segments))
		}
		for _, s := range v.Segments {
			if _, ok := v.Inits[s.InitHash]; !ok {
				t.Errorf("push %d: init %s of segment %d missing", i, s.InitHash, s.Start)
			}
		}
	}
	v := l.Snapshot()
	if len(v.Inits) != 2 || v.Segments[0].Start != 1_010_000 {
		t.Errorf("window after pushes: %d inits, first %d", len(v.Inits), v.Segments[0].Start)
	}
	if got := v.Segments[2].DiscSeq; got != 1002 {
		t.Errorf("DiscSeq = %d, want 1002", got)
	}
	// A segment that does not start after the newest is ignored.
	l.Push(b, seg(1_015_900, 3000, b.Hash))
	if last, _ := l.Snapshot().Last(); last.Seq != seqRoom+5 || len(l.Snapshot().Segments) != 3 {
		t.Errorf("duplicate push changed the window: seq %d", last.Seq)
	}
	if s, ok := l.Segment(1_013_000); !ok || string(s.Data) != b.Hash {
		t.Errorf("Segment(1013000) = %v, %v", s, ok)
	}
	if _, ok := l.Segment(1_000_000); ok {
		t.Error("evicted segment still found")
	}
	l.Push(b, seg(1_019_000, 3000, b.Hash))
	if _, ok := l.Init(a.Hash); ok {
		t.Error("init no segment uses is still held")
	}
	if in, ok := l.Init(b.Hash); !ok || string(in.Data) != "B" {
		t.Error("init b not found")
	}
}

func TestLiveWait(t *testing.T) {
	l := NewLive(0)
	in := media.Init{Hash: "aaaaaaaaaaaaaaaa"}
	l.Push(in, seg(5_000, 1000, in.Hash))
	if err := l.Wait(context.Background(), 0); err != nil {
		t.Fatalf("Wait for an existing segment: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a cancelled context = %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			errs <- l.Wait(ctx, 1)
		}()
	}
	l.Push(in, seg(6_000, 1000, in.Hash))
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Wait: %v", err)
		}
	}
}

// numbered returns a segment as the node that captured it numbered it.
func numbered(start, dur int64, init string, seq, discSeq int64) media.Segment {
	s := seg(start, dur, init)
	s.Seq, s.DiscSeq = seq, discSeq
	return s
}

// TestLiveNumbering checks the HLS numbers of a window: captured here, the
// first number comes from the start time; pushed numbered by another node,
// the numbers are kept so every node agrees, and they never go back.
func TestLiveNumbering(t *testing.T) {
	a := media.Init{Hash: "aaaaaaaaaaaaaaaa", Data: []byte("A")}
	b := media.Init{Hash: "bbbbbbbbbbbbbbbb", Data: []byte("B")}
	const t0 = 1_796_000_000_000 // 2026-11-30, after the numbering epoch
	l := NewLive(10)
	l.Push(a, seg(t0, 3000, a.Hash))
	first, _ := l.Snapshot().Last()
	// 28,774,400 s after 2026-01-01, 7992 h: small enough for 32-bit players and hls.js.
	if wantSeq, wantDisc := int64(t0/1000-1_767_225_600+86_400), int64((t0/1000-1_767_225_600)/3600+1000); first.Seq != wantSeq || first.DiscSeq != wantDisc {
		t.Fatalf("first numbers %d/%d, want %d/%d", first.Seq, first.DiscSeq, wantSeq, wantDisc)
	}

	type want struct {
		seq, disc   int64
		isDisc, brk bool
	}
	steps := []struct {
		name string
		init media.Init
		seg  media.Segment
		want want
	}{
		{"numbered from the start", a, numbered(t0+3000, 3000, a.Hash, 500, 40), want{500, 40, false, false}},
		{"next", a, numbered(t0+6000, 3000, a.Hash, 501, 40), want{501, 40, false, false}},
		{"the source marks a discontinuity", b, numbered(t0+9000, 3000, b.Hash, 502, 41), want{502, 41, true, false}},
		{"a segment missed: a break", b, numbered(t0+15000, 3000, b.Hash, 504, 41), want{504, 41, true, true}},
		{"numbers go back (another source)", b, numbered(t0+18000, 3000, b.Hash, 7, 3), want{505, 42, true, false}},
		{"and stay shifted", b, numbered(t0+21000, 3000, b.Hash, 8, 3), want{506, 42, false, false}},
	}
	// The first numbered push into a window that has numbers of its own
	// would go back (500 < 28M): start a fresh window for the steps.
	l = NewLive(10)
	for _, st := range steps {
		l.Push(st.init, st.seg)
		got, _ := l.Snapshot().Last()
		if (want{got.Seq, got.DiscSeq, got.Disc, got.Break}) != st.want {
			t.Errorf("%s: got seq %d disc %d disc? %v break %v, want %+v", st.name, got.Seq, got.DiscSeq, got.Disc, got.Break, st.want)
		}
	}

	// Released and woken again: empty, and the numbers go on.
	l.Reset()
	if len(l.Snapshot().Segments) != 0 {
		t.Fatal("Reset left segments")
	}
	l.Push(b, seg(t0+60_000, 3000, b.Hash))
	if got, _ := l.Snapshot().Last(); got.Seq != 507 || got.DiscSeq != 43 || got.Index != 7 {
		t.Errorf("after Reset: seq %d disc %d index %d, want 507 43 7", got.Seq, got.DiscSeq, got.Index)
	}
}

func TestLiveTargetDuration(t *testing.T) {
	a := media.Init{Hash: "aaaaaaaaaaaaaaaa"}
	l := NewLive(2)
	if got := l.TargetDuration(); got != 1 {
		t.Errorf("empty: %d, want 1", got)
	}
	for i, d := range []int64{3000, 3400, 4600, 1000, 2000, 3000} {
		l.Push(a, seg(int64(i)*10_000, d, a.Hash))
	}
	// The longest rounded to the nearest second (4.6 s -> 5), and it stays
	// after that segment left the window.
	if got := l.TargetDuration(); got != 5 {
		t.Errorf("target %d, want 5", got)
	}
}

// TestLiveConcurrent runs readers against a writer; run with -race.
func TestLiveConcurrent(t *testing.T) {
	l := NewLive(5)
	in := media.Init{Hash: "aaaaaaaaaaaaaaaa"}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				v := l.Snapshot()
				for i := 1; i < len(v.Segments); i++ {
					if v.Segments[i].Seq != v.Segments[i-1].Seq+1 {
						t.Error("sequence not consecutive")
						return
					}
				}
			}
		}()
	}
	for i := range int64(2000) {
		l.Push(in, seg(i*1000, 1000, in.Hash))
	}
	close(done)
	wg.Wait()
}

func TestMemoryBudget(t *testing.T) {
	m := NewMemory(1000)
	k := func(i int64) Key { return Key{Stream: "s", Start: i} }
	m.Add(k(1), make([]byte, 400))
	m.Add(k(2), make([]byte, 400))
	if _, ok := m.Get(k(1)); !ok { // 1 is now most recent
		t.Fatal("miss on a fresh entry")
	}
	m.Add(k(3), make([]byte, 400)) // evicts 2
	if _, ok := m.Get(k(2)); ok {
		t.Error("least recently used entry not evicted")
	}
	m.Add(k(4), make([]byte, 2000)) // larger than the budget: not stored
	if _, ok := m.Get(k(4)); ok {
		t.Error("entry over budget stored")
	}
	m.Add(k(1), make([]byte, 100)) // replace: bytes drop
	st := m.Stats()
	if st.Bytes != 500 || st.Entries != 2 || st.Evictions != 1 || st.Hits != 1 || st.Misses != 2 {
		t.Errorf("stats = %+v", st)
	}
	for i := range int64(100) {
		m.Add(k(100+i), make([]byte, 1+i*7%300))
		if st := m.Stats(); st.Bytes > 1000 {
			t.Fatalf("bytes %d over budget", st.Bytes)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collector())
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP edge_cache_budget_bytes Byte budget of the memory cache.
# TYPE edge_cache_budget_bytes gauge
edge_cache_budget_bytes 1000
`), "edge_cache_budget_bytes"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 6 {
		t.Errorf("collector exports %d metrics (%v), want 6", n, err)
	}
}
