package node

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgedvr/edge/internal/safe"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// panicOnce is an ingest whose first Capture panics (a bug met on what a
// plugin sent), then behaves.
type panicOnce struct {
	ingest
	calls atomic.Int32
}

func (p *panicOnce) Capture(ctx context.Context, req sdk.CaptureRequest, emit func(sdk.Event) error) error {
	if p.calls.Add(1) == 1 {
		var m map[string]int
		m[req.URL]++
	}
	return p.ingest.Capture(ctx, req, emit)
}

// TestStreamSurvivesPanics: a panic in a Capture call is that call's
// failure (retried), and a panic while an event is handled drops that
// event; the stream goes on taking segments, and both are counted.
func TestStreamSurvivesPanics(t *testing.T) {
	src := newSource("cam", 1_000_000)
	s := newTestStream(t, time.Minute, ingest{"udp://127.0.0.1:1": src}, "udp://127.0.0.1:1")
	ing := &panicOnce{ingest: ingest{"udp://127.0.0.1:1": src}}
	s.inputs[0].ingest = func(context.Context) (sdk.Ingest, error) { return ing, nil }
	ingestPanics, eventPanics := testutil.ToFloat64(safe.Counter("ingest")), testutil.ToFloat64(safe.Counter("stream_event"))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	src.set(true)
	waitFor(t, "the capture after the panicking one", func() bool { src.mu.Lock(); defer src.mu.Unlock(); return len(src.subs) == 1 })
	if ing.calls.Load() != 2 {
		t.Fatalf("%d Capture calls, want 2 (the panicking one retried)", ing.calls.Load())
	}
	src.tick()
	waitFor(t, "a segment", func() bool { return len(s.live.Snapshot().Segments) == 1 })

	// An event the loop cannot handle (no such input) panics in handle.
	s.events <- inputEvent{input: 7, ev: sdk.Event{Segment: &media.Segment{Start: 5}}}
	src.tick()
	src.tick()
	waitFor(t, "segments after the bad event", func() bool { return len(s.live.Snapshot().Segments) == 3 })

	if n := testutil.ToFloat64(safe.Counter("ingest")) - ingestPanics; n != 1 {
		t.Fatalf("ingest panics counted %v, want 1", n)
	}
	if n := testutil.ToFloat64(safe.Counter("stream_event")) - eventPanics; n != 1 {
		t.Fatalf("stream_event panics counted %v, want 1", n)
	}
}
