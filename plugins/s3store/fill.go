package s3store

import (
	"context"
	"fmt"
	"slices"

	"github.com/minio/minio-go/v7"

	"github.com/edgedvr/edge/sdk"
)

var _ sdk.SegmentDeleter = (*Store)(nil)

// fillSegment stores a segment that starts before the end of the newest
// one: a hole that replication fills, or a recording that resumes after a
// clock step back. It is refused (sdk.ErrRefused) only when it overlaps a
// stored segment. The object is PUT first, then the hour's index with the
// entry in its place, then the summary, so that a reader never lists a
// segment whose object is not whole and a restart never reads a summary
// that misses it. Called with writeMu held.
func (st *stream) fillSegment(ctx context.Context, e entry, data []byte) error {
	hour := hourOf(e.start)
	es, err := st.hourEntries(ctx, hour)
	if err != nil {
		return err
	}
	i, _ := slices.BinarySearchFunc(es, e.start, func(x entry, k int64) int { return cmpInt(x.start, k) })
	overlaps := func(x entry) bool { return x.start < e.end() && e.start < x.end() }
	if (i > 0 && overlaps(es[i-1])) || (i < len(es) && overlaps(es[i])) {
		return st.refuseOverlap(e)
	}
	// A segment lasts at most an hour: only the last one of the hour
	// before can reach into this one, and only the first one of the hour
	// after can start before this one ends.
	for _, nb := range []struct {
		hour  int64
		first bool
	}{{hour - hourMs, false}, {hour + hourMs, true}} {
		if !st.hasHour(nb.hour) {
			continue
		}
		xs, err := st.hourEntries(ctx, nb.hour)
		if err != nil {
			return err
		}
		if len(xs) == 0 {
			continue
		}
		x := xs[len(xs)-1]
		if nb.first {
			x = xs[0]
		}
		if overlaps(x) {
			return st.refuseOverlap(e)
		}
	}
	if err := st.put(ctx, st.key(segmentKey(e)), data, "video/iso.segment"); err != nil {
		return err
	}
	if err := st.replaceHour(ctx, hour, es, slices.Insert(slices.Clone(es), i, e)); err != nil {
		if derr := st.c.RemoveObject(context.WithoutCancel(ctx), st.root.Bucket, st.key(segmentKey(e)), minio.RemoveObjectOptions{}); derr != nil {
			st.log.Warn("unlisted segment object not removed", "stream", st.name, "start", e.start, "error", derr)
		}
		return err
	}
	if err := st.flushSummary(ctx); err != nil {
		// The hour index lists the segment; the summary is retried with
		// the next write or retention pass.
		st.log.Warn("summary not written, retried later", "stream", st.name, "error", err)
	}
	return nil
}

func (st *stream) refuseOverlap(e entry) error {
	return fmt.Errorf("s3store: write segment [%d, %d) of stream %q: overlaps a stored segment: %w", e.start, e.end(), st.name, sdk.ErrRefused)
}

// hasHour tells whether the summary names hour.
func (st *stream) hasHour(hour int64) bool {
	st.mu.RLock()
	defer st.mu.RUnlock()
	_, ok := slices.BinarySearchFunc(st.hours, hour, func(h hourSum, k int64) int { return cmpInt(h.hour, k) })
	return ok
}

// replaceHour makes next the entries of an hour that held old (both in
// order): the hour's index object is rewritten when next is not empty
// (an empty hour's index goes with its objects, in removeFromHour), then
// memory: summary, total, the hour cache and, for the newest hour, cur.
// The summary object is left behind (dirty). Called with writeMu held.
func (st *stream) replaceHour(ctx context.Context, hour int64, old, next []entry) error {
	if len(next) > 0 {
		if err := st.put(ctx, st.indexKey(hour), formatIndex(next), "text/plain"); err != nil {
			return err
		}
	}
	st.mu.Lock()
	for _, e := range old {
		st.total -= e.size
	}
	for _, e := range next {
		st.total += e.size
	}
	i, found := slices.BinarySearchFunc(st.hours, hour, func(h hourSum, k int64) int { return cmpInt(h.hour, k) })
	switch {
	case len(next) == 0 && found:
		st.hours = slices.Delete(st.hours, i, i+1)
	case len(next) > 0 && found:
		st.hours[i] = summarize(hour, next, st.tol)
	case len(next) > 0:
		st.hours = slices.Insert(st.hours, i, summarize(hour, next, st.tol))
	}
	// The newest hour lives in cur, the others in the cache.
	newest := int64(-1)
	if n := len(st.hours); n > 0 {
		newest = st.hours[n-1].hour
	}
	reload := newest != st.curHour && newest != hour
	switch {
	case newest == hour:
		if st.curHour >= 0 && st.curHour != hour {
			st.idx.Add(st.curHour, st.cur) // a batch added a newer hour
		}
		st.curHour, st.cur = hour, next
		st.idx.Remove(hour)
	case reload:
		st.curHour, st.cur = -1, nil
	default:
		st.idx.Add(hour, next)
	}
	st.mu.Unlock()
	st.dirty = true
	if reload && newest >= 0 {
		// The newest hour emptied: the one before becomes the current one.
		es, err := st.hourEntries(ctx, newest)
		if err != nil {
			return err
		}
		st.mu.Lock()
		st.curHour, st.cur = newest, es
		st.mu.Unlock()
		st.idx.Remove(newest)
	}
	return nil
}

// DeleteSegments removes the stream's segments whose start is in [from,
// to): replication replaces local segments with the source's that overlap
// them. For each hour the index is rewritten (or, emptied, removed) and
// the summary written before the objects go, so after a crash each one is
// wholly listed or wholly gone.
func (s *Store) DeleteSegments(ctx context.Context, stream string, from, to int64) (int, error) {
	st, err := s.stream(stream)
	if err != nil {
		return 0, err
	}
	if from >= to {
		return 0, nil
	}
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	deleted := 0
	for _, h := range st.hoursIn(from, to) {
		es, err := st.hourEntries(ctx, h.hour)
		if err != nil {
			return deleted, err
		}
		var keep, gone []entry
		for _, e := range es {
			if e.start >= from && e.start < to {
				gone = append(gone, e)
			} else {
				keep = append(keep, e)
			}
		}
		if len(gone) == 0 {
			continue
		}
		if err := st.replaceHour(ctx, h.hour, es, keep); err != nil {
			return deleted, err
		}
		if err := st.removeFromHour(ctx, h.hour, len(keep) == 0, gone); err != nil {
			return deleted + len(gone), err
		}
		deleted += len(gone)
	}
	return deleted, nil
}
