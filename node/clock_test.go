package node

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestTimelineAheadOfClock drives a stream with an injected wall clock:
// a segment dated an hour ahead, or a clock that steps back an hour, must
// not make the stream drop every later segment (until the clock catches
// up); a source ahead of the clock all along keeps refusing overlaps.
func TestTimelineAheadOfClock(t *testing.T) {
	const hour = int64(time.Hour / time.Millisecond)
	t0 := int64(1_800_000_000_000)
	tests := []struct {
		name string
		// steps: before each tick, the source's next start and the clock,
		// both relative to t0 in ms.
		steps [][2]int64
		// want: the live window's starts afterwards, relative to t0.
		want    []int64
		dropped uint64
	}{
		{
			name:  "one segment from a peer dated an hour ahead",
			steps: [][2]int64{{-4000, 0}, {hour, 1000}, {-2000, 1000}, {-1000, 1000}, {0, 1500}},
			want:  []int64{-2000, -1000, 0},
		},
		{
			name:  "the clock steps back an hour and the source re-anchors on it",
			steps: [][2]int64{{-3000, 0}, {-2000, 1000}, {-hour, -hour + 1000}, {-hour + 1000, -hour + 2000}},
			want:  []int64{-hour, -hour + 1000},
		},
		{
			name:    "a source an hour ahead all along still has its replays refused",
			steps:   [][2]int64{{hour, 0}, {hour + 1000, 1000}, {hour, 2000}, {hour + 2000, 3000}},
			want:    []int64{hour, hour + 1000, hour + 2000},
			dropped: 1,
		},
		{
			name:    "an overlap at the clock (a failover) is still refused",
			steps:   [][2]int64{{-3000, 0}, {-2000, 0}, {-2500, 0}, {-1000, 0}},
			want:    []int64{-3000, -2000, -1000},
			dropped: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newSource("peer", t0)
			s := newTestStream(t, time.Minute, ingest{"udp://127.0.0.1:1": src}, "udp://127.0.0.1:1")
			var clock atomic.Int64
			clock.Store(t0)
			s.clock = func() time.Time { return time.UnixMilli(clock.Load()) }
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { s.run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			src.set(true)
			waitFor(t, "the capture", func() bool { src.mu.Lock(); defer src.mu.Unlock(); return len(src.subs) == 1 })

			handled := func() uint64 {
				return uint64(testutil.ToFloat64(s.metrics.SegmentsIn.WithLabelValues(s.name))) + s.dropped.Load()
			}
			for i, st := range tc.steps {
				src.mu.Lock()
				src.next = t0 + st[0]
				src.mu.Unlock()
				clock.Store(t0 + st[1])
				src.tick()
				waitFor(t, "the segment handled", func() bool {
					return handled() == uint64(i+1)
				})
			}
			var got []int64
			for _, ls := range s.live.Snapshot().Segments {
				got = append(got, ls.Start-t0)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("live window %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("live window %v, want %v", got, tc.want)
				}
			}
			if d := s.dropped.Load(); d != tc.dropped {
				t.Fatalf("dropped %d, want %d", d, tc.dropped)
			}
		})
	}
}
