package s3store

import (
	"context"
	"time"
)

// MaxFuture is how far after the wall clock a segment may start and still
// be kept. Retention deletes, in every stream whatever its depth, the
// segments that start later: a wrong clock dated them (a peer's, or this
// machine's before it was set). They keep no write out (correctly dated
// segments fill the hole before them), but the live edge, the archive's
// end and max_size would count them for days. A day is far beyond any
// clock error that still dates real video: segments less than a day ahead
// are kept and age out by depth.
const MaxFuture = 24 * time.Hour

// cleanFuture deletes the segments that start more than MaxFuture after
// now, newest hours first: the hour's index is rewritten (or removed) and
// the summary written before the objects go. Called with writeMu held.
func (st *stream) cleanFuture(ctx context.Context, now time.Time) error {
	limit := now.UnixMilli() + MaxFuture.Milliseconds()
	deleted := 0
	for {
		st.mu.RLock()
		n := len(st.hours)
		if n == 0 {
			st.mu.RUnlock()
			break
		}
		h := st.hours[n-1]
		st.mu.RUnlock()
		if len(h.spans) == 0 || h.spans[len(h.spans)-1].To <= limit+1 {
			break
		}
		es, err := st.hourEntries(ctx, h.hour)
		if err != nil {
			return err
		}
		k := len(es)
		for k > 0 && es[k-1].start > limit {
			k--
		}
		if k == len(es) {
			break
		}
		if err := st.dropBack(ctx, h.hour, es, k); err != nil {
			return err
		}
		deleted += len(es) - k
	}
	if deleted > 0 {
		st.mu.RLock()
		end := st.lastEnd()
		st.mu.RUnlock()
		st.log.Warn("deleted segments dated in the future", "stream", st.name, "segments", deleted,
			"after", time.UnixMilli(limit).UTC(), "archive_end", time.UnixMilli(end).UTC())
	}
	return nil
}

// dropBack keeps the first k entries of the newest hour and deletes the
// rest: index first, then summary, then the objects. The hour recording
// appends to becomes the newest remaining one.
func (st *stream) dropBack(ctx context.Context, hour int64, es []entry, k int) error {
	rest := es[:k:k]
	if len(rest) > 0 {
		if err := st.put(ctx, st.indexKey(hour), formatIndex(rest), "text/plain"); err != nil {
			return err
		}
	}
	// The hour before, when this one empties, becomes the current one.
	var prevHour int64 = -1
	var prev []entry
	st.mu.RLock()
	if n := len(st.hours); len(rest) == 0 && n > 1 {
		prevHour = st.hours[n-2].hour
	}
	st.mu.RUnlock()
	if prevHour >= 0 {
		var err error
		if prev, err = st.hourEntries(ctx, prevHour); err != nil {
			return err
		}
	}
	st.mu.Lock()
	var freed int64
	for _, e := range es[k:] {
		freed += e.size
	}
	st.total -= freed
	n := len(st.hours)
	if len(rest) > 0 {
		st.hours[n-1] = summarize(hour, rest, st.tol)
		st.curHour, st.cur = hour, rest
	} else {
		st.hours = st.hours[:n-1]
		st.curHour, st.cur = prevHour, prev
	}
	st.mu.Unlock()
	st.idx.Remove(hour)
	if prevHour >= 0 {
		st.idx.Remove(prevHour) // it is the current hour now, held in cur
	}
	st.dirty = true
	return st.removeFromHour(ctx, hour, len(rest) == 0, es[k:])
}
