package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// recordQueue is how many segments may wait for the store (for example
// while its plugin restarts) before the oldest waiting one is dropped.
const recordQueue = 256

type pending struct {
	init media.Init
	seg  media.Segment
}

// recorder writes a stream's segments to the archive store in order, on its
// own goroutine, so a slow or restarting store never stalls ingest or live
// viewers. Failed writes are retried until they succeed or the queue
// overflows.
type recorder struct {
	stream  string
	store   func(ctx context.Context) (sdk.Store, error)
	log     *slog.Logger
	metrics *Metrics

	queue chan pending
	done  chan struct{}

	lastInit string // last init written (only touched by run)

	// stored, when set, is told of each segment the store confirmed; the
	// stream's live window then serves the segment from its file.
	stored func(sdk.SegmentInfo)
}

func newRecorder(stream string, store func(context.Context) (sdk.Store, error), log *slog.Logger, m *Metrics) *recorder {
	return &recorder{
		stream:  stream,
		store:   store,
		log:     log,
		metrics: m,
		queue:   make(chan pending, recordQueue),
		done:    make(chan struct{}),
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
			r.log.Error("archive write queue full, dropping oldest waiting segment", "start", old.seg.Start)
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
	for p := range r.queue {
		backoff := 100 * time.Millisecond
		for {
			err := r.write(ctx, p)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				r.log.Error("archive write abandoned at shutdown", "start", p.seg.Start, "err", err)
				return
			}
			r.metrics.RecordErrors.WithLabelValues(r.stream).Inc()
			r.log.Warn("archive write failed, retrying", "start", p.seg.Start, "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
		}
	}
}

func (r *recorder) write(ctx context.Context, p pending) error {
	st, err := r.store(ctx)
	if err != nil {
		return err
	}
	if p.init.Hash != r.lastInit {
		if err := st.WriteInit(ctx, r.stream, p.init); err != nil {
			return err
		}
		r.lastInit = p.init.Hash
	}
	info, err := st.WriteSegment(ctx, r.stream, p.seg)
	if err != nil {
		// A write that landed but whose answer was lost (the plugin died
		// right after) is done: the store refuses it the second time.
		if have, lerr := st.Segments(ctx, r.stream, p.seg.Start, p.seg.Start+1); lerr == nil &&
			len(have) == 1 && have[0].Checksum == media.Checksum(p.seg.Data) {
			return nil
		}
		// After a store restart the init may be needed again.
		r.lastInit = ""
		return err
	}
	if r.stored != nil {
		r.stored(info)
	}
	r.metrics.SegmentsWritten.WithLabelValues(r.stream).Inc()
	r.metrics.BytesWritten.WithLabelValues(r.stream).Add(float64(len(p.seg.Data)))
	return nil
}
