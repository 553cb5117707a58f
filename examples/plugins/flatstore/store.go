package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// store keeps each segment as one file ROOT/STREAM/START_DUR_INIT_SUM.m4s
// and each init as ROOT/STREAM/init/HASH.mp4. The file names are the
// index: OpenStream lists the directory. Fine for a few thousand segments
// per stream; the built-in store's per-hour index is what scales.
type store struct {
	mu      sync.Mutex
	streams map[string]*stream
}

type stream struct {
	cfg  sdk.StreamConfig
	dir  string
	mu   sync.Mutex
	segs []sdk.SegmentInfo // sorted by Start
	stop chan struct{}
}

var (
	_ sdk.Store = (*store)(nil)
	// Optional: sdk.Serve closes a store that is an io.Closer when the
	// host ends the session (SDK 1.1.0).
	_ interface{ Close() error } = (*store)(nil)
)

func newStore() *store { return &store{streams: map[string]*stream{}} }

func (s *store) get(name string) (*stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.streams[name]
	if !ok {
		return nil, fmt.Errorf("flatstore: stream %q is not open: %w", name, sdk.ErrNotFound)
	}
	return st, nil
}

func (s *store) OpenStream(ctx context.Context, cfg sdk.StreamConfig) error {
	if err := sdk.CheckStreamName(cfg.Stream); err != nil {
		return fmt.Errorf("flatstore: %w", err)
	}
	dir := filepath.Join(cfg.Root, cfg.Stream)
	if err := os.MkdirAll(filepath.Join(dir, "init"), 0o755); err != nil {
		return fmt.Errorf("flatstore: open %s: %w", cfg.Stream, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("flatstore: open %s: %w", cfg.Stream, err)
	}
	st := &stream{cfg: cfg, dir: dir, stop: make(chan struct{})}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") { // a write a crash interrupted
			os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		if info, ok := parseName(dir, e.Name()); ok {
			st.segs = append(st.segs, info)
		}
	}
	slices.SortFunc(st.segs, func(a, b sdk.SegmentInfo) int { return int(a.Start - b.Start) })
	st.clean(time.Now())
	s.mu.Lock()
	if old := s.streams[cfg.Stream]; old != nil {
		close(old.stop)
	}
	s.streams[cfg.Stream] = st
	s.mu.Unlock()
	go st.cleanEvery(10 * time.Second)
	return nil
}

func segName(i sdk.SegmentInfo) string {
	return fmt.Sprintf("%d_%d_%s_%s.m4s", i.Start, i.Duration, i.InitHash, i.Checksum)
}

func parseName(dir, name string) (sdk.SegmentInfo, bool) {
	f := strings.Split(strings.TrimSuffix(name, ".m4s"), "_")
	if len(f) != 4 || !strings.HasSuffix(name, ".m4s") {
		return sdk.SegmentInfo{}, false
	}
	start, err1 := strconv.ParseInt(f[0], 10, 64)
	dur, err2 := strconv.ParseInt(f[1], 10, 64)
	fi, err3 := os.Stat(filepath.Join(dir, name))
	if err1 != nil || err2 != nil || err3 != nil || dur <= 0 {
		return sdk.SegmentInfo{}, false
	}
	return sdk.SegmentInfo{Start: start, Duration: dur, Size: fi.Size(), InitHash: f[2], Checksum: f[3], Path: filepath.Join(dir, name)}, true
}

// writeAtomic writes a file under a temporary name, syncs it and renames
// it: after a crash the file is whole or absent. On failure (a full disk)
// the temporary file is removed.
func writeAtomic(path string, data []byte) (err error) {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (s *store) WriteInit(ctx context.Context, name string, init media.Init) error {
	st, err := s.get(name)
	if err != nil {
		return err
	}
	if init.Hash != media.InitHash(init.Data) {
		// Refused for good (sdk.ErrRefused): the host drops what needs it.
		return fmt.Errorf("flatstore: init hash %q does not match its data: %w", init.Hash, sdk.ErrRefused)
	}
	path := filepath.Join(st.dir, "init", init.Hash+".mp4")
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return writeAtomic(path, init.Data)
}

func (s *store) WriteSegment(ctx context.Context, name string, seg media.Segment) (sdk.SegmentInfo, error) {
	st, err := s.get(name)
	if err != nil {
		return sdk.SegmentInfo{}, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	// Segments that can never be stored are refused for good
	// (sdk.ErrRefused): the host drops them and records on. Other errors,
	// a full disk included, are retried.
	if seg.Duration <= 0 {
		return sdk.SegmentInfo{}, fmt.Errorf("flatstore: segment at %d has duration %d ms: %w", seg.Start, seg.Duration, sdk.ErrRefused)
	}
	if n := len(st.segs); n > 0 && seg.Start < st.segs[n-1].End() {
		return sdk.SegmentInfo{}, fmt.Errorf("flatstore: segment at %d starts before the end of the last one: %w", seg.Start, sdk.ErrRefused)
	}
	info := sdk.SegmentInfo{Start: seg.Start, Duration: seg.Duration, Size: int64(len(seg.Data)), InitHash: seg.InitHash, Checksum: media.Checksum(seg.Data)}
	info.Path = filepath.Join(st.dir, segName(info))
	if err := writeAtomic(info.Path, seg.Data); err != nil {
		return sdk.SegmentInfo{}, fmt.Errorf("flatstore: write segment %d: %w", seg.Start, err)
	}
	st.segs = append(st.segs, info)
	return info, nil
}

// list returns the segments whose start is in [from, to).
func (st *stream) list(from, to int64) []sdk.SegmentInfo {
	st.mu.Lock()
	defer st.mu.Unlock()
	i, _ := slices.BinarySearchFunc(st.segs, from, func(s sdk.SegmentInfo, k int64) int { return int(s.Start - k) })
	var out []sdk.SegmentInfo
	for ; i < len(st.segs) && st.segs[i].Start < to; i++ {
		out = append(out, st.segs[i])
	}
	return out
}

func (s *store) Segments(ctx context.Context, name string, from, to int64) ([]sdk.SegmentInfo, error) {
	st, err := s.get(name)
	if err != nil {
		return nil, err
	}
	return st.list(from, to), nil
}

func (s *store) Ranges(ctx context.Context, name string, from, to int64) ([]sdk.Range, error) {
	st, err := s.get(name)
	if err != nil {
		return nil, err
	}
	// Segments overlapping [from, to): one before from may reach into it.
	var out []sdk.Range
	var lastDur int64
	for _, sg := range st.list(from-time.Hour.Milliseconds(), to) {
		if sg.End() <= from {
			continue
		}
		if n := len(out); n > 0 && sg.Start-out[n-1].To <= max(250, lastDur/10) {
			out[n-1].To = sg.End()
		} else {
			out = append(out, sdk.Range{From: sg.Start, To: sg.End()})
		}
		lastDur = sg.Duration
	}
	return out, nil
}

func (s *store) ReadInit(ctx context.Context, name, hash string) (media.Init, error) {
	st, err := s.get(name)
	if err != nil {
		return media.Init{}, err
	}
	if strings.ContainsAny(hash, "/\\.") {
		return media.Init{}, fmt.Errorf("flatstore: init %q: %w", hash, sdk.ErrNotFound)
	}
	b, err := os.ReadFile(filepath.Join(st.dir, "init", hash+".mp4"))
	if os.IsNotExist(err) {
		return media.Init{}, fmt.Errorf("flatstore: init %q: %w", hash, sdk.ErrNotFound)
	}
	if err != nil {
		return media.Init{}, fmt.Errorf("flatstore: init %q: %w", hash, err)
	}
	return media.Init{Hash: hash, Data: b}, nil
}

func (s *store) ReadSegment(ctx context.Context, name string, start int64) ([]byte, error) {
	st, err := s.get(name)
	if err != nil {
		return nil, err
	}
	segs := st.list(start, start+1)
	if len(segs) != 1 {
		return nil, fmt.Errorf("flatstore: no segment at %d: %w", start, sdk.ErrNotFound)
	}
	b, err := os.ReadFile(segs[0].Path)
	if os.IsNotExist(err) { // removed by retention since it was listed
		return nil, fmt.Errorf("flatstore: no segment at %d: %w", start, sdk.ErrNotFound)
	}
	return b, err
}

func (s *store) Streams(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n := range s.streams {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// Close stops retention.
func (s *store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, st := range s.streams {
		close(st.stop)
		delete(s.streams, n)
	}
	return nil
}

func (st *stream) cleanEvery(d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-st.stop:
			return
		case now := <-t.C:
			st.clean(now)
		}
	}
}

// clean drops segments older than Depth, then the oldest while the
// stream is over MaxSize: out of the list first, then off the disk.
func (st *stream) clean(now time.Time) {
	st.mu.Lock()
	var total int64
	for _, s := range st.segs {
		total += s.Size
	}
	n := 0
	for n < len(st.segs) {
		old := st.cfg.Depth > 0 && st.segs[n].End() <= now.Add(-st.cfg.Depth).UnixMilli()
		big := st.cfg.MaxSize > 0 && total > st.cfg.MaxSize
		if !old && !big {
			break
		}
		total -= st.segs[n].Size
		n++
	}
	gone := slices.Clone(st.segs[:n])
	st.segs = slices.Delete(st.segs, 0, n)
	st.mu.Unlock()
	for _, s := range gone {
		os.Remove(s.Path)
	}
}
