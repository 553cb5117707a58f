package m4f

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// TestCaptureFutureSegment: one segment dated an hour ahead of the wall
// clock does not make the capture skip every later segment as "older
// than those already captured"; replays of the new timeline are still
// skipped.
func TestCaptureFutureSegment(t *testing.T) {
	in := testInit(1)
	segs := make([]media.Segment, 4)
	for i := range segs {
		segs[i] = testSegment(in, i, 30_000)
	}
	future := testSegment(in, 9, 30_000)
	future.Start = t0 + int64(time.Hour/time.Millisecond)
	p := newPeer(t, func(c *liveConn) {
		c.init(in)
		switch c.n {
		case 0:
			c.segment(segs[0])
			c.segment(future)
			// The peer's timeline restarts: a Reader refuses a segment
			// that goes back within one connection, so the client
			// reconnects.
			c.segment(segs[1])
		case 1:
			// The backlog of the restarted timeline, then a clean end.
			c.segment(segs[1])
			c.segment(segs[2])
		default:
			c.segment(segs[2]) // a replay of what was captured: skipped
			c.segment(segs[3])
			c.heartbeats()
		}
	})
	// The wall clock is at the end of segs[3].
	r := startCapture(t, p, testKey, func(in *Ingest) { in.Now = func() time.Time { return time.UnixMilli(segs[3].End()) } })
	expectInit(t, r.ev.next(t), in)
	expectSegment(t, r.ev.next(t), segs[0])
	expectSegment(t, r.ev.next(t), future)
	expectInit(t, r.ev.next(t), in)
	expectSegment(t, r.ev.next(t), segs[1])
	expectSegment(t, r.ev.next(t), segs[2])
	expectInit(t, r.ev.next(t), in)
	expectSegment(t, r.ev.next(t), segs[3])
	r.stop(t)
	r.ev.none(t)
	if logs := r.logs.String(); !strings.Contains(logs, "captured timeline is ahead of the wall clock") {
		t.Errorf("the restart is not logged:\n%s", logs)
	}
}

// TestCapturePanicRecovered: a panic during a capture session (here in the
// host's emit, the one place a test can make one without a bug in the
// reader) ends that session only: it is logged with its stack, the
// capture reconnects and goes on delivering.
func TestCapturePanicRecovered(t *testing.T) {
	in := testInit(1)
	segs := make([]media.Segment, 4)
	for i := range segs {
		segs[i] = testSegment(in, i, 20_000)
	}
	p := newPeer(t, func(c *liveConn) {
		c.init(in)
		for _, s := range segs {
			c.segment(s)
		}
		c.heartbeats()
	})
	logs := &logBuffer{}
	ing := New(logs.logger())
	ing.IdleTimeout = 300 * time.Millisecond
	ing.MinBackoff, ing.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	ev := newEvents()
	var panicked atomic.Bool
	emit := func(e sdk.Event) error {
		if e.Segment != nil && e.Segment.Start == segs[1].Start && panicked.CompareAndSwap(false, true) {
			var m map[int64]bool
			m[e.Segment.Start] = true
		}
		return ev.emit(e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ing.Capture(ctx, sdk.CaptureRequest{Stream: "cam", URL: "m4f://" + p.addr() + "/cam", Node: testNode, Key: testKey}, emit)
	}()
	expectInit(t, ev.next(t), in)
	expectSegment(t, ev.next(t), segs[0])
	// The panic on segs[1] ends the session; the next one starts with the
	// init and delivers segs[1] (not yet emitted) onwards.
	expectInit(t, ev.next(t), in)
	for _, s := range segs[1:] {
		expectSegment(t, ev.next(t), s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Capture returned %v after cancel", err)
	}
	out := logs.String()
	for _, want := range []string{"panic recovered", "where=m4f_ingest", "TestCapturePanicRecovered"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
}
