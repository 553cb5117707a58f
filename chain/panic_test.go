package chain

import (
	"bytes"
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgedvr/edge/internal/safe"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// buggyRemote panics on every call, as a decoder with a bug would on a
// peer's crafted answer (an index out of range).
type buggyRemote struct{}

func (buggyRemote) crash() { var b []byte; _ = b[len(b)+7] }
func (r buggyRemote) Ranges(context.Context, string, int64, int64, string, string) ([]sdk.Range, error) {
	r.crash()
	return nil, nil
}
func (r buggyRemote) Segments(context.Context, string, int64, int64, string, string) ([]sdk.SegmentInfo, error) {
	r.crash()
	return nil, nil
}
func (r buggyRemote) Segment(context.Context, string, int64, string, string) ([]byte, error) {
	r.crash()
	return nil, nil
}
func (r buggyRemote) Init(context.Context, string, string, string, string) (media.Init, error) {
	r.crash()
	return media.Init{}, nil
}

// TestSourcePanics: a panic while a lookup calls a source (on the fan-out
// goroutines and inside the coalesced fetch, where nothing else could
// recover it) fails that source's call only: the lookup answers from the
// other source, and the panics are counted.
func TestSourcePanics(t *testing.T) {
	ctx := testCtx(t)
	good := newStore("good").add(0, 10, 0)
	before := testutil.ToFloat64(safe.Counter("chain"))
	arch := newArchive(t, Config{Self: "edge", Sources: []Source{{Name: "bad", Remote: buggyRemote{}}, {Name: "good", Remote: good}}})

	segs, err := arch.Segments(ctx, at(0), at(10))
	if err != nil || len(segs) != 10 {
		t.Fatalf("segments with a panicking source: %d, %v; want the good source's 10", len(segs), err)
	}
	checkTimeline(t, segs)
	ranges, err := arch.Ranges(ctx, at(0), at(10))
	if err != nil || len(ranges) != 1 || ranges[0].From != at(0) || ranges[0].To != at(10) {
		t.Fatalf("ranges with a panicking source: %+v, %v", ranges, err)
	}
	if n := testutil.ToFloat64(safe.Counter("chain")) - before; n < 1 {
		t.Fatalf("chain panics counted %v, want at least 1", n)
	}

	// Only the buggy source: reads fail with an error, they do not crash.
	only := newArchive(t, Config{Self: "edge", Sources: []Source{{Name: "bad", Remote: buggyRemote{}}}})
	if _, err := only.ReadSegment(ctx, at(1)); err == nil {
		t.Fatal("read from a panicking source: no error")
	}
	if _, err := only.ReadInit(ctx, testInit.Hash); err == nil {
		t.Fatal("init from a panicking source: no error")
	}
	// The good source still serves reads after the panics.
	got, err := arch.ReadSegment(ctx, at(3))
	if err != nil || !bytes.Equal(got, payload("good", at(3))) {
		t.Fatalf("read after the panics: %v", err)
	}
}
