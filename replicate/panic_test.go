package replicate

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgedvr/edge/internal/safe"
	"github.com/edgedvr/edge/sdk"
)

// panicSource is a source whose client has a bug on some answers: reading
// the segment at crash panics, and so does listing while listPanics is set.
type panicSource struct {
	storeSource
	crash      int64
	listPanics *atomic.Bool
}

func (s panicSource) Segments(ctx context.Context, from, to int64) ([]sdk.SegmentInfo, error) {
	if s.listPanics.Load() {
		var m map[int64]bool
		m[from] = true
	}
	return s.storeSource.Segments(ctx, from, to)
}

func (s panicSource) Segment(ctx context.Context, start int64) ([]byte, error) {
	if start == s.crash {
		var b []byte
		_ = b[start%7+1]
	}
	return s.storeSource.Segment(ctx, start)
}

// TestPanickingSource: a panic on a source's answer fails that segment (on
// the copy goroutines) or that pass (in the job's loop); the process and
// the job go on, and the panics are counted.
func TestPanickingSource(t *testing.T) {
	src := newArchive(t, 20)
	local := emptyStore(t)
	segs, _ := src.Segments(ctx, "cam", 0, 1<<62)
	bad := segs[5].Start
	var listPanics atomic.Bool
	listPanics.Store(true)
	before := testutil.ToFloat64(safe.Counter("replicate"))
	now := time.UnixMilli(t0 + 200_000)
	job, err := New(Config{
		Stream: "cam", Source: panicSource{storeSource{st: src, stream: "cam"}, bad, &listPanics},
		Store:           func(context.Context) (sdk.Store, error) { return local, nil },
		SegmentDuration: 10 * time.Millisecond, Now: func() time.Time { return now }, Metrics: NewMetrics(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	waitFor(t, "a failed pass", func() bool { return strings.Contains(job.Status().LastError, "panic in replicate") })
	listPanics.Store(false) // the next pass lists fine
	waitFor(t, "the other segments", func() bool { return job.Status().SegmentsCopied == 19 })
	if have, _ := local.Segments(ctx, "cam", bad, bad+1); len(have) != 0 {
		t.Fatal("the segment whose read panicked was stored")
	}
	if n := testutil.ToFloat64(safe.Counter("replicate")) - before; n < 2 {
		t.Fatalf("replicate panics counted %v, want at least 2 (a pass and a segment)", n)
	}
}
