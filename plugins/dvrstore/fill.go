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
// stored segment. The file is renamed into its hour directory first, then
// the hour's index is rewritten atomically with the segment in its place,
// so after a crash the segment is wholly visible or not at all (a file the
// index does not name is either added back by the reconciliation of the
// newest and oldest hours at open, or invisible and overwritten when it is
// copied again). A segment that retention would drop at once is
// refused. The caller holds writeMu.
func (st *stream) fillHole(seg media.Segment, now time.Time) (sdk.SegmentInfo, error) {
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
	if err := writeFileAtomic(st.tmpDir, path, seg.Data, !st.noSync); err != nil {
		return sdk.SegmentInfo{}, err
	}
	merged := make([]segEntry, 0, len(segs)+1)
	merged = append(merged, segs...)
	k := sort.Search(len(merged), func(j int) bool { return merged[j].start > e.start })
	merged = slices.Insert(merged, k, e)
	if st.idxHour == key {
		// The open append handle would point at the replaced index.
		st.closeIndex()
	}
	size, err := st.rewriteIndex(key, merged)
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
