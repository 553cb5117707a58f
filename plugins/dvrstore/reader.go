package dvrstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// Lookups. Readers hold the stream's mu shared; an hour whose [first start,
// last end) lies inside the query is answered from its summary, the hours at
// the edges from their (lazily loaded) index.

// info turns an entry into the public description with its absolute path.
func (st *stream) info(e segEntry) sdk.SegmentInfo {
	return infoIn(hourDir(st.dir, hourOf(e.start)), e)
}

// infoIn is info for a segment of the hour directory dir.
func infoIn(dir string, e segEntry) sdk.SegmentInfo {
	return sdk.SegmentInfo{
		Start:    e.start,
		Duration: e.dur,
		Size:     e.size,
		InitHash: e.hash,
		Checksum: hex32(e.sum),
		Path:     filepath.Join(dir, segmentName(e.start, e.dur, e.hash)),
	}
}

// ranges returns the gap-free stretches made of the segments that overlap
// [from, to). Each range starts at a segment start and ends at a segment end.
func (st *stream) ranges(from, to int64) ([]sdk.Range, error) {
	if from >= to {
		return nil, nil
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	// A segment is at most an hour long, so one that overlaps from starts at
	// the earliest in the hour before from's.
	i := st.findHour(hourOf(max(from, 0)) - hourMs)
	var spans []span
	for ; i < len(st.hours) && st.hours[i].key < to; i++ {
		h := st.hours[i]
		if h.lastEnd() <= from || h.first() >= to {
			continue
		}
		if h.first() >= from && h.lastEnd() <= to {
			for _, sp := range h.sum.spans {
				spans = addSpan(spans, st.tol, sp)
			}
			continue
		}
		segs, err := st.segsOf(h)
		if err != nil {
			return nil, fmt.Errorf("dvrstore: ranges of stream %q: %w", st.name, err)
		}
		for _, e := range segs {
			if e.start < to && e.end() > from {
				spans = addSpan(spans, st.tol, span{e.start, e.end(), e.dur})
			}
		}
	}
	out := make([]sdk.Range, len(spans))
	for i, sp := range spans {
		out[i] = sdk.Range{From: sp.from, To: sp.to}
	}
	return out, nil
}

// segments lists the segments whose start is in [from, to).
func (st *stream) segments(from, to int64) ([]sdk.SegmentInfo, error) {
	if from >= to {
		return nil, nil
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	var out []sdk.SegmentInfo
	for i := st.findHour(hourOf(max(from, 0))); i < len(st.hours) && st.hours[i].key < to; i++ {
		h := st.hours[i]
		if h.first() >= to || h.lastEnd() <= from {
			continue
		}
		segs, err := st.segsOf(h)
		if err != nil {
			return nil, fmt.Errorf("dvrstore: segments of stream %q: %w", st.name, err)
		}
		dir := hourDir(st.dir, h.key)
		j := sort.Search(len(segs), func(j int) bool { return segs[j].start >= from })
		for ; j < len(segs) && segs[j].start < to; j++ {
			out = append(out, infoIn(dir, segs[j]))
		}
	}
	return out, nil
}

// find returns the segment that starts at start.
func (st *stream) find(start int64) (segEntry, error) {
	if start < 0 {
		return segEntry{}, sdk.ErrNotFound
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	i := st.findHour(hourOf(start))
	if i == len(st.hours) || st.hours[i].key != hourOf(start) {
		return segEntry{}, sdk.ErrNotFound
	}
	segs, err := st.segsOf(st.hours[i])
	if err != nil {
		return segEntry{}, err
	}
	j := sort.Search(len(segs), func(j int) bool { return segs[j].start >= start })
	if j == len(segs) || segs[j].start != start {
		return segEntry{}, sdk.ErrNotFound
	}
	return segs[j], nil
}

// readSegment returns the bytes of the segment that starts at start, checked
// against the size and checksum in the index.
func (st *stream) readSegment(start int64) ([]byte, error) {
	e, err := st.find(start)
	if err != nil {
		return nil, fmt.Errorf("dvrstore: read segment %d of stream %q: %w", start, st.name, err)
	}
	data, err := os.ReadFile(segmentPath(st.dir, e.start, e.dur, e.hash))
	if errors.Is(err, os.ErrNotExist) {
		// Retention deleted it after the lookup.
		return nil, fmt.Errorf("dvrstore: read segment %d of stream %q: %w", start, st.name, sdk.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("dvrstore: read segment %d of stream %q: %w", start, st.name, err)
	}
	if int64(len(data)) != e.size || crc32.Checksum(data, castagnoli) != e.sum {
		return nil, fmt.Errorf("dvrstore: read segment %d of stream %q: file does not match its checksum %s and size %d", start, st.name, hex32(e.sum), e.size)
	}
	return data, nil
}

// readInit returns the init with that hash.
func (st *stream) readInit(hash string) (media.Init, error) {
	if !validHash(hash) {
		return media.Init{}, fmt.Errorf("dvrstore: read init %q of stream %q: %w", hash, st.name, sdk.ErrNotFound)
	}
	data, err := os.ReadFile(filepath.Join(st.dir, initDirName, hash+initExt))
	if errors.Is(err, os.ErrNotExist) {
		return media.Init{}, fmt.Errorf("dvrstore: read init %s of stream %q: %w", hash, st.name, sdk.ErrNotFound)
	}
	if err != nil {
		return media.Init{}, fmt.Errorf("dvrstore: read init %s of stream %q: %w", hash, st.name, err)
	}
	init := media.Init{Hash: hash, Data: data}
	if b, err := os.ReadFile(filepath.Join(st.dir, initDirName, hash+initMetaExt)); err == nil {
		var m initMeta
		if json.Unmarshal(b, &m) == nil {
			init.Codecs, init.Width, init.Height = m.Codecs, m.Width, m.Height
		}
	}
	return init, nil
}
