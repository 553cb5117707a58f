package cache

import (
	"container/list"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// DiskConfig configures a Disk: the topology's cache = { root, depth,
// max_size, misses }.
type DiskConfig struct {
	// Root is the cache directory. It is created when missing; the cache
	// owns everything under Root/.tmp and the stream directories it writes.
	Root string
	// Depth drops segments whose end is older than now minus Depth (the age
	// of the video, not of the cache file). By default (0), no age limit.
	Depth time.Duration
	// MaxSize bounds the bytes of cached segments: after every Put the total
	// is at most MaxSize, the least recently used segments going first. By
	// default (0), no size limit. Init segments are not counted.
	MaxSize int64
	// Misses caches a segment only at its Nth request (see Want). By
	// default (0 or 1), at the first.
	Misses int
	// Now is the clock used for Depth. By default, time.Now.
	Now func() time.Time
}

// maxWantKeys bounds the request counters of Want; beyond it they restart.
const maxWantKeys = 1 << 16

// Disk is the disk segment cache: segments and init segments fetched from
// sources, kept in files under Root/<stream>/ whose names describe them, with
// an in-memory index rebuilt from the file names at open. Writes are atomic
// (temp file, fsync, rename), so a crash never leaves a torn file under its
// final name. It is safe for concurrent use.
//
// Segment files are named START_DURATION_SIZE_INITHASH_CHECKSUM.m4s and hold
// exactly the segment's bytes, so the front can send them directly; init
// segments are init_HASH.json (media.Init as JSON).
type Disk struct {
	cfg DiskConfig
	log *slog.Logger
	tmp string

	mu      sync.Mutex
	streams map[string]*diskStream
	lru     *list.List // of *diskEntry; front is the most recently used
	bytes   int64
	pending map[Key]*diskWrite // segments being written, in the foreground or behind
	// reserved is the bytes of the segments being written: bytes+reserved
	// stays within MaxSize, so a write in flight has its room already.
	reserved int64
	// behind tracks the background writes (PutBehind); Wait waits for it.
	behind sync.WaitGroup
	// hook, when set by a test, is called at each stage of a file write
	// ("partial": half the bytes are in the temp file; "synced": all of
	// them are, flushed) with the temp file's path.
	hook  func(stage, tmp string)
	wants map[Key]int
	// unlinking holds the files dropped from the index whose unlink runs
	// outside mu; Put does not write such a path until it is gone.
	unlinking map[string]struct{}
	// remove deletes a file; os.Remove, replaced by tests that hold an
	// unlink to see that reads go on meanwhile.
	remove func(string) error

	hits, misses, evictions    atomic.Uint64
	writeErrors, writesSkipped atomic.Uint64
	bytesGauge, entries        atomic.Int64
	inFlight                   atomic.Int64
}

type diskStream struct {
	starts []int64 // sorted
	segs   map[int64]*diskEntry
}

type diskEntry struct {
	stream string
	info   sdk.SegmentInfo // Path set
	elem   *list.Element
}

// OpenDisk opens (creating it when missing) the cache at cfg.Root: it
// deletes leftovers of interrupted writes, rebuilds the index from the file
// names (deleting files whose size does not match their name), and applies
// Depth and MaxSize.
func OpenDisk(cfg DiskConfig, logger *slog.Logger) (*Disk, error) {
	if cfg.Root == "" {
		return nil, errors.New("cache: disk cache root is empty")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("cache: disk cache root %q: %w", cfg.Root, err)
	}
	cfg.Root = root
	d := &Disk{
		cfg:       cfg,
		log:       logger.With("cache", root),
		tmp:       filepath.Join(root, ".tmp"),
		streams:   make(map[string]*diskStream),
		lru:       list.New(),
		pending:   make(map[Key]*diskWrite),
		wants:     make(map[Key]int),
		unlinking: make(map[string]struct{}),
		remove:    os.Remove,
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("cache: create disk cache root: %w", err)
	}
	if err := os.RemoveAll(d.tmp); err != nil {
		return nil, fmt.Errorf("cache: clean disk cache temp dir: %w", err)
	}
	if err := os.Mkdir(d.tmp, 0o755); err != nil {
		return nil, fmt.Errorf("cache: create disk cache temp dir: %w", err)
	}
	if err := d.load(); err != nil {
		return nil, err
	}
	d.Trim()
	return d, nil
}

type loaded struct {
	e     *diskEntry
	mtime time.Time
}

// load rebuilds the index from the files under Root.
func (d *Disk) load() error {
	dirs, err := os.ReadDir(d.cfg.Root)
	if err != nil {
		return fmt.Errorf("cache: read disk cache root: %w", err)
	}
	var all []loaded
	for _, de := range dirs {
		if de.Name() == ".tmp" {
			continue
		}
		if !de.IsDir() || sdk.CheckStreamName(de.Name()) != nil {
			d.log.Warn("disk cache: skipping unknown entry", "name", de.Name())
			continue
		}
		stream := de.Name()
		dir := filepath.Join(d.cfg.Root, stream)
		files, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("cache: read disk cache dir of stream %s: %w", stream, err)
		}
		for _, f := range files {
			if !f.Type().IsRegular() {
				continue
			}
			name := f.Name()
			if _, err := ParseInitName(name); err == nil {
				continue
			}
			sn, err := ParseSegmentName(name)
			if err != nil {
				d.log.Warn("disk cache: skipping unknown file", "stream", stream, "name", name)
				continue
			}
			path := filepath.Join(dir, name)
			fi, err := f.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return fmt.Errorf("cache: stat disk cache file: %w", err)
			}
			if fi.Size() != sn.Size {
				d.log.Warn("disk cache: deleting file of wrong size", "stream", stream, "name", name, "size", fi.Size())
				os.Remove(path)
				continue
			}
			all = append(all, loaded{
				e: &diskEntry{stream: stream, info: sdk.SegmentInfo{
					Start: sn.Start, Duration: sn.Duration, Size: sn.Size,
					InitHash: sn.InitHash, Checksum: sn.Checksum, Path: path,
				}},
				mtime: fi.ModTime(),
			})
		}
	}
	// Oldest files are the least recently used after a restart.
	sort.Slice(all, func(i, j int) bool { return all[i].mtime.Before(all[j].mtime) })
	var doomed []string
	d.mu.Lock()
	for _, l := range all {
		if old := d.insertLocked(l.e); old != nil {
			// Two files for one start (cut by two sources, or left by a
			// delete that failed): the newer one wins, the other goes.
			d.log.Warn("disk cache: deleting older file for the same start", "stream", old.stream, "name", filepath.Base(old.info.Path))
			doomed = append(doomed, d.doomLocked(old.info.Path))
		}
	}
	n, bytes := d.lru.Len(), d.bytes
	d.mu.Unlock()
	d.unlink(doomed)
	d.log.Info("disk cache opened", "segments", n, "bytes", bytes)
	return nil
}

// insertLocked adds e to the index as the most recently used entry. An
// entry already indexed at e's start is dropped from the index and
// returned; when its file is not e's, the caller deletes it.
func (d *Disk) insertLocked(e *diskEntry) (replaced *diskEntry) {
	s := d.streams[e.stream]
	if s == nil {
		s = &diskStream{segs: make(map[int64]*diskEntry)}
		d.streams[e.stream] = s
	}
	start := e.info.Start
	if old := s.segs[start]; old != nil {
		d.lru.Remove(old.elem)
		d.bytes -= old.info.Size
		replaced = old
	} else {
		i := sort.Search(len(s.starts), func(i int) bool { return s.starts[i] >= start })
		s.starts = append(s.starts, 0)
		copy(s.starts[i+1:], s.starts[i:])
		s.starts[i] = start
	}
	s.segs[start] = e
	e.elem = d.lru.PushFront(e)
	d.bytes += e.info.Size
	d.publishLocked()
	if replaced != nil && replaced.info.Path == e.info.Path {
		return nil
	}
	return replaced
}

// removeLocked deletes e from the index and returns the path of its file,
// which the caller deletes with unlink once it has released mu: reads take
// mu, a file system call must not hold them up.
func (d *Disk) removeLocked(e *diskEntry) string {
	s := d.streams[e.stream]
	start := e.info.Start
	if s == nil || s.segs[start] != e {
		// Not indexed (any more): nothing to drop, nothing to count.
		return ""
	}
	i := sort.Search(len(s.starts), func(i int) bool { return s.starts[i] >= start })
	if i < len(s.starts) && s.starts[i] == start {
		s.starts = append(s.starts[:i], s.starts[i+1:]...)
	}
	delete(s.segs, start)
	if len(s.segs) == 0 {
		delete(d.streams, e.stream)
	}
	d.lru.Remove(e.elem)
	d.bytes -= e.info.Size
	d.evictions.Add(1)
	d.publishLocked()
	return d.doomLocked(e.info.Path)
}

// doomLocked marks path as being deleted (Put will not write it until
// unlink has run) and returns it.
func (d *Disk) doomLocked(path string) string {
	d.unlinking[path] = struct{}{}
	return path
}

// unlink deletes the files of paths (returned by removeLocked or
// doomLocked) without holding mu, then lets Put write those paths again.
// Empty paths are skipped.
func (d *Disk) unlink(paths []string) {
	if len(paths) == 0 {
		return
	}
	done := paths[:0:0]
	for _, p := range paths {
		if p == "" {
			continue
		}
		if err := d.remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			d.log.Warn("disk cache: delete failed", "name", filepath.Base(p), "error", err)
		}
		done = append(done, p)
	}
	d.mu.Lock()
	for _, p := range done {
		delete(d.unlinking, p)
	}
	d.mu.Unlock()
}

func (d *Disk) publishLocked() {
	d.bytesGauge.Store(d.bytes)
	d.entries.Store(int64(d.lru.Len()))
}

// expired reports whether a segment ending at end (UTC ms) is older than Depth.
func (d *Disk) expired(end int64) bool {
	return d.cfg.Depth > 0 && end < d.cfg.Now().Add(-d.cfg.Depth).UnixMilli()
}

// trimLocked applies Depth (oldest segments of each stream) and MaxSize
// (least recently used first, counting the bytes of writes in flight) to
// the index and returns the files to unlink once mu is released.
func (d *Disk) trimLocked() []string {
	var doomed []string
	if d.cfg.Depth > 0 {
		cut := d.cfg.Now().Add(-d.cfg.Depth).UnixMilli()
		for name, s := range d.streams {
			for len(s.starts) > 0 {
				e := s.segs[s.starts[0]]
				if e.info.End() >= cut {
					break
				}
				doomed = append(doomed, d.removeLocked(e))
				if d.streams[name] == nil {
					break
				}
			}
		}
	}
	if d.cfg.MaxSize > 0 {
		for d.bytes+d.reserved > d.cfg.MaxSize {
			back := d.lru.Back()
			if back == nil {
				break
			}
			doomed = append(doomed, d.removeLocked(back.Value.(*diskEntry)))
		}
	}
	return doomed
}

// Trim applies Depth and MaxSize now. Put and Get apply them as they go;
// the owner may call Trim periodically so that an idle cache also ages.
// Files are deleted after the index lock is released.
func (d *Disk) Trim() {
	d.mu.Lock()
	doomed := d.trimLocked()
	d.mu.Unlock()
	d.unlink(doomed)
}

// Get returns the cached segment of stream that starts at start, with the
// Path of its file, and marks it recently used.
func (d *Disk) Get(stream string, start int64) (sdk.SegmentInfo, bool) {
	d.mu.Lock()
	var e *diskEntry
	if s := d.streams[stream]; s != nil {
		e = s.segs[start]
	}
	if e == nil {
		d.mu.Unlock()
		d.misses.Add(1)
		return sdk.SegmentInfo{}, false
	}
	if d.expired(e.info.End()) {
		p := d.removeLocked(e)
		d.mu.Unlock()
		d.unlink([]string{p})
		d.misses.Add(1)
		return sdk.SegmentInfo{}, false
	}
	d.lru.MoveToFront(e.elem)
	info := e.info
	d.mu.Unlock()
	d.hits.Add(1)
	return info, true
}

// List returns the cached segments of stream whose start is in [from, to),
// in order of start. It does not count as use.
func (d *Disk) List(stream string, from, to int64) []sdk.SegmentInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.streams[stream]
	if s == nil {
		return nil
	}
	i := sort.Search(len(s.starts), func(i int) bool { return s.starts[i] >= from })
	var out []sdk.SegmentInfo
	for ; i < len(s.starts) && s.starts[i] < to; i++ {
		info := s.segs[s.starts[i]].info
		if d.expired(info.End()) {
			continue
		}
		out = append(out, info)
	}
	return out
}

// Want counts a request for a segment that was not in the cache and reports
// whether the segment should now be cached: true at its Misses-th request
// (always true when Misses <= 1).
func (d *Disk) Want(stream string, start int64) bool {
	if d.cfg.Misses <= 1 {
		return true
	}
	k := Key{Stream: stream, Start: start}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.wants) >= maxWantKeys {
		clear(d.wants)
	}
	d.wants[k]++
	if d.wants[k] >= d.cfg.Misses {
		delete(d.wants, k)
		return true
	}
	return false
}

// PutInit stores an init segment of stream; its Hash must be
// media.InitHash(init.Data). Inits are small and not counted in MaxSize.
func (d *Disk) PutInit(stream string, init media.Init) error {
	if err := sdk.CheckStreamName(stream); err != nil {
		return fmt.Errorf("cache: put init: %w", err)
	}
	if got := media.InitHash(init.Data); got != init.Hash {
		return fmt.Errorf("cache: put init %s/%s: data hashes to %s", stream, init.Hash, got)
	}
	name := "init_" + init.Hash + ".json"
	dir := filepath.Join(d.cfg.Root, stream)
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	b, err := json.Marshal(init)
	if err != nil {
		return fmt.Errorf("cache: put init %s/%s: %w", stream, init.Hash, err)
	}
	if err := d.writeAtomic(dir, path, b); err != nil {
		return fmt.Errorf("cache: put init %s/%s: %w", stream, init.Hash, err)
	}
	return nil
}

// GetInit returns the cached init segment of stream with that hash.
func (d *Disk) GetInit(stream, hash string) (media.Init, bool) {
	if sdk.CheckStreamName(stream) != nil || !validToken(hash) {
		return media.Init{}, false
	}
	b, err := os.ReadFile(filepath.Join(d.cfg.Root, stream, "init_"+hash+".json"))
	if err != nil {
		return media.Init{}, false
	}
	var init media.Init
	if err := json.Unmarshal(b, &init); err != nil || init.Hash != hash || media.InitHash(init.Data) != hash {
		return media.Init{}, false
	}
	return init, true
}

// Root is the cache directory (absolute).
func (d *Disk) Root() string { return d.cfg.Root }

// SegmentName is what a segment file's name says about it.
type SegmentName struct {
	Start, Duration, Size int64
	InitHash, Checksum    string
}

// maxTokenLen bounds the init hash and checksum in a file name.
const maxTokenLen = 64

// Format returns the file name START_DURATION_SIZE_INITHASH_CHECKSUM.m4s, or
// an error when a field cannot be put in a name.
func (n SegmentName) Format() (string, error) {
	switch {
	case n.Start < 0:
		return "", fmt.Errorf("negative start %d", n.Start)
	case n.Duration <= 0:
		return "", fmt.Errorf("duration %d is not positive", n.Duration)
	case n.Size <= 0:
		return "", fmt.Errorf("size %d is not positive", n.Size)
	case !validToken(n.InitHash):
		return "", fmt.Errorf("init hash %.80q is not 1 to %d letters and digits", n.InitHash, maxTokenLen)
	case !validToken(n.Checksum):
		return "", fmt.Errorf("checksum %.80q is not 1 to %d letters and digits", n.Checksum, maxTokenLen)
	}
	return strconv.FormatInt(n.Start, 10) + "_" + strconv.FormatInt(n.Duration, 10) + "_" +
		strconv.FormatInt(n.Size, 10) + "_" + n.InitHash + "_" + n.Checksum + ".m4s", nil
}

// ParseSegmentName parses a segment file name made by Format. Only the
// canonical form is accepted: Format(ParseSegmentName(s)) == s.
func ParseSegmentName(name string) (SegmentName, error) {
	base, ok := strings.CutSuffix(name, ".m4s")
	if !ok {
		return SegmentName{}, fmt.Errorf("cache: segment file name %.80q: no .m4s suffix", name)
	}
	parts := strings.Split(base, "_")
	if len(parts) != 5 {
		return SegmentName{}, fmt.Errorf("cache: segment file name %.80q: want 5 fields", name)
	}
	var nums [3]int64
	for i := range nums {
		v, err := parseCanonicalInt(parts[i])
		if err != nil {
			return SegmentName{}, fmt.Errorf("cache: segment file name %.80q: %v", name, err)
		}
		nums[i] = v
	}
	n := SegmentName{Start: nums[0], Duration: nums[1], Size: nums[2], InitHash: parts[3], Checksum: parts[4]}
	if _, err := n.Format(); err != nil {
		return SegmentName{}, fmt.Errorf("cache: segment file name %.80q: %v", name, err)
	}
	return n, nil
}

// ParseInitName parses an init file name init_HASH.json and returns HASH.
func ParseInitName(name string) (string, error) {
	h, ok := strings.CutPrefix(name, "init_")
	if ok {
		h, ok = strings.CutSuffix(h, ".json")
	}
	if !ok || !validToken(h) {
		return "", fmt.Errorf("cache: init file name %.80q is not init_HASH.json", name)
	}
	return h, nil
}

// parseCanonicalInt parses a non-negative decimal with no sign and no
// leading zero.
func parseCanonicalInt(s string) (int64, error) {
	if s == "" || len(s) > 19 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%.24q is not a canonical number", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%.24q is not a canonical number", s)
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// validToken reports whether s is 1 to maxTokenLen ASCII letters and digits.
func validToken(s string) bool {
	if s == "" || len(s) > maxTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
