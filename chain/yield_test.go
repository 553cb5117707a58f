package chain

import (
	"context"
	"io"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/edgedvr/edge/sdk"
)

// countingStore is a streamStore whose bodies count the bytes the fill has
// read from them.
type countingStore struct {
	*streamStore
	read atomic.Int64
}

func (s *countingStore) OpenSegment(ctx context.Context, stream string, start int64, via, hops string) (io.ReadCloser, sdk.SegmentInfo, error) {
	body, info, err := s.streamStore.OpenSegment(ctx, stream, start, via, hops)
	if err != nil {
		return nil, info, err
	}
	return countingBody{body, &s.read}, info, nil
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// A viewer gets the first bytes of a cold segment while the fill is still
// reading the body, even on one P with a body whose reads never block (a
// socket that already holds the whole segment): the fill yields to the
// viewers it readied instead of reading on to the end first.
func TestOpenSegmentViewerNotStarved(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ctx := testCtx(t)
	useWarmFills(t, false, 0)
	remote := &countingStore{streamStore: &streamStore{fakeStore: newStore("r").add(0, 3, 0)}}
	arch := newArchive(t, Config{Self: "edge", Sources: []Source{{Name: "r", Remote: remote}}})
	want := payload("r", at(1))
	r, size, err := arch.OpenSegment(ctx, at(1))
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(len(want)) {
		t.Fatalf("size %d, want %d", size, len(want))
	}
	p := make([]byte, len(want))
	n, err := r.Read(p)
	if err != nil || n == 0 {
		t.Fatalf("first read: %d bytes, %v", n, err)
	}
	if got := remote.read.Load(); got >= size {
		t.Fatalf("the fill had read all %d bytes of the body before the viewer's first %d: the viewer waited for the whole body", got, n)
	}
	rest, err := io.ReadAll(r)
	if err != nil || n+len(rest) != len(want) {
		t.Fatalf("read %d+%d bytes, %v; want %d", n, len(rest), err, len(want))
	}
}
