package dvrstore

import (
	"context"
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

// Batch writes (sdk.SegmentBatchWriter): replication stores many segments
// at once and they share the disk's flushes. A batch goes through the same
// steps as one WriteSegment, each step over all its segments before the
// next begins:
//
//  1. every segment is written to a file without a name (O_TMPFILE) on
//     the archive's filesystem; where that does not exist (not Linux, a
//     filesystem without it, or no way to link it: see tmpfile_linux.go),
//     to a named temp file in .tmp whose writeback is started at once
//     (sync_file_range);
//  2. the files are flushed: on Linux by one syncfs of the archive's
//     filesystem for the whole batch (bench/replicate.sh: 16.9 s before,
//     with an fdatasync of each file, 14.1 s after), elsewhere by an fsync
//     of each;
//  3. under the write lock, each segment is checked (no overlap with a
//     stored segment, one being stored, or another of the batch; not
//     before the retention depth) and reserved;
//  4. every file gets its final name in its hour directory (linkat of the
//     nameless file, or rename of the named one), then the names are
//     flushed: after linkat by one more syncfs (it also makes durable the
//     file's new link count, which an fsync of the directory alone does
//     not on a filesystem without a journal), after rename by an fsync of
//     each hour directory that gained a file;
//  5. under the write lock, each hour's index gets the lines of its new
//     segments in one write and is fsynced once, and memory is updated.
//
// So a segment's bytes are on disk before its name is, and its name before
// its index line: after a kill or a power cut at any point, a segment is
// wholly visible or not at all, exactly as with WriteSegment. After a kill
// in step 1 or 2 nothing is left at all (a nameless file is freed with its
// last descriptor); a file named in step 4 whose index line was lost is
// added back by the reconciliation at open, or stays invisible and is
// replaced when copied again. Every segment the call reports stored is
// durable, index line included.

// maxBatchFiles bounds the temp files a batch holds open at once; a larger
// batch is stored in several rounds.
const maxBatchFiles = 512

var _ sdk.SegmentBatchWriter = (*Store)(nil)

// WriteSegments stores several segments of a stream as WriteSegment would
// (each atomically; ones that start before the stream's newest segment
// fill holes), sharing the disk flushes between them. It returns one
// result per segment in order.
func (s *Store) WriteSegments(ctx context.Context, stream string, segs []media.Segment) ([]sdk.SegmentResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dvrstore: write segments: %w", err)
	}
	st, err := s.stream(stream)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.SegmentResult, 0, len(segs))
	for len(segs) > 0 {
		n := min(len(segs), maxBatchFiles)
		out = append(out, st.writeBatch(segs[:n], s.now())...)
		segs = segs[n:]
	}
	return out, nil
}

// batchItem is one segment of a batch on its way to the archive.
type batchItem struct {
	i        int // index in the batch
	e        segEntry
	f        *os.File // open temp file: a nameless one until named, a named one until synced
	nameless bool     // f has no name (O_TMPFILE): linked into place, not renamed
	tmp      string   // named temp file path, until renamed
	path     string   // final path, once reserved
}

// checkSegment refuses what WriteSegment refuses before touching the disk.
func checkSegment(seg media.Segment) error {
	switch {
	case seg.Start < 0 || seg.Start > maxStart:
		return fmt.Errorf("start out of range: %w", sdk.ErrRefused)
	case seg.Duration < 1 || seg.Duration > maxSegmentDuration:
		return fmt.Errorf("duration %d ms is not between 1 ms and 1 h: %w", seg.Duration, sdk.ErrRefused)
	case !validHash(seg.InitHash):
		return fmt.Errorf("init hash %q is not 1 to 64 lowercase hex digits: %w", seg.InitHash, sdk.ErrRefused)
	case len(seg.Data) == 0:
		return fmt.Errorf("no data: %w", sdk.ErrRefused)
	}
	return nil
}

// writeBatch stores segs (at most maxBatchFiles) in the steps described
// above.
func (st *stream) writeBatch(segs []media.Segment, now time.Time) []sdk.SegmentResult {
	res := make([]sdk.SegmentResult, len(segs))
	fail := func(it *batchItem, err error) {
		res[it.i].Err = fmt.Errorf("dvrstore: write segment %d of stream %q: %w", segs[it.i].Start, st.name, err)
	}
	items := make([]*batchItem, 0, len(segs))
	defer func() {
		for _, it := range items {
			if it.f != nil {
				it.f.Close()
			}
			if it.tmp != "" {
				os.Remove(it.tmp)
			}
		}
	}()

	// 1. Files written: nameless where the filesystem allows.
	how := tmpFileLink(st.tmpDir)
	for i, seg := range segs {
		it := &batchItem{i: i}
		if err := checkSegment(seg); err != nil {
			fail(it, err)
			continue
		}
		it.e = segEntry{start: seg.Start, dur: seg.Duration, size: int64(len(seg.Data)), hash: seg.InitHash, sum: crc32.Checksum(seg.Data, castagnoli)}
		if how != linkNone {
			f, err := openTmpFile(st.tmpDir)
			if err != nil && tmpFileUnsupported(err) && len(items) == 0 {
				how = linkNone // this filesystem has none: named temp files
			} else {
				if err != nil {
					fail(it, fmt.Errorf("create temp file: %w", err))
					continue
				}
				it.f, it.nameless = f, true
				items = append(items, it)
				if _, err := f.Write(seg.Data); err != nil {
					fail(it, fmt.Errorf("write temp file: %w", err))
				}
				continue
			}
		}
		f, err := os.CreateTemp(st.tmpDir, "w-*")
		if err != nil {
			fail(it, fmt.Errorf("create temp file: %w", err))
			continue
		}
		it.f, it.tmp = f, f.Name()
		items = append(items, it)
		if _, err := f.Write(seg.Data); err != nil {
			fail(it, fmt.Errorf("write temp file: %w", err))
			continue
		}
		if !st.noSync {
			startWriteback(f)
		}
	}
	// 2. Data on disk: one flush of the filesystem for the whole batch
	// where the system has one (syncfs), else each file's.
	var batchErr error
	batchSynced := false
	if !st.noSync && len(items) > 1 {
		for _, it := range items {
			if res[it.i].Err == nil {
				batchSynced, batchErr = syncFS(it.f)
				break
			}
		}
	}
	for _, it := range items {
		if res[it.i].Err != nil {
			continue
		}
		err := batchErr
		if !st.noSync && !batchSynced {
			err = syncData(it.f)
		}
		if !it.nameless { // a nameless file stays open until it is named
			if cerr := it.f.Close(); err == nil {
				err = cerr
			}
			it.f = nil
		}
		if err != nil {
			fail(it, fmt.Errorf("write temp file: %w", err))
		}
	}
	ok := items[:0]
	for _, it := range items {
		if res[it.i].Err == nil {
			ok = append(ok, it)
		}
	}

	// 3. Checks and reservations, newest first.
	sort.Slice(ok, func(a, b int) bool { return ok[a].e.start > ok[b].e.start })
	st.writeMu.Lock()
	if st.closed {
		st.writeMu.Unlock()
		for _, it := range ok {
			fail(it, fmt.Errorf("stream is closed"))
		}
		return res
	}
	reserved := ok[:0]
	for _, it := range ok {
		if d := st.cfg.Depth.Milliseconds(); d > 0 && it.e.end() <= now.UnixMilli()-d {
			fail(it, fmt.Errorf("ends before the archive's depth (%v): %w", st.cfg.Depth, sdk.ErrRefused))
			continue
		}
		if err := st.checkFree(it.e); err != nil {
			fail(it, err)
			continue
		}
		dir, err := st.makeHourDir(hourOf(it.e.start))
		if err != nil {
			fail(it, err)
			continue
		}
		it.path = filepath.Join(dir, segmentName(it.e.start, it.e.dur, it.e.hash))
		st.pending = append(st.pending, it.e)
		reserved = append(reserved, it)
	}
	st.writeMu.Unlock()

	// 4. Names on disk.
	dirs := map[string]bool{}
	placed := make([]*batchItem, 0, len(reserved))
	var linked *os.File // a linked file, for the flush
	for _, it := range reserved {
		if it.nameless {
			if err := linkTmpFile(it.f, it.path, how); err != nil {
				fail(it, fmt.Errorf("write %s: %w", it.path, err))
				continue
			}
			linked = it.f
		} else {
			if err := renameFile(it.tmp, it.path); err != nil {
				fail(it, fmt.Errorf("write %s: %w", it.path, err))
				continue
			}
			it.tmp = ""
			dirs[filepath.Dir(it.path)] = true
		}
		placed = append(placed, it)
	}
	var dirErr error
	if !st.noSync {
		if linked != nil {
			// The new names, and the link counts of the files they name.
			_, dirErr = syncFS(linked)
		}
		for dir := range dirs {
			if err := syncDir(dir); err != nil {
				dirErr = err
			}
		}
	}
	for _, it := range placed {
		if it.nameless {
			it.f.Close()
			it.f = nil
		}
	}

	// 5. Index lines and memory.
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	for _, it := range reserved {
		if i := slices.Index(st.pending, it.e); i >= 0 {
			st.pending = slices.Delete(st.pending, i, i+1)
		}
	}
	if dirErr == nil && st.closed {
		dirErr = fmt.Errorf("stream is closed")
	}
	if dirErr != nil {
		for _, it := range placed {
			os.Remove(it.path)
			fail(it, dirErr)
		}
		return res
	}
	byHour := map[int64][]*batchItem{}
	for _, it := range placed {
		k := hourOf(it.e.start)
		byHour[k] = append(byHour[k], it)
	}
	for key, its := range byHour {
		sort.Slice(its, func(a, b int) bool { return its[a].e.start < its[b].e.start })
		if err := st.indexBatch(key, its); err != nil {
			for _, it := range its {
				os.Remove(it.path)
				fail(it, err)
			}
			continue
		}
		for _, it := range its {
			res[it.i].Info = st.info(it.e)
		}
	}
	return res
}

// indexBatch makes the placed segments of one hour (in order of start)
// visible: their index lines in one write and one fsync, then memory
// (writeMu held).
func (st *stream) indexBatch(key int64, its []*batchItem) error {
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
			return err
		}
	}
	st.mu.RUnlock()
	var lines []byte
	added := make([]segEntry, len(its))
	for i, it := range its {
		added[i] = it.e
		lines = appendIndexLine(lines, it.e)
	}
	size, err := st.appendIndexLines(key, lines)
	if err != nil {
		return err
	}
	merged := make([]segEntry, 0, len(segs)+len(added))
	for a, b := 0, 0; a < len(segs) || b < len(added); {
		if b == len(added) || (a < len(segs) && segs[a].start < added[b].start) {
			merged = append(merged, segs[a])
			a++
		} else {
			merged = append(merged, added[b])
			b++
		}
	}
	sum := summarize(merged, st.tol, size)

	var prevLast *hourState
	st.mu.Lock()
	if h == nil {
		h = &hourState{key: key}
		j := st.findHour(key)
		if j == len(st.hours) && j > 0 {
			prevLast = st.hours[j-1]
		}
		st.hours = slices.Insert(st.hours, j, h)
		st.total += sum.bytes
	} else {
		st.total += sum.bytes - h.sum.bytes
	}
	h.sum = sum
	last := st.hours[len(st.hours)-1] == h
	st.cacheMu.Lock()
	if last && !h.pinned {
		// The newest hour is the one recording appends to: keep it loaded.
		if i := slices.Index(st.lru, h); i >= 0 {
			st.lru = slices.Delete(st.lru, i, i+1)
		}
		h.pinned = true
	} else if !h.pinned && !slices.Contains(st.lru, h) {
		st.lru = append(st.lru, h)
	}
	h.segs = merged
	st.cacheMu.Unlock()
	if end := added[len(added)-1].end(); !st.hasLast || end > st.lastEnd {
		st.hasLast, st.lastEnd = true, end
	}
	st.mu.Unlock()
	if prevLast != nil {
		st.unpin(prevLast)
	}
	if !last {
		st.saveSummary(key, sum)
	}
	return nil
}

// appendIndexLines appends lines to the index of hour key, fsyncs it, and
// returns the index's new size. The hour being recorded shares the
// writer's open index.
func (st *stream) appendIndexLines(key int64, lines []byte) (int64, error) {
	f := st.idx
	if f == nil || st.idxHour != key {
		var err error
		f, err = os.OpenFile(filepath.Join(hourDir(st.dir, key), indexName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return 0, fmt.Errorf("append index: %w", err)
		}
		defer f.Close()
	}
	before, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("append index: %w", err)
	}
	if _, err := f.Write(lines); err != nil {
		// No torn line may stay in front of the next append.
		f.Truncate(before.Size())
		if f == st.idx {
			st.closeIndex()
		}
		return 0, fmt.Errorf("append index: %w", err)
	}
	if !st.noSync {
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("sync index: %w", err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("append index: %w", err)
	}
	return fi.Size(), nil
}
