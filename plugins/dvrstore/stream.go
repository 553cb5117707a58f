package dvrstore

import (
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/edgedvr/edge/sdk"
)

// maxCachedHours is how many hours of segment entries a stream keeps loaded
// besides the hour being written (about 1,200 entries each at 3 s segments).
const maxCachedHours = 48

// hourState is one hour of a stream in memory: its summary always, its
// segments while loaded.
type hourState struct {
	key int64
	sum hourSummary // guarded by stream.mu
	// segs are the hour's segments, nil when not loaded; pinned hours (the
	// one being written) are never unloaded. Both guarded by stream.cacheMu.
	segs   []segEntry
	pinned bool
}

func (h *hourState) first() int64   { return h.sum.spans[0].from }
func (h *hourState) lastEnd() int64 { return h.sum.spans[len(h.sum.spans)-1].to }

// stream is one open stream: the state of R/S.
type stream struct {
	name   string
	dir    string // absolute R/S
	tmpDir string // R/S/.tmp
	cfg    sdk.StreamConfig
	tol    int64 // gap tolerance in ms
	log    *slog.Logger
	noSync bool // skip fsync of segment files (tests that fill archives)

	// writeMu is held by the writer and the cleaner: one of them changes
	// files at a time.
	writeMu  sync.Mutex
	idx      *os.File // open index of idxHour, or nil
	idxHour  int64
	madeHour int64 // an hour directory known to exist, or -1
	closed   bool
	pending  []segEntry // holes being filled: file not yet in place or indexed

	// mu guards hours, total and lastEnd: readers hold it shared, the writer
	// and the cleaner exclusively while they change memory.
	mu      sync.RWMutex
	hours   []*hourState // non-empty hours, oldest first
	total   int64        // bytes of all segments
	hasLast bool
	lastEnd int64 // end of the newest segment written, kept after retention

	cacheMu sync.Mutex
	lru     []*hourState // loaded, unpinned hours, least recently used first

	lock *os.File
	stop chan struct{}
	done chan struct{}
}

// openStream loads R/S: it takes the stream's lock file, deletes leftovers
// in .tmp, reconciles the oldest and the two newest hours against their
// files, and reads the other hours' summaries (rebuilding stale ones).
func openStream(cfg sdk.StreamConfig, tol int64, log *slog.Logger) (*stream, error) {
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("dvrstore: open stream %q: bad root: %w", cfg.Stream, err)
	}
	st := &stream{
		name:     cfg.Stream,
		dir:      filepath.Join(root, cfg.Stream),
		cfg:      cfg,
		tol:      tol,
		log:      log,
		idxHour:  -1,
		madeHour: -1,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	st.tmpDir = filepath.Join(st.dir, tmpDirName)
	for _, d := range []string{st.dir, filepath.Join(st.dir, initDirName), st.tmpDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("dvrstore: open stream %q: %w", cfg.Stream, err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(st.dir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("dvrstore: open stream %q: %w", cfg.Stream, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("dvrstore: open stream %q: archive %s is in use by another store: %w", cfg.Stream, st.dir, err)
	}
	st.lock = lock
	if err := st.load(); err != nil {
		st.closeFiles()
		return nil, fmt.Errorf("dvrstore: open stream %q: %w", cfg.Stream, err)
	}
	return st, nil
}

func (st *stream) load() error {
	if err := clearDir(st.tmpDir); err != nil {
		return err
	}
	keys, err := scanHours(st.dir)
	if err != nil {
		return err
	}
	reconcile := map[int64]bool{}
	if n := len(keys); n > 0 {
		reconcile[keys[0]] = true
		reconcile[keys[n-1]] = true
		if n > 1 {
			reconcile[keys[n-2]] = true
		}
	}
	for _, key := range keys {
		h := &hourState{key: key}
		var segs []segEntry
		if reconcile[key] {
			var size int64
			segs, size, err = st.reconcileHour(key)
			if err != nil {
				return err
			}
			h.sum = summarize(segs, st.tol, size)
			if len(segs) > 0 && key != keys[len(keys)-1] {
				st.saveSummary(key, h.sum)
			}
		} else {
			h.sum, err = st.loadSummary(key)
			if err != nil {
				return err
			}
		}
		if h.sum.count == 0 {
			removeEmptyHour(st.dir, key)
			continue
		}
		st.hours = append(st.hours, h)
		st.total += h.sum.bytes
		if reconcile[key] {
			h.segs = segs
			st.lru = append(st.lru, h)
		}
	}
	if n := len(st.hours); n > 0 {
		last := st.hours[n-1]
		if err := st.pin(last); err != nil {
			return err
		}
		st.hasLast, st.lastEnd = true, last.lastEnd()
	}
	return nil
}

// pin loads h and keeps it loaded: it is the hour being written.
func (st *stream) pin(h *hourState) error {
	if _, err := st.segsOf(h); err != nil {
		return err
	}
	st.cacheMu.Lock()
	defer st.cacheMu.Unlock()
	if i := slices.Index(st.lru, h); i >= 0 {
		st.lru = slices.Delete(st.lru, i, i+1)
	}
	h.pinned = true
	return nil
}

// loadSummary returns the summary of an hour, rebuilding it from the index
// when it is missing or stale.
func (st *stream) loadSummary(key int64) (hourSummary, error) {
	dir := hourDir(st.dir, key)
	fi, err := os.Stat(filepath.Join(dir, indexName))
	if err != nil && !os.IsNotExist(err) {
		return hourSummary{}, fmt.Errorf("stat index: %w", err)
	}
	if err == nil {
		if data, err := os.ReadFile(filepath.Join(dir, summaryName)); err == nil {
			if s, err := parseSummary(string(data)); err == nil && s.indexSize == fi.Size() && s.tol == st.tol {
				return s, nil
			}
		}
	}
	segs, bad, torn, size, err := loadIndex(dir, key)
	if err != nil {
		return hourSummary{}, err
	}
	if bad > 0 || torn {
		st.log.Warn("dvrstore: skipped bad index lines", "stream", st.name, "hour", dir, "bad", bad, "torn", torn)
	}
	s := summarize(segs, st.tol, size)
	if s.count > 0 {
		st.saveSummary(key, s)
	}
	return s, nil
}

// saveSummary writes an hour's summary. It is derived data, so it is not
// synced and a failure is only logged.
func (st *stream) saveSummary(key int64, s hourSummary) {
	dir := hourDir(st.dir, key)
	if err := writeFileAtomic(st.tmpDir, filepath.Join(dir, summaryName), formatSummary(s), false); err != nil {
		st.log.Warn("dvrstore: write summary failed", "stream", st.name, "hour", dir, "error", err)
	}
}

// reconcileHour makes an hour's index agree with its files after a crash:
// files missing from the index are added (checksum computed from the file),
// lines whose file is missing, bad lines and a torn last line are dropped.
// The index is rewritten only when something changed.
func (st *stream) reconcileHour(key int64) ([]segEntry, int64, error) {
	dir := hourDir(st.dir, key)
	names, err := readDirNames(dir)
	if err != nil {
		return nil, 0, err
	}
	files := map[int64]string{}
	for _, name := range names {
		if !strings.HasSuffix(name, segmentExt) {
			continue
		}
		start, _, _, err := parseSegmentName(key, name)
		if err != nil {
			st.log.Warn("dvrstore: ignoring unknown file", "stream", st.name, "file", filepath.Join(dir, name))
			continue
		}
		files[start] = name
	}
	segs, bad, torn, size, err := loadIndex(dir, key)
	if err != nil {
		return nil, 0, err
	}
	changed := bad > 0 || torn
	kept := segs[:0]
	for _, e := range segs {
		if files[e.start] == segmentName(e.start, e.dur, e.hash) {
			kept = append(kept, e)
			delete(files, e.start)
		} else {
			changed = true
		}
	}
	if len(files) > 0 {
		changed = true
		for start, name := range files {
			_, dur, hash, _ := parseSegmentName(key, name)
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return nil, 0, fmt.Errorf("reconcile %s: %w", dir, err)
			}
			kept = append(kept, segEntry{start: start, dur: dur, size: int64(len(data)), hash: hash, sum: crc32.Checksum(data, castagnoli)})
		}
		sort.Slice(kept, func(i, j int) bool { return kept[i].start < kept[j].start })
		// Overlaps can only come from files put there by hand: keep the earlier.
		kept = slices.DeleteFunc(kept, func() func(segEntry) bool {
			end := int64(-1)
			return func(e segEntry) bool {
				if e.start < end {
					return true
				}
				end = e.end()
				return false
			}
		}())
	}
	if changed {
		st.log.Info("dvrstore: reconciled hour index", "stream", st.name, "hour", dir, "segments", len(kept), "bad_lines", bad, "torn", torn)
		size, err = st.rewriteIndex(key, kept)
		if err != nil {
			return nil, 0, err
		}
	}
	return kept, size, nil
}

// rewriteIndex replaces an hour's index atomically and returns its size.
func (st *stream) rewriteIndex(key int64, segs []segEntry) (int64, error) {
	var b []byte
	for _, e := range segs {
		b = appendIndexLine(b, e)
	}
	if err := writeFileAtomic(st.tmpDir, filepath.Join(hourDir(st.dir, key), indexName), b, true); err != nil {
		return 0, fmt.Errorf("rewrite index: %w", err)
	}
	return int64(len(b)), nil
}

// scanHours lists the hour directories of a stream, oldest first, by their
// names only (YYYY/MM/DD/HH).
func scanHours(dir string) ([]int64, error) {
	var keys []int64
	years, err := readDirNames(dir)
	if err != nil {
		return nil, err
	}
	for _, y := range years {
		if len(y) != 4 {
			continue
		}
		months, _ := readDirNames(filepath.Join(dir, y))
		for _, m := range months {
			days, _ := readDirNames(filepath.Join(dir, y, m))
			for _, d := range days {
				hours, _ := readDirNames(filepath.Join(dir, y, m, d))
				for _, h := range hours {
					if key, ok := parseHourParts(y, m, d, h); ok {
						keys = append(keys, key)
					}
				}
			}
		}
	}
	slices.Sort(keys)
	return keys, nil
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("read directory: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", dir, err)
	}
	return names, nil
}

// clearDir removes everything inside dir.
func clearDir(dir string) error {
	names, err := readDirNames(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("clear %s: %w", dir, err)
		}
	}
	return nil
}

// removeEmptyHour removes an hour directory that holds no segment, and its
// parents up to the stream directory when they become empty.
func removeEmptyHour(streamDir string, key int64) {
	dir := hourDir(streamDir, key)
	names, err := readDirNames(dir)
	if err != nil {
		return
	}
	for _, n := range names {
		if strings.HasSuffix(n, segmentExt) {
			return
		}
	}
	os.Remove(filepath.Join(dir, indexName))
	os.Remove(filepath.Join(dir, summaryName))
	removeEmptyParents(streamDir, key)
}

// removeEmptyParents removes the hour, day, month and year directories of
// key that are empty. os.Remove refuses a directory that is not.
func removeEmptyParents(streamDir string, key int64) {
	p := hourParts(key)
	for i := 4; i > 0; i-- {
		err := os.Remove(filepath.Join(append([]string{streamDir}, p[:i]...)...))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return
		}
	}
}

// segsOf returns an hour's segments, loading its index when needed. The
// caller holds mu (shared or exclusive).
func (st *stream) segsOf(h *hourState) ([]segEntry, error) {
	st.cacheMu.Lock()
	if h.segs != nil || h.pinned {
		segs := h.segs
		if i := slices.Index(st.lru, h); i >= 0 {
			st.lru = append(slices.Delete(st.lru, i, i+1), h)
		}
		st.cacheMu.Unlock()
		return segs, nil
	}
	st.cacheMu.Unlock()
	dir := hourDir(st.dir, h.key)
	segs, bad, torn, _, err := loadIndex(dir, h.key)
	if err != nil {
		return nil, fmt.Errorf("load hour %s: %w", dir, err)
	}
	if bad > 0 || torn {
		st.log.Warn("dvrstore: skipped bad index lines", "stream", st.name, "hour", dir, "bad", bad, "torn", torn)
	}
	st.cacheMu.Lock()
	defer st.cacheMu.Unlock()
	if h.segs == nil && !h.pinned {
		h.segs = segs
		st.lru = append(st.lru, h)
		for len(st.lru) > maxCachedHours {
			st.lru[0].segs = nil
			st.lru = st.lru[1:]
		}
	}
	if h.segs != nil {
		segs = h.segs
	}
	return segs, nil
}

// setSegs replaces the loaded segments of h (writer and cleaner, under mu).
func (st *stream) setSegs(h *hourState, segs []segEntry) {
	st.cacheMu.Lock()
	h.segs = segs
	st.cacheMu.Unlock()
}

// unpin lets h be unloaded like any other hour.
func (st *stream) unpin(h *hourState) {
	st.cacheMu.Lock()
	defer st.cacheMu.Unlock()
	if h.pinned {
		h.pinned = false
		st.lru = append(st.lru, h)
	}
}

// dropCached forgets h, which is no longer part of the stream.
func (st *stream) dropCached(h *hourState) {
	st.cacheMu.Lock()
	defer st.cacheMu.Unlock()
	if i := slices.Index(st.lru, h); i >= 0 {
		st.lru = slices.Delete(st.lru, i, i+1)
	}
	h.segs, h.pinned = nil, false
}

// findHour returns the index in hours of the first hour with key >= k.
func (st *stream) findHour(k int64) int {
	return sort.Search(len(st.hours), func(i int) bool { return st.hours[i].key >= k })
}

func (st *stream) closeFiles() {
	if st.idx != nil {
		st.idx.Close()
		st.idx = nil
	}
	if st.lock != nil {
		st.lock.Close()
		st.lock = nil
	}
}
