package s3store

import (
	"context"
	"time"

	"github.com/minio/minio-go/v7"
)

// defaultCleanInterval is how often retention runs when
// Store.CleanInterval is 0.
const defaultCleanInterval = 30 * time.Second

// cleanTimeout bounds one retention pass.
const cleanTimeout = 2 * time.Minute

// runCleaner applies retention every interval until the stream closes.
func (st *stream) runCleaner(interval time.Duration, now func() time.Time) {
	defer close(st.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-st.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), cleanTimeout)
			if err := st.clean(ctx, now()); err != nil {
				st.log.Error("retention failed", "stream", st.name, "error", err)
			}
			cancel()
		}
	}
}

// clean deletes the segments dated too far in the future (future.go), then
// applies retention by depth and size, oldest first, and writes a summary
// that is behind. An hour index is rewritten (or removed) and the summary
// written before any segment object is deleted, so nothing listed is ever
// missing.
func (st *stream) clean(ctx context.Context, now time.Time) error {
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	if err := st.cleanFuture(ctx, now); err != nil {
		return err
	}
	cutoff := int64(-1)
	if st.cfg.Depth > 0 {
		cutoff = now.Add(-st.cfg.Depth).UnixMilli()
	}
	for {
		st.mu.RLock()
		if len(st.hours) == 0 {
			st.mu.RUnlock()
			break
		}
		h := st.hours[0]
		total := st.total
		st.mu.RUnlock()
		overSize := st.cfg.MaxSize > 0 && total > st.cfg.MaxSize
		if !overSize && (cutoff < 0 || h.spans[0].From >= cutoff) {
			break
		}
		es, err := st.hourEntries(ctx, h.hour)
		if err != nil {
			return err
		}
		// Drop from the front what is too old, then what is over the size.
		n := 0
		excess := total - st.cfg.MaxSize
		var freed int64
		for n < len(es) {
			old := cutoff >= 0 && es[n].end() <= cutoff
			big := st.cfg.MaxSize > 0 && freed < excess
			if !old && !big {
				break
			}
			freed += es[n].size
			n++
		}
		if n == 0 {
			break
		}
		if err := st.dropFront(ctx, h.hour, es, n); err != nil {
			return err
		}
	}
	return st.flushSummary(ctx)
}

// dropFront removes the first n entries of an hour: index first, then
// summary, then the objects.
func (st *stream) dropFront(ctx context.Context, hour int64, es []entry, n int) error {
	rest := es[n:]
	if len(rest) > 0 {
		if err := st.put(ctx, st.indexKey(hour), formatIndex(rest), "text/plain"); err != nil {
			return err
		}
	}
	st.mu.Lock()
	var freed int64
	for _, e := range es[:n] {
		freed += e.size
	}
	st.total -= freed
	if len(rest) > 0 {
		st.hours[0] = summarize(hour, rest, st.tol)
	} else {
		st.hours = st.hours[1:]
	}
	if hour == st.curHour {
		st.cur = rest
		if len(rest) == 0 {
			st.curHour = -1
		}
	}
	st.mu.Unlock()
	st.idx.Remove(hour)
	st.dirty = true
	return st.removeFromHour(ctx, hour, len(rest) == 0, es[:n])
}

// removeFromHour saves the summary, then deletes the objects of hour:
// all of them (its index, its segments and any object a failed write left
// unlisted) when whole, else the segments gone.
func (st *stream) removeFromHour(ctx context.Context, hour int64, whole bool, gone []entry) error {
	if err := st.flushSummary(ctx); err != nil {
		return err
	}
	var keys []string
	if whole {
		if err := st.c.RemoveObject(ctx, st.root.Bucket, st.indexKey(hour), minio.RemoveObjectOptions{}); err != nil {
			return st.wrap("remove index", err)
		}
		prefix := st.key(hourPrefix(hour))
		for obj := range st.c.ListObjects(ctx, st.root.Bucket, minio.ListObjectsOptions{Prefix: prefix}) {
			if obj.Err != nil {
				return st.wrap("list "+prefix, obj.Err)
			}
			keys = append(keys, obj.Key)
		}
	} else {
		for _, e := range gone {
			keys = append(keys, st.key(segmentKey(e)))
		}
	}
	return st.remove(ctx, keys)
}

// remove deletes objects in batches.
func (st *stream) remove(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	ch := make(chan minio.ObjectInfo, len(keys))
	for _, k := range keys {
		ch <- minio.ObjectInfo{Key: k}
	}
	close(ch)
	for r := range st.c.RemoveObjects(ctx, st.root.Bucket, ch, minio.RemoveObjectsOptions{}) {
		if r.Err != nil {
			return st.wrap("remove "+r.ObjectName, r.Err)
		}
	}
	return nil
}
