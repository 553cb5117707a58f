package s3store

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

var _ sdk.SegmentBatchWriter = (*Store)(nil)

// batchPuts is how many segment objects of a batch are PUT at once.
const batchPuts = 8

// WriteSegments stores a batch of segments of one stream, each as
// WriteSegment would (no overlap, holes filled), with the PUTs of their
// objects running batchPuts at a time, then one index PUT per hour the
// batch touches and one summary PUT: replication writes 256 segments for
// about 256/8 + 3 round trips instead of 3 × 256.
func (s *Store) WriteSegments(ctx context.Context, stream string, segs []media.Segment) ([]sdk.SegmentResult, error) {
	st, err := s.stream(stream)
	if err != nil {
		return nil, err
	}
	return st.writeSegments(ctx, segs)
}

func (st *stream) writeSegments(ctx context.Context, segs []media.Segment) ([]sdk.SegmentResult, error) {
	res := make([]sdk.SegmentResult, len(segs))
	st.writeMu.Lock()
	defer st.writeMu.Unlock()

	// Plan: the entries each touched hour will hold, checked for overlaps
	// against what is stored and what the batch placed before.
	hours := map[int64][]entry{} // hour -> entries after the batch
	old := map[int64][]entry{}   // hour -> entries before the batch
	load := func(hour int64) ([]entry, error) {
		if es, ok := hours[hour]; ok {
			return es, nil
		}
		var es []entry
		if st.hasHour(hour) || st.isCur(hour) {
			var err error
			if es, err = st.hourEntries(ctx, hour); err != nil {
				return nil, err
			}
		}
		old[hour], hours[hour] = es, slices.Clone(es)
		return hours[hour], nil
	}
	placed := make([]entry, len(segs))
	ok := make([]bool, len(segs))
	for i, seg := range segs {
		if err := checkSize("segment", len(seg.Data)); err != nil {
			res[i].Err = err
			continue
		}
		if seg.Duration <= 0 || seg.Duration > hourMs || seg.Start < 0 || !isHex(seg.InitHash, 16) {
			res[i].Err = fmt.Errorf("s3store: write segment: bad start %d, duration %d or init %q: %w", seg.Start, seg.Duration, seg.InitHash, sdk.ErrRefused)
			continue
		}
		e := entry{start: seg.Start, dur: seg.Duration, size: int64(len(seg.Data)), init: seg.InitHash, sum: media.Checksum(seg.Data)}
		hour := hourOf(e.start)
		var overlap bool
		for _, h := range []int64{hour - hourMs, hour, hour + hourMs} {
			es, err := load(h)
			if err != nil {
				return nil, err
			}
			for _, x := range es {
				overlap = overlap || (x.start < e.end() && e.start < x.end())
			}
		}
		if overlap {
			res[i].Err = st.refuseOverlap(e)
			continue
		}
		es := hours[hour]
		k, _ := slices.BinarySearchFunc(es, e.start, func(x entry, k int64) int { return cmpInt(x.start, k) })
		hours[hour] = slices.Insert(es, k, e)
		placed[i], ok[i] = e, true
	}

	// The objects first, 8 at a time.
	g, gctx := errgroup.WithContext(context.WithoutCancel(ctx))
	g.SetLimit(batchPuts)
	for i := range segs {
		if !ok[i] {
			continue
		}
		g.Go(func() error {
			if err := st.put(gctx, st.key(segmentKey(placed[i])), segs[i].Data, "video/iso.segment"); err != nil {
				res[i].Err = err
			}
			return nil
		})
	}
	_ = g.Wait()
	failed := map[int64]bool{} // start of a planned segment whose object is missing
	for i := range segs {
		if ok[i] && res[i].Err != nil {
			ok[i] = false
			failed[placed[i].start] = true
		}
	}

	// Then each hour's index, in order; a failed one takes its segments'
	// objects back out.
	touched := make([]int64, 0, len(hours))
	for h := range hours {
		touched = append(touched, h)
	}
	slices.Sort(touched)
	var lost []string
	for _, h := range touched {
		next := slices.DeleteFunc(hours[h], func(e entry) bool { return failed[e.start] })
		if len(next) == len(old[h]) {
			continue // only read, for the overlap checks, or all its new objects failed
		}
		if err := st.replaceHour(ctx, h, old[h], next); err != nil {
			for i := range segs {
				if ok[i] && hourOf(placed[i].start) == h {
					ok[i], res[i].Err = false, err
					lost = append(lost, st.key(segmentKey(placed[i])))
				}
			}
		}
	}
	if len(lost) > 0 {
		if err := st.remove(context.WithoutCancel(ctx), lost); err != nil {
			st.log.Warn("unlisted segment objects not removed", "stream", st.name, "objects", len(lost), "error", err)
		}
	}
	if err := st.flushSummary(ctx); err != nil {
		st.log.Warn("summary not written, retried later", "stream", st.name, "error", err)
	}
	for i := range segs {
		if ok[i] {
			res[i].Info = st.info(placed[i])
		}
	}
	return res, nil
}

// isCur tells whether hour is the one recording appends to.
func (st *stream) isCur(hour int64) bool {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return hour == st.curHour
}
