package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// base is the UTC ms where test timelines start.
const base = int64(1_700_000_000_000)

const segDur = 3000

// at is the start of the i-th 3 s segment of a test timeline.
func at(i int) int64 { return base + int64(i)*segDur }

var testInit = func() media.Init {
	in := media.Init{Data: []byte("ftyp+moov of the test stream"), Codecs: "avc1.64001f"}
	in.Hash = media.InitHash(in.Data)
	return in
}()

// errRefused stands for a source that cannot be reached.
var errRefused = errors.New("dial tcp 127.0.0.1:1: connection refused")

// fakeStore holds a real archive in memory: segment bytes, their infos and
// an init. It serves as a source's Remote (its own archive only, like an
// origin) and, through local(), as a node's Local. Calls are counted.
type fakeStore struct {
	owner string

	mu    sync.Mutex
	segs  []sdk.SegmentInfo // sorted by start
	data  map[int64][]byte
	err   error         // every call fails with it
	block bool          // every call waits for its context to end
	gate  chan struct{} // Segment waits for it when set

	nRanges, nSegments, nSegment, nInit atomic.Int64
	lastVia, lastHops                   string
}

func newStore(owner string) *fakeStore {
	return &fakeStore{owner: owner, data: make(map[int64][]byte)}
}

// payload is the bytes of a segment; owner makes sources' copies differ so a
// test can tell where bytes came from.
func payload(owner string, start int64) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("%s:%d;", owner, start)), 64)
}

// add records segments [from, to) of the test timeline, shifted by shift ms.
func (f *fakeStore) add(from, to int, shift int64) *fakeStore {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := from; i < to; i++ {
		start := at(i) + shift
		b := payload(f.owner, start)
		f.data[start] = b
		f.segs = append(f.segs, sdk.SegmentInfo{Start: start, Duration: segDur, Size: int64(len(b)),
			InitHash: testInit.Hash, Checksum: media.Checksum(b), Path: "/remote/" + f.owner})
	}
	sort.Slice(f.segs, func(i, j int) bool { return f.segs[i].Start < f.segs[j].Start })
	return f
}

func (f *fakeStore) enter(ctx context.Context, via, hops string) error {
	f.mu.Lock()
	f.lastVia, f.lastHops = via, hops
	err, block := f.err, f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (f *fakeStore) Ranges(ctx context.Context, stream string, from, to int64, via, hops string) ([]sdk.Range, error) {
	f.nRanges.Add(1)
	if err := f.enter(ctx, via, hops); err != nil {
		return nil, err
	}
	var out []sdk.Range
	for _, s := range f.list(from-maxSegmentMs, to) {
		if s.End() <= from {
			continue
		}
		if k := len(out) - 1; k >= 0 && s.Start <= out[k].To+250 {
			out[k].To = s.End()
			continue
		}
		out = append(out, sdk.Range{From: s.Start, To: s.End()})
	}
	return out, nil
}

func (f *fakeStore) list(from, to int64) []sdk.SegmentInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := sort.Search(len(f.segs), func(i int) bool { return f.segs[i].Start >= from })
	j := sort.Search(len(f.segs), func(j int) bool { return f.segs[j].Start >= to })
	return append([]sdk.SegmentInfo(nil), f.segs[i:j]...)
}

func (f *fakeStore) Segments(ctx context.Context, stream string, from, to int64, via, hops string) ([]sdk.SegmentInfo, error) {
	f.nSegments.Add(1)
	if err := f.enter(ctx, via, hops); err != nil {
		return nil, err
	}
	return f.list(from, to), nil
}

func (f *fakeStore) Segment(ctx context.Context, stream string, start int64, via, hops string) ([]byte, error) {
	f.nSegment.Add(1)
	if err := f.enter(ctx, via, hops); err != nil {
		return nil, err
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	b, ok := f.data[start]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("segment %d: %w", start, sdk.ErrNotFound)
	}
	return b, nil
}

func (f *fakeStore) Init(ctx context.Context, stream, hash string, via, hops string) (media.Init, error) {
	f.nInit.Add(1)
	if err := f.enter(ctx, via, hops); err != nil {
		return media.Init{}, err
	}
	if hash != testInit.Hash {
		return media.Init{}, sdk.ErrNotFound
	}
	return testInit, nil
}

func (f *fakeStore) local() Local { return localStore{f} }

// localStore is a fakeStore as a node's local archive.
type localStore struct{ f *fakeStore }

func (l localStore) Ranges(ctx context.Context, from, to int64) ([]sdk.Range, error) {
	return l.f.Ranges(ctx, "", from, to, "", "")
}
func (l localStore) Segments(ctx context.Context, from, to int64) ([]sdk.SegmentInfo, error) {
	segs, err := l.f.Segments(ctx, "", from, to, "", "")
	for i := range segs {
		segs[i].Path = ""
	}
	return segs, err
}
func (l localStore) ReadInit(ctx context.Context, hash string) (media.Init, error) {
	return l.f.Init(ctx, "", hash, "", "")
}
func (l localStore) ReadSegment(ctx context.Context, start int64) ([]byte, error) {
	return l.f.Segment(ctx, "", start, "", "")
}

// nodeRemote reaches another node's lookup the way the M4F protocol does:
// the receiving side parses Via/Hops, answers 508 (ErrLoop) when it finds
// itself in Via, and hands the chain to its lookup in the context.
type nodeRemote struct {
	target *Archive
	calls  atomic.Int64
	loops  atomic.Int64
}

func (n *nodeRemote) enter(ctx context.Context, via, hops string) (context.Context, error) {
	n.calls.Add(1)
	c, err := cluster.ParseChain(via, hops)
	if err != nil {
		return nil, fmt.Errorf("400: %v", err)
	}
	if c.Has(n.target.cfg.Self) {
		n.loops.Add(1)
		return nil, fmt.Errorf("508 from %s: %w", n.target.cfg.Self, ErrLoop)
	}
	return cluster.WithChain(ctx, c), nil
}

func (n *nodeRemote) Ranges(ctx context.Context, stream string, from, to int64, via, hops string) ([]sdk.Range, error) {
	ctx, err := n.enter(ctx, via, hops)
	if err != nil {
		return nil, err
	}
	return n.target.Ranges(ctx, from, to)
}

func (n *nodeRemote) Segments(ctx context.Context, stream string, from, to int64, via, hops string) ([]sdk.SegmentInfo, error) {
	ctx, err := n.enter(ctx, via, hops)
	if err != nil {
		return nil, err
	}
	segs, err := n.target.Segments(ctx, from, to)
	out := make([]sdk.SegmentInfo, len(segs))
	for i, s := range segs {
		s.Path = "" // paths do not cross the wire
		out[i] = s
	}
	return out, err
}

func (n *nodeRemote) Segment(ctx context.Context, stream string, start int64, via, hops string) ([]byte, error) {
	ctx, err := n.enter(ctx, via, hops)
	if err != nil {
		return nil, err
	}
	return n.target.ReadSegment(ctx, start)
}

func (n *nodeRemote) Init(ctx context.Context, stream, hash string, via, hops string) (media.Init, error) {
	ctx, err := n.enter(ctx, via, hops)
	if err != nil {
		return media.Init{}, err
	}
	return n.target.ReadInit(ctx, hash)
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newArchive(t testing.TB, cfg Config) *Archive {
	t.Helper()
	if cfg.Stream == "" {
		cfg.Stream = "cam"
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("new lookup: %v", err)
	}
	return a
}

func openDisk(t testing.TB, cfg cache.DiskConfig) *cache.Disk {
	t.Helper()
	if cfg.Root == "" {
		cfg.Root = t.TempDir()
	}
	d, err := cache.OpenDisk(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	// Writes behind an answer end before the directory goes (cleanups run
	// last-registered first).
	t.Cleanup(d.Wait)
	return d
}

// testCtx is a context with a generous deadline: a lookup that hangs fails
// the test instead of the suite.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkTimeline fails unless segs are sorted, do not overlap and have no gap.
func checkTimeline(t *testing.T, segs []sdk.SegmentInfo) {
	t.Helper()
	for i := 1; i < len(segs); i++ {
		p, s := segs[i-1], segs[i]
		if s.Start <= p.Start {
			t.Fatalf("segment %d (%d) not after %d", i, s.Start, p.Start)
		}
		if s.Start != p.End() {
			t.Fatalf("segment %d: start %d, previous ends at %d", i, s.Start, p.End())
		}
	}
}

// pollUntil polls cond until it holds or 10 s pass.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func cacheCfg() cache.DiskConfig { return cache.DiskConfig{} }
