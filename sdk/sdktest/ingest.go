package sdktest

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// IngestHarness gives the suite an ingest plugin and an input it captures.
type IngestHarness struct {
	// Ingest returns the plugin under test (in process, or a Supervisor's
	// client).
	Ingest func(t *testing.T) sdk.Ingest
	// Request is an input that delivers media as soon as Capture starts
	// and for at least Segments segments (e.g. a file:// input, or a
	// sender the harness started).
	Request func(t *testing.T) sdk.CaptureRequest
	// Segments is how many media segments the suite waits for. By
	// default, 4.
	Segments int
	// Timeout bounds the wait for them. By default, 30 s.
	Timeout time.Duration
}

// boxType is the type of the first ISO BMFF box of b, "" when b is too short.
func boxType(b []byte) string {
	if len(b) < 8 || binary.BigEndian.Uint32(b) < 8 {
		return ""
	}
	return string(b[4:8])
}

// RunIngest runs the ingest conformance suite: the order of events, the
// hash and timing rules of docs/plugins.md, a graceful stop that flushes
// and returns nil within 3 s, and a Capture that returns once emit fails.
func RunIngest(t *testing.T, h IngestHarness) {
	n := h.Segments
	if n <= 0 {
		n = 4
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}

	t.Run("events in order and stop", func(t *testing.T) {
		ing := h.Ingest(t)
		req := h.Request(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		inits := map[string]bool{}
		var segs []media.Segment
		var lastStats media.Stats
		var bad []string
		enough := make(chan struct{})
		emit := func(e sdk.Event) error {
			switch {
			case e.Init != nil && e.Segment != nil:
				bad = append(bad, "an event with both an init and a segment")
			case e.Init != nil:
				if e.Init.Hash != media.InitHash(e.Init.Data) {
					bad = append(bad, "init hash "+e.Init.Hash+" is not media.InitHash of its data")
				}
				if typ := boxType(e.Init.Data); typ != "ftyp" {
					bad = append(bad, "init does not start with ftyp but "+typ)
				}
				inits[e.Init.Hash] = true
			case e.Segment != nil:
				s := *e.Segment
				if !inits[s.InitHash] {
					bad = append(bad, "segment before the init it refers to")
				}
				if s.Duration <= 0 {
					bad = append(bad, "segment without a positive duration")
				}
				if k := len(segs); k > 0 && s.Start <= segs[k-1].Start {
					bad = append(bad, "segment starts do not strictly increase")
				}
				if typ := boxType(s.Data); typ != "moof" && typ != "styp" {
					bad = append(bad, "segment does not start with moof but "+typ)
				}
				if len(s.Data) > sdk.MaxSegmentSize {
					bad = append(bad, "segment over sdk.MaxSegmentSize")
				}
				segs = append(segs, s)
				if len(segs) == n {
					close(enough)
				}
			}
			if e.Stats.Frames < lastStats.Frames || e.Stats.Packets < lastStats.Packets || e.Stats.Segments < lastStats.Segments {
				bad = append(bad, "stats went down")
			}
			lastStats = e.Stats
			return nil
		}
		done := make(chan error, 1)
		go func() { done <- ing.Capture(ctx, req, emit) }()
		select {
		case <-enough:
		case err := <-done:
			t.Fatalf("Capture returned %v before %d segments", err, n)
		case <-time.After(timeout):
			cancel()
			<-done
			t.Fatalf("%d segments in %v, want %d", len(segs), timeout, n)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Capture returned %v after its ctx was canceled, want nil", err)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("Capture did not return within 3 s of its ctx being canceled")
		}
		for _, b := range bad {
			t.Error(b)
		}
		now := time.Now().UnixMilli()
		for _, s := range segs {
			if s.Start < now-int64(time.Hour/time.Millisecond) || s.Start > now+60000 {
				t.Errorf("segment start %d is not UTC wall-clock time (now %d)", s.Start, now)
				break
			}
		}
	})

	t.Run("returns when emit fails", func(t *testing.T) {
		ing := h.Ingest(t)
		req := h.Request(t)
		gone := errors.New("host gone")
		done := make(chan error, 1)
		go func() {
			done <- ing.Capture(context.Background(), req, func(e sdk.Event) error {
				if e.Segment != nil {
					return gone
				}
				return nil
			})
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("Capture returned nil after emit failed; want an error")
			}
		case <-time.After(timeout):
			t.Fatalf("Capture did not return within %v of emit failing", timeout)
		}
	})
}
