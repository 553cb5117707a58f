package dvrstore

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"
)

// Retention. Each stream deletes, oldest first, the segments whose end is
// older than now-Depth and then the oldest segments until its bytes are at
// most MaxSize. It works one hour at a time and only inside its own R/S:
// a whole hour directory is renamed into R/S/.tmp and removed from there; a
// partial hour gets its index rewritten, then the files are deleted (a crash
// in between leaves files that the next open puts back into the index and
// retention deletes again). Init files are kept: they are small and a
// replicated or restored segment may still need them.

// defaultCleanInterval is how often retention runs when Store.CleanInterval is 0.
const defaultCleanInterval = 10 * time.Second

// runCleaner applies retention every interval until the stream is closed.
func (st *stream) runCleaner(interval time.Duration, now func() time.Time) {
	defer close(st.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-st.stop:
			return
		case <-t.C:
			if err := st.clean(now()); err != nil {
				st.log.Error("dvrstore: retention failed", "stream", st.name, "error", err)
			}
		}
	}
}

// clean deletes the segments dated too far in the future (future.go), then
// applies the stream's Depth and MaxSize once.
func (st *stream) clean(now time.Time) error {
	if err := st.cleanFuture(now); err != nil {
		return err
	}
	if st.cfg.Depth <= 0 && st.cfg.MaxSize <= 0 {
		return nil
	}
	cutoff := int64(math.MinInt64)
	if st.cfg.Depth > 0 {
		cutoff = now.UnixMilli() - st.cfg.Depth.Milliseconds()
	}
	for {
		st.writeMu.Lock()
		if st.closed {
			st.writeMu.Unlock()
			return nil
		}
		done, err := st.cleanStep(cutoff)
		st.writeMu.Unlock()
		if err != nil {
			return fmt.Errorf("dvrstore: retention of stream %q: %w", st.name, err)
		}
		if done {
			return nil
		}
	}
}

// cleanStep deletes what retention wants gone from the oldest hour. It
// reports done when nothing more is to be deleted. The caller holds writeMu,
// so the hour list and summaries change only here.
func (st *stream) cleanStep(cutoff int64) (done bool, err error) {
	if len(st.hours) == 0 {
		return true, nil
	}
	h := st.hours[0]
	var excess int64
	if st.cfg.MaxSize > 0 && st.total > st.cfg.MaxSize {
		excess = st.total - st.cfg.MaxSize
	}
	if h.lastEnd() < cutoff || (excess > 0 && h.sum.bytes <= excess) {
		return false, st.removeHour(h)
	}
	if h.first() >= cutoff && excess == 0 {
		return true, nil
	}
	st.mu.RLock()
	segs, err := st.segsOf(h)
	st.mu.RUnlock()
	if err != nil {
		return true, err
	}
	k := 0
	var removed int64
	for k < len(segs) && (segs[k].end() < cutoff || removed < excess) {
		removed += segs[k].size
		k++
	}
	switch {
	case k == 0:
		return true, nil
	case k == len(segs):
		return false, st.removeHour(h)
	}
	return true, st.trimHour(h, segs, k)
}

// removeHour deletes a whole hour: it leaves memory first, then its
// directory is renamed into .tmp (atomic) and removed from there.
func (st *stream) removeHour(h *hourState) error {
	st.mu.Lock()
	st.hours = st.hours[1:]
	st.total -= h.sum.bytes
	st.mu.Unlock()
	st.dropCached(h)
	if st.idxHour == h.key {
		st.closeIndex()
	}
	if st.madeHour == h.key {
		st.madeHour = -1
	}
	dir := hourDir(st.dir, h.key)
	trash, err := os.MkdirTemp(st.tmpDir, "del-*")
	if err != nil {
		return fmt.Errorf("remove hour %s: %w", dir, err)
	}
	if err := os.Rename(dir, filepath.Join(trash, "hour")); err != nil && !errors.Is(err, os.ErrNotExist) {
		os.Remove(trash)
		return fmt.Errorf("remove hour %s: %w", dir, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove hour %s: %w", dir, err)
	}
	removeEmptyParents(st.dir, h.key)
	st.log.Debug("dvrstore: removed hour", "stream", st.name, "hour", dir, "segments", h.sum.count, "bytes", h.sum.bytes)
	return nil
}

// trimHour deletes the first k segments of an hour: index first, memory,
// then the files.
func (st *stream) trimHour(h *hourState, segs []segEntry, k int) error {
	keep := append([]segEntry(nil), segs[k:]...)
	if st.idxHour == h.key {
		st.closeIndex()
	}
	size, err := st.rewriteIndex(h.key, keep)
	if err != nil {
		return err
	}
	sum := summarize(keep, st.tol, size)
	st.saveSummary(h.key, sum)
	st.mu.Lock()
	st.total -= h.sum.bytes - sum.bytes
	h.sum = sum
	st.cacheMu.Lock()
	if h.segs != nil || h.pinned {
		h.segs = keep
	}
	st.cacheMu.Unlock()
	st.mu.Unlock()
	for _, e := range segs[:k] {
		if err := os.Remove(segmentPath(st.dir, e.start, e.dur, e.hash)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove segment: %w", err)
		}
	}
	return nil
}
