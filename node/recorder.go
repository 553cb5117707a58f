package node

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// recordQueue is how many segments may wait for the store (for example
// while its plugin restarts or its disk is full) before the oldest waiting
// one is dropped.
const recordQueue = 256

// The backoff between retries of a segment the store failed to write for
// a temporary reason: doubling from the first to the last.
const (
	defaultRetryMin = 100 * time.Millisecond
	defaultRetryMax = 5 * time.Second
)

type pending struct {
	init media.Init
	seg  media.Segment
}

// recorder writes a stream's segments to the archive store in order, on its
// own goroutine, so a slow or restarting store never stalls ingest or live
// viewers. A segment the store refuses for good (sdk.IsPermanent) is
// dropped and counted; other failures (the plugin restarting, a full disk)
// are retried with a backoff while the queue behind fills, and the oldest
// waiting segment is dropped when it overflows. Each stall and each
// overflow is logged once, when it starts and when it ends.
type recorder struct {
	stream  string
	store   func(ctx context.Context) (sdk.Store, error)
	log     *slog.Logger
	metrics *Metrics

	queue chan pending
	done  chan struct{}

	retryMin, retryMax time.Duration

	lastInit string // last init written (only touched by run)

	// overflow is set from the first segment dropped from a full queue
	// until a write succeeds again; dropped counts the drops meanwhile.
	overflow atomic.Bool
	dropped  atomic.Int64

	// stored, when set, is told of each segment the store confirmed; the
	// stream's live window then serves the segment from its file.
	stored func(sdk.SegmentInfo)
}

func newRecorder(stream string, store func(context.Context) (sdk.Store, error), log *slog.Logger, m *Metrics) *recorder {
	return &recorder{
		stream:   stream,
		store:    store,
		log:      log,
		metrics:  m,
		queue:    make(chan pending, recordQueue),
		done:     make(chan struct{}),
		retryMin: defaultRetryMin,
		retryMax: defaultRetryMax,
	}
}

// enqueue hands a segment to the writer. It never blocks: when the queue is
// full the oldest waiting segment is dropped and counted.
func (r *recorder) enqueue(ctx context.Context, init media.Init, seg media.Segment) {
	p := pending{init: init, seg: seg}
	for {
		select {
		case r.queue <- p:
			return
		default:
		}
		select {
		case old := <-r.queue:
			r.metrics.RecordDropped.WithLabelValues(r.stream).Inc()
			r.dropped.Add(1)
			if r.overflow.CompareAndSwap(false, true) {
				r.log.Error("archive write queue full, dropping the oldest waiting segments until the store catches up",
					"queue", recordQueue, "start", old.seg.Start)
			}
		default:
		}
	}
}

// close ends the writer after it wrote everything queued (bounded by ctx).
func (r *recorder) close() { close(r.queue) }

// run writes queued segments until the queue is closed and empty, or ctx
// (the hard deadline) ends.
func (r *recorder) run(ctx context.Context) {
	defer close(r.done)
	var st stall
	for p := range r.queue {
		if !r.writeOne(ctx, p, &st) {
			return
		}
	}
}

// stall is a stretch of temporary failures: from the first failed write
// until one succeeds.
type stall struct {
	since   time.Time // zero when writes succeed
	noSpace bool      // the last failure was a full disk
	retries int
}

// store1 writes one segment: it returns once the store took it or refused
// it for good, or false when ctx ended first.
func (r *recorder) writeOne(ctx context.Context, p pending, st *stall) bool {
	backoff := r.retryMin
	initRetried := false
	for {
		wroteInit, err := r.write(ctx, p)
		if err == nil {
			r.recovered(st)
			return true
		}
		if ctx.Err() != nil {
			r.log.Error("archive write abandoned at shutdown", "start", p.seg.Start, "error", err)
			return false
		}
		r.metrics.RecordErrors.WithLabelValues(r.stream).Inc()
		if sdk.IsPermanent(err) {
			if !wroteInit && !initRetried {
				// The store may have lost the init (an unknown init hash):
				// write it again once before giving the segment up.
				initRetried = true
				continue
			}
			r.metrics.RecordRefused.WithLabelValues(r.stream).Inc()
			r.log.Warn("archive refused segment, dropped", "start", p.seg.Start, "duration_ms", p.seg.Duration, "error", err)
			return true
		}
		r.stalled(st, err, backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			r.log.Error("archive write abandoned at shutdown", "start", p.seg.Start, "error", err)
			return false
		case <-t.C:
		}
		backoff = min(backoff*2, r.retryMax)
	}
}

// stalled records a temporary failure: the first of a stall, or a change
// between a full disk and another failure, is logged and sets the gauges;
// the retries are logged at debug level only.
func (r *recorder) stalled(st *stall, err error, retryIn time.Duration) {
	noSpace := sdk.IsNoSpace(err)
	st.retries++
	if !st.since.IsZero() && noSpace == st.noSpace {
		r.log.Debug("archive write failed, retrying", "error", err, "retry_in", retryIn)
		return
	}
	if st.since.IsZero() {
		st.since = time.Now()
		r.metrics.RecordStalled.WithLabelValues(r.stream).Set(1)
	}
	st.noSpace = noSpace
	if noSpace {
		r.metrics.DiskFull.WithLabelValues(r.stream).Set(1)
		r.log.Error("archive disk full, recording paused until space is freed", "error", err)
		return
	}
	r.metrics.DiskFull.WithLabelValues(r.stream).Set(0)
	r.log.Warn("archive write failed, retrying with backoff", "error", err, "retry_in", retryIn)
}

// recovered ends a stall and a queue overflow after a successful write.
func (r *recorder) recovered(st *stall) {
	if !st.since.IsZero() {
		r.metrics.RecordStalled.WithLabelValues(r.stream).Set(0)
		r.metrics.DiskFull.WithLabelValues(r.stream).Set(0)
		r.log.Info("archive writes resumed", "stalled_for", time.Since(st.since).Round(time.Millisecond), "retries", st.retries)
		*st = stall{}
	}
	if r.overflow.Swap(false) {
		r.log.Info("archive write queue no longer full", "dropped", r.dropped.Swap(0))
	}
}

// write stores one segment, and its init first when the store may not
// have it. It reports whether it wrote the init.
func (r *recorder) write(ctx context.Context, p pending) (wroteInit bool, err error) {
	st, err := r.store(ctx)
	if err != nil {
		return false, err
	}
	if p.init.Hash != r.lastInit {
		if err := st.WriteInit(ctx, r.stream, p.init); err != nil {
			return true, err
		}
		r.lastInit = p.init.Hash
		wroteInit = true
	}
	info, err := st.WriteSegment(ctx, r.stream, p.seg)
	if err != nil {
		// A write that landed but whose answer was lost (the plugin died
		// right after) is done: the store refuses it the second time.
		if have, lerr := st.Segments(ctx, r.stream, p.seg.Start, p.seg.Start+1); lerr == nil &&
			len(have) == 1 && have[0].Checksum == media.Checksum(p.seg.Data) {
			return wroteInit, nil
		}
		// After a store restart the init may be needed again.
		r.lastInit = ""
		return wroteInit, err
	}
	if r.stored != nil {
		r.stored(info)
	}
	r.metrics.SegmentsWritten.WithLabelValues(r.stream).Inc()
	r.metrics.BytesWritten.WithLabelValues(r.stream).Add(float64(len(p.seg.Data)))
	return wroteInit, nil
}
