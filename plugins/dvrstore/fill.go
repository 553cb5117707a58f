package dvrstore

import (
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// fillHole stores a segment that starts before the end of the newest one:
// replication copies older archive in, newest first. It must overlap no
// stored segment and no segment being filled. The file is written as a
// live segment is (the temp file tmp, already synced; rename, directory
// fsync), then its line is appended to its hour's index, out of order
// (parseIndex sorts), so after a crash the segment is wholly visible or not
// at all (a file whose line was lost is either added back by the
// reconciliation of the newest and oldest hours at open, or invisible and
// overwritten when it is copied again). A segment that retention would
// drop at once is refused.
//
// The caller holds writeMu; fillHole releases it. The rename and the
// directory fsync run without it, so concurrent fills share the disk's
// flushes; the segment is reserved in pending meanwhile.
func (st *stream) fillHole(seg media.Segment, tmp string, now time.Time) (info sdk.SegmentInfo, err error) {
	locked := true
	defer func() {
		if locked {
			st.writeMu.Unlock()
		}
	}()
	placed := false // commitTemp renames or removes tmp
	defer func() {
		if !placed {
			os.Remove(tmp)
		}
	}()
	if d := st.cfg.Depth.Milliseconds(); d > 0 && seg.Start+seg.Duration <= now.UnixMilli()-d {
		return sdk.SegmentInfo{}, fmt.Errorf("ends before the archive's depth (%v): %w", st.cfg.Depth, sdk.ErrRefused)
	}
	e := segEntry{start: seg.Start, dur: seg.Duration, size: int64(len(seg.Data)), hash: seg.InitHash, sum: crc32.Checksum(seg.Data, castagnoli)}
	key := hourOf(seg.Start)
	if err := st.checkFree(e); err != nil {
		return sdk.SegmentInfo{}, err
	}
	dir, err := st.makeHourDir(key)
	if err != nil {
		return sdk.SegmentInfo{}, err
	}
	path := filepath.Join(dir, segmentName(e.start, e.dur, e.hash))
	st.pending = append(st.pending, e)
	st.writeMu.Unlock()
	locked = false

	placed = true
	err = commitTemp(tmp, path, !st.noSync)

	st.writeMu.Lock()
	locked = true
	if i := slices.Index(st.pending, e); i >= 0 {
		st.pending = slices.Delete(st.pending, i, i+1)
	}
	if err != nil {
		return sdk.SegmentInfo{}, err
	}
	if st.closed {
		return sdk.SegmentInfo{}, fmt.Errorf("stream is closed")
	}
	return st.indexFilled(key, e, path)
}

// checkFree returns an error when e overlaps a stored segment (of its hour
// or the hours on either side) or one being filled (writeMu held).
func (st *stream) checkFree(e segEntry) error {
	for _, p := range st.pending {
		if p.start < e.end() && p.end() > e.start {
			return fmt.Errorf("overlaps the segment %d (%d ms) being stored", p.start, p.dur) // not refused: that write may yet fail
		}
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	i := st.findHour(hourOf(e.start))
	for j := max(i-1, 0); j < len(st.hours) && j <= i+1; j++ {
		segs, err := st.segsOf(st.hours[j])
		if err != nil {
			return err
		}
		for _, x := range segs {
			if x.start < e.end() && x.end() > e.start {
				return fmt.Errorf("overlaps the stored segment %d (%d ms): %w", x.start, x.dur, sdk.ErrRefused)
			}
		}
	}
	return nil
}

// indexFilled makes a filled segment, whose file is in place, visible: its
// index line, then memory (writeMu held).
func (st *stream) indexFilled(key int64, e segEntry, path string) (sdk.SegmentInfo, error) {
	st.mu.RLock()
	var h *hourState
	if i := st.findHour(key); i < len(st.hours) && st.hours[i].key == key {
		h = st.hours[i]
	}
	var segs []segEntry
	if h != nil {
		var err error
		if segs, err = st.segsOf(h); err != nil {
			st.mu.RUnlock()
			return sdk.SegmentInfo{}, err
		}
	}
	st.mu.RUnlock()
	merged := make([]segEntry, 0, len(segs)+1)
	merged = append(merged, segs...)
	k := sort.Search(len(merged), func(j int) bool { return merged[j].start > e.start })
	merged = slices.Insert(merged, k, e)
	size, err := st.appendIndexAt(key, e)
	if err != nil {
		os.Remove(path)
		return sdk.SegmentInfo{}, err
	}
	sum := summarize(merged, st.tol, size)

	st.mu.Lock()
	if h == nil {
		h = &hourState{key: key}
		j := st.findHour(key)
		st.hours = slices.Insert(st.hours, j, h)
		st.total += sum.bytes
	} else {
		st.total += sum.bytes - h.sum.bytes
	}
	h.sum = sum
	st.cacheMu.Lock()
	if !h.pinned && !slices.Contains(st.lru, h) {
		st.lru = append(st.lru, h)
	}
	h.segs = merged
	st.cacheMu.Unlock()
	last := st.hours[len(st.hours)-1] == h
	st.mu.Unlock()
	if !last {
		st.saveSummary(key, sum)
	}
	return st.info(e), nil
}

// appendIndexAt appends e's line to the index of hour key and returns the
// index's new size. The hour being recorded shares the writer's open
// index; any other hour's index is opened for the one line.
func (st *stream) appendIndexAt(key int64, e segEntry) (int64, error) {
	line := appendIndexLine(make([]byte, 0, 64), e)
	if st.idx != nil && st.idxHour == key {
		if err := appendLine(st.idx, line); err != nil {
			st.closeIndex()
			return 0, fmt.Errorf("append index: %w", err)
		}
		fi, err := st.idx.Stat()
		if err != nil {
			return 0, fmt.Errorf("append index: %w", err)
		}
		return fi.Size(), nil
	}
	f, err := st.openIndex(filepath.Join(hourDir(st.dir, key), indexName))
	if err != nil {
		return 0, fmt.Errorf("append index: %w", err)
	}
	defer f.Close()
	if err := appendLine(f, line); err != nil {
		return 0, fmt.Errorf("append index: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("append index: %w", err)
	}
	return fi.Size(), nil
}
