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
// stored segment. The file is written as a live segment is (temp file
// tmp, already synced; rename, directory fsync), then its line is appended to its hour's
// index, out of order (parseIndex sorts), so after a crash the segment is
// wholly visible or not at all (a file whose line was lost is either added
// back by the reconciliation of the newest and oldest hours at open, or
// invisible and overwritten when it is copied again). A segment that
// retention would drop at once is refused. The caller holds writeMu.
func (st *stream) fillHole(seg media.Segment, tmp string, now time.Time) (info sdk.SegmentInfo, err error) {
	placed := false // commitTemp renames or removes tmp
	defer func() {
		if !placed {
			os.Remove(tmp)
		}
	}()
	if d := st.cfg.Depth.Milliseconds(); d > 0 && seg.Start+seg.Duration <= now.UnixMilli()-d {
		return sdk.SegmentInfo{}, fmt.Errorf("ends before the archive's depth (%v)", st.cfg.Depth)
	}
	e := segEntry{start: seg.Start, dur: seg.Duration, size: int64(len(seg.Data)), hash: seg.InitHash, sum: crc32.Checksum(seg.Data, castagnoli)}
	key := hourOf(seg.Start)

	st.mu.RLock()
	i := st.findHour(key)
	var h *hourState
	if i < len(st.hours) && st.hours[i].key == key {
		h = st.hours[i]
	}
	// The neighbours that could overlap: the hour before (a segment that
	// crosses the hour boundary), this hour, and the hour after.
	var around []*hourState
	for j := max(i-1, 0); j < len(st.hours) && j <= i+1; j++ {
		around = append(around, st.hours[j])
	}
	var segs []segEntry
	for _, a := range around {
		as, err := st.segsOf(a)
		if err != nil {
			st.mu.RUnlock()
			return sdk.SegmentInfo{}, err
		}
		for _, x := range as {
			if x.start < e.end() && x.end() > e.start {
				st.mu.RUnlock()
				return sdk.SegmentInfo{}, fmt.Errorf("overlaps the stored segment %d (%d ms)", x.start, x.dur)
			}
		}
		if a == h {
			segs = as
		}
	}
	st.mu.RUnlock()

	dir, err := st.makeHourDir(key)
	if err != nil {
		return sdk.SegmentInfo{}, err
	}
	path := filepath.Join(dir, segmentName(e.start, e.dur, e.hash))
	placed = true
	if err := commitTemp(tmp, path, !st.noSync); err != nil {
		return sdk.SegmentInfo{}, err
	}
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
		if _, err := st.idx.Write(line); err != nil {
			st.closeIndex()
			return 0, fmt.Errorf("append index: %w", err)
		}
		fi, err := st.idx.Stat()
		if err != nil {
			return 0, fmt.Errorf("append index: %w", err)
		}
		return fi.Size(), nil
	}
	f, err := os.OpenFile(filepath.Join(hourDir(st.dir, key), indexName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 0, fmt.Errorf("append index: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(line); err != nil {
		return 0, fmt.Errorf("append index: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("append index: %w", err)
	}
	return fi.Size(), nil
}
