package dvrstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/edgedvr/edge/sdk"
)

var _ sdk.SegmentDeleter = (*Store)(nil)

// DeleteSegments removes the stream's segments whose start is in [from,
// to): replication replaces a local segment with the source's that
// overlaps it. For each hour the index is rewritten atomically without
// them, then memory, then the files go, so after a crash each one is
// wholly listed or wholly gone.
func (s *Store) DeleteSegments(ctx context.Context, stream string, from, to int64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("dvrstore: delete segments: %w", err)
	}
	st, err := s.stream(stream)
	if err != nil {
		return 0, err
	}
	return st.deleteSegments(from, to)
}

func (st *stream) deleteSegments(from, to int64) (int, error) {
	if from >= to {
		return 0, nil
	}
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	if st.closed {
		return 0, fmt.Errorf("dvrstore: delete segments of stream %q: stream is closed", st.name)
	}
	st.mu.RLock()
	var hours []*hourState
	for i := st.findHour(hourOf(max(from, 0))); i < len(st.hours) && st.hours[i].key < to; i++ {
		hours = append(hours, st.hours[i])
	}
	st.mu.RUnlock()
	deleted := 0
	for _, h := range hours {
		st.mu.RLock()
		segs, err := st.segsOf(h)
		st.mu.RUnlock()
		if err != nil {
			return deleted, fmt.Errorf("dvrstore: delete segments of stream %q: %w", st.name, err)
		}
		var gone []segEntry
		keep := make([]segEntry, 0, len(segs))
		for _, e := range segs {
			if e.start >= from && e.start < to {
				gone = append(gone, e)
			} else {
				keep = append(keep, e)
			}
		}
		if len(gone) == 0 {
			continue
		}
		if err := st.dropFromHour(h, keep); err != nil {
			return deleted, fmt.Errorf("dvrstore: delete segments of stream %q: %w", st.name, err)
		}
		for _, e := range gone {
			if err := os.Remove(segmentPath(st.dir, e.start, e.dur, e.hash)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return deleted, fmt.Errorf("dvrstore: delete segment %d of stream %q: %w", e.start, st.name, err)
			}
			deleted++
		}
		if len(keep) == 0 {
			removeEmptyHour(st.dir, h.key)
		}
	}
	return deleted, nil
}

// dropFromHour makes keep the segments of h: index first, then memory. An
// hour left empty leaves the stream (writeMu held).
func (st *stream) dropFromHour(h *hourState, keep []segEntry) error {
	if st.idxHour == h.key {
		st.closeIndex()
	}
	size, err := st.rewriteIndex(h.key, keep)
	if err != nil {
		return err
	}
	sum := summarize(keep, st.tol, size)
	st.mu.Lock()
	st.total -= h.sum.bytes - sum.bytes
	h.sum = sum
	if len(keep) == 0 {
		if i := slices.Index(st.hours, h); i >= 0 {
			st.hours = slices.Delete(st.hours, i, i+1)
		}
	}
	st.cacheMu.Lock()
	if h.segs != nil || h.pinned {
		h.segs = keep
	}
	st.cacheMu.Unlock()
	last := len(st.hours) > 0 && st.hours[len(st.hours)-1] == h
	st.mu.Unlock()
	if len(keep) == 0 {
		st.dropCached(h)
		if st.madeHour == h.key {
			st.madeHour = -1
		}
		return nil
	}
	if !last {
		st.saveSummary(h.key, sum)
	}
	return nil
}
