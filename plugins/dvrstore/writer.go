package dvrstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// initMeta is what an init's sidecar file keeps besides its bytes.
type initMeta struct {
	Codecs string `json:"codecs,omitempty"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
}

// writeSegment stores one segment: temp file in .tmp, fsync, rename into the
// hour directory, fsync the directory, then append the index line. A crash
// at any point leaves the segment wholly visible or absent (OpenStream
// reconciles the index with the files). The temp file is written and synced
// before the stream's write lock is taken, so concurrent writers (a
// replication job storing several segments) share the disk's flushes.
func (st *stream) writeSegment(seg media.Segment, now time.Time) (sdk.SegmentInfo, error) {
	fail := func(err error) (sdk.SegmentInfo, error) {
		return sdk.SegmentInfo{}, fmt.Errorf("dvrstore: write segment %d of stream %q: %w", seg.Start, st.name, err)
	}
	// refuse fails for good: the same segment can never be stored.
	refuse := func(format string, args ...any) (sdk.SegmentInfo, error) {
		return fail(fmt.Errorf(format+": %w", append(args, sdk.ErrRefused)...))
	}
	switch {
	case seg.Start < 0 || seg.Start > maxStart:
		return refuse("start out of range")
	case seg.Duration < 1 || seg.Duration > maxSegmentDuration:
		return refuse("duration %d ms is not between 1 ms and 1 h", seg.Duration)
	case !validHash(seg.InitHash):
		return refuse("init hash %q is not 1 to 64 lowercase hex digits", seg.InitHash)
	case len(seg.Data) == 0:
		return refuse("no data")
	}
	tmp, err := writeTemp(st.tmpDir, seg.Data, !st.noSync)
	if err != nil {
		return fail(err)
	}
	placed := false // commitTemp renames or removes tmp
	defer func() {
		if !placed {
			os.Remove(tmp)
		}
	}()
	st.writeMu.Lock()
	if st.closed {
		st.writeMu.Unlock()
		return fail(errors.New("stream is closed"))
	}
	// Only the writer changes lastEnd, and it holds writeMu.
	if st.hasLast && seg.Start < st.lastEnd {
		// A segment older than the newest one fills a hole (replication);
		// fillHole releases writeMu.
		placed = true
		info, err := st.fillHole(seg, tmp, now)
		if err != nil {
			return fail(err)
		}
		return info, nil
	}
	defer st.writeMu.Unlock()
	for _, p := range st.pending {
		if p.start < seg.Start+seg.Duration && p.end() > seg.Start {
			// Not refused: that write may yet fail.
			return fail(fmt.Errorf("overlaps the segment %d (%d ms) being stored", p.start, p.dur))
		}
	}
	key := hourOf(seg.Start)
	st.mu.RLock()
	var last *hourState
	if n := len(st.hours); n > 0 {
		last = st.hours[n-1]
	}
	st.mu.RUnlock()
	if last != nil && last.key == key {
		if err := st.pin(last); err != nil {
			return fail(err)
		}
	}

	dir, err := st.makeHourDir(key)
	if err != nil {
		return fail(err)
	}
	path := filepath.Join(dir, segmentName(seg.Start, seg.Duration, seg.InitHash))
	placed = true
	if err := commitTemp(tmp, path, !st.noSync); err != nil {
		// Renamed but not synced: not indexed, so not kept either.
		os.Remove(path)
		return fail(err)
	}
	e := segEntry{start: seg.Start, dur: seg.Duration, size: int64(len(seg.Data)), hash: seg.InitHash, sum: crc32.Checksum(seg.Data, castagnoli)}
	lineLen, err := st.appendIndex(key, e)
	if err != nil {
		// Undo: a file the index does not know would come back at the next open.
		os.Remove(path)
		return fail(fmt.Errorf("append index: %w", err))
	}

	var prev *hourState
	var prevSum hourSummary
	st.mu.Lock()
	if last != nil && last.key == key {
		last.sum.count++
		last.sum.bytes += e.size
		last.sum.indexSize += int64(lineLen)
		last.sum.spans = addSpan(last.sum.spans, st.tol, span{e.start, e.end(), e.dur})
		st.cacheMu.Lock()
		last.segs = append(last.segs, e)
		st.cacheMu.Unlock()
	} else {
		h := &hourState{key: key, sum: summarize([]segEntry{e}, st.tol, int64(lineLen)), segs: []segEntry{e}, pinned: true}
		if last != nil {
			prev, prevSum = last, last.sum
			prevSum.spans = append([]span(nil), last.sum.spans...)
		}
		st.hours = append(st.hours, h)
	}
	st.total += e.size
	st.hasLast, st.lastEnd = true, e.end()
	st.mu.Unlock()

	if prev != nil {
		st.unpin(prev)
		st.saveSummary(prev.key, prevSum)
	}
	return st.info(e), nil
}

// appendIndex appends e's line to the index of its hour and returns the
// line's length. The index of the previous hour is synced when the writer
// moves on, so only the newest hours can miss lines after a power cut. A
// failed append (a full disk) leaves the index as it was.
func (st *stream) appendIndex(key int64, e segEntry) (int, error) {
	if st.idx == nil || st.idxHour != key {
		if st.idx != nil {
			st.idx.Sync()
			st.idx.Close()
			st.idx = nil
		}
		f, err := st.openIndex(filepath.Join(hourDir(st.dir, key), indexName))
		if err != nil {
			return 0, err
		}
		st.idx, st.idxHour = f, key
	}
	line := appendIndexLine(make([]byte, 0, 64), e)
	if err := appendLine(st.idx, line); err != nil {
		st.closeIndex()
		return 0, err
	}
	return len(line), nil
}

// openIndex opens an hour's index for appending. An index whose last line
// has no newline (a torn append that could not be cut back) is first cut
// to its last whole line, so the next line does not join it.
func (st *stream) openIndex(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if size := fi.Size(); size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err != nil {
			f.Close()
			return nil, fmt.Errorf("read index %s: %w", path, err)
		}
		if last[0] != '\n' {
			data, err := os.ReadFile(path)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("read index %s: %w", path, err)
			}
			whole := int64(bytes.LastIndexByte(data, '\n') + 1)
			if err := f.Truncate(whole); err != nil {
				f.Close()
				return nil, fmt.Errorf("cut torn line of index %s: %w", path, err)
			}
			st.log.Warn("dvrstore: cut a torn index line", "stream", st.name, "index", path, "bytes", size-whole)
		}
	}
	return f, nil
}

// appendLine appends line to the index f, all or nothing: after a failed
// or short write (a full disk) f is cut back to its size before.
func appendLine(f *os.File, line []byte) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	n, err := f.Write(line)
	if err == nil {
		return nil
	}
	if n > 0 {
		if terr := f.Truncate(fi.Size()); terr != nil {
			return errors.Join(err, fmt.Errorf("cut torn index line: %w", terr))
		}
	}
	return err
}

// closeIndex closes the open index, if any (writer or cleaner, under writeMu).
func (st *stream) closeIndex() {
	if st.idx != nil {
		st.idx.Close()
		st.idx = nil
		st.idxHour = -1
	}
}

// makeHourDir creates the directories of an hour, syncing each parent that
// gained an entry.
func (st *stream) makeHourDir(key int64) (string, error) {
	dir := hourDir(st.dir, key)
	if st.madeHour == key {
		return dir, nil
	}
	parent := st.dir
	for _, name := range hourParts(key) {
		d := filepath.Join(parent, name)
		if err := os.Mkdir(d, 0o755); err == nil {
			if st.noSync {
				// Tests only.
			} else if err := syncDir(parent); err != nil {
				return "", err
			}
		} else if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("make hour directory: %w", err)
		}
		parent = d
	}
	st.madeHour = key
	return dir, nil
}

// writeInit stores an init segment and its metadata under init/, named by
// its hash; an init that is already there is left alone.
func (st *stream) writeInit(init media.Init) error {
	if !validHash(init.Hash) {
		return fmt.Errorf("dvrstore: write init of stream %q: hash %q is not 1 to 64 lowercase hex digits: %w", st.name, init.Hash, sdk.ErrRefused)
	}
	if len(init.Data) == 0 {
		return fmt.Errorf("dvrstore: write init %s of stream %q: no data: %w", init.Hash, st.name, sdk.ErrRefused)
	}
	if h := media.InitHash(init.Data); h != init.Hash {
		return fmt.Errorf("dvrstore: write init %s of stream %q: data hashes to %s: %w", init.Hash, st.name, h, sdk.ErrRefused)
	}
	path := filepath.Join(st.dir, initDirName, init.Hash+initExt)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	meta, err := json.Marshal(initMeta{Codecs: init.Codecs, Width: init.Width, Height: init.Height})
	if err != nil {
		return fmt.Errorf("dvrstore: write init %s of stream %q: %w", init.Hash, st.name, err)
	}
	// Metadata first: the init file's presence means both are there.
	if err := writeFileAtomic(st.tmpDir, filepath.Join(st.dir, initDirName, init.Hash+initMetaExt), meta, true); err != nil {
		return fmt.Errorf("dvrstore: write init %s of stream %q: %w", init.Hash, st.name, err)
	}
	if err := writeFileAtomic(st.tmpDir, path, init.Data, true); err != nil {
		return fmt.Errorf("dvrstore: write init %s of stream %q: %w", init.Hash, st.name, err)
	}
	return nil
}

// writeFileAtomic writes data to a temp file in tmpDir and renames it to
// path. With durable set it fsyncs the file before the rename and path's
// directory after it.
func writeFileAtomic(tmpDir, path string, data []byte, durable bool) error {
	tmp, err := writeTemp(tmpDir, data, durable)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return commitTemp(tmp, path, durable)
}

// writeTemp writes data to a new temp file in tmpDir (fsynced when durable)
// and returns its path.
func writeTemp(tmpDir string, data []byte, durable bool) (string, error) {
	f, err := os.CreateTemp(tmpDir, "w-*")
	if err != nil {
		return "", fmt.Errorf("create temp file: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write temp file: %w", err)
	}
	return tmp, nil
}

// commitTemp renames a temp file to path and, when durable, fsyncs path's
// directory. On failure the temp file is removed.
func commitTemp(tmp, path string, durable bool) error {
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if durable {
		return syncDir(filepath.Dir(path))
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
