package dvrstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// Store is the local-disk DVR archive. It is safe for concurrent use: one
// writer per stream and any number of readers. Set the exported fields
// before the first OpenStream.
type Store struct {
	// CleanInterval is how often retention runs for each open stream.
	// By default, every 10 s.
	CleanInterval time.Duration
	// Now is the clock retention measures Depth against. By default, time.Now.
	Now func() time.Time
	// GapTolerance is the largest gap between two segments that still joins
	// them into one range; a tenth of the earlier segment's duration is used
	// when that is larger. By default, 250 ms.
	GapTolerance time.Duration

	logger *slog.Logger
	// noSync skips the fsyncs of segment writes; tests that fill large
	// archives set it, the crash and round-trip tests do not.
	noSync bool

	openMu  sync.Mutex // serializes OpenStream
	mu      sync.Mutex // guards streams and closed
	streams map[string]*stream
	closed  bool
}

var _ sdk.Store = (*Store)(nil)

// defaultGapTolerance is the GapTolerance used when it is 0.
const defaultGapTolerance = 250 * time.Millisecond

// New returns an empty Store that logs to logger (nil discards logs).
func New(logger *slog.Logger) *Store {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{logger: logger, streams: map[string]*stream{}}
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// OpenStream loads the stream's archive under cfg.Root/cfg.Stream (creating
// it when missing), repairs what a crash left behind, applies retention once
// and starts it on a ticker. Opening a stream that is open reopens it with
// the new config.
func (s *Store) OpenStream(ctx context.Context, cfg sdk.StreamConfig) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dvrstore: open stream %q: %w", cfg.Stream, err)
	}
	if err := sdk.CheckStreamName(cfg.Stream); err != nil {
		return fmt.Errorf("dvrstore: open stream: %w", err)
	}
	switch {
	case cfg.Root == "":
		return fmt.Errorf("dvrstore: open stream %q: no root", cfg.Stream)
	case cfg.Depth < 0:
		return fmt.Errorf("dvrstore: open stream %q: negative depth %v", cfg.Stream, cfg.Depth)
	case cfg.MaxSize < 0:
		return fmt.Errorf("dvrstore: open stream %q: negative max size %d", cfg.Stream, cfg.MaxSize)
	}
	s.openMu.Lock()
	defer s.openMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("dvrstore: open stream %q: store is closed", cfg.Stream)
	}
	old := s.streams[cfg.Stream]
	delete(s.streams, cfg.Stream)
	s.mu.Unlock()
	if old != nil {
		old.close()
	}
	tol := s.GapTolerance
	if tol <= 0 {
		tol = defaultGapTolerance
	}
	st, err := openStream(cfg, tol.Milliseconds(), s.logger)
	if err != nil {
		return err
	}
	st.noSync = s.noSync
	if err := st.clean(s.now()); err != nil {
		s.logger.Error("dvrstore: retention failed", "stream", cfg.Stream, "error", err)
	}
	interval := s.CleanInterval
	if interval <= 0 {
		interval = defaultCleanInterval
	}
	go st.runCleaner(interval, s.now)
	s.mu.Lock()
	s.streams[cfg.Stream] = st
	s.mu.Unlock()
	st.mu.RLock()
	s.logger.Info("dvrstore: opened stream", "stream", cfg.Stream, "dir", st.dir, "hours", len(st.hours), "bytes", st.total)
	st.mu.RUnlock()
	return nil
}

// stream returns an open stream.
func (s *Store) stream(name string) (*stream, error) {
	if err := sdk.CheckStreamName(name); err != nil {
		return nil, fmt.Errorf("dvrstore: %w", err)
	}
	s.mu.Lock()
	st := s.streams[name]
	s.mu.Unlock()
	if st == nil {
		return nil, fmt.Errorf("dvrstore: stream %q is not open: %w", name, sdk.ErrNotFound)
	}
	return st, nil
}

// WriteInit stores an init segment under R/S/init/<hash>.mp4; its Hash must
// be media.InitHash of its Data. Storing one that exists is a no-op.
func (s *Store) WriteInit(ctx context.Context, stream string, init media.Init) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dvrstore: write init: %w", err)
	}
	st, err := s.stream(stream)
	if err != nil {
		return err
	}
	return st.writeInit(init)
}

// WriteSegment stores a media segment atomically and appends it to its
// hour's index. Its start must not be before the end of the stream's last
// segment.
func (s *Store) WriteSegment(ctx context.Context, stream string, seg media.Segment) (sdk.SegmentInfo, error) {
	if err := ctx.Err(); err != nil {
		return sdk.SegmentInfo{}, fmt.Errorf("dvrstore: write segment: %w", err)
	}
	st, err := s.stream(stream)
	if err != nil {
		return sdk.SegmentInfo{}, err
	}
	return st.writeSegment(seg, s.now())
}

// Ranges returns the gap-free stretches made of the segments that overlap
// [from, to), in order; each begins at a segment start and ends at a segment
// end.
func (s *Store) Ranges(ctx context.Context, stream string, from, to int64) ([]sdk.Range, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dvrstore: ranges: %w", err)
	}
	st, err := s.stream(stream)
	if err != nil {
		return nil, err
	}
	return st.ranges(from, to)
}

// Segments lists the segments whose start is in [from, to), in order, with
// the absolute path of each file.
func (s *Store) Segments(ctx context.Context, stream string, from, to int64) ([]sdk.SegmentInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dvrstore: segments: %w", err)
	}
	st, err := s.stream(stream)
	if err != nil {
		return nil, err
	}
	return st.segments(from, to)
}

// ReadInit returns the init segment with that hash, or sdk.ErrNotFound.
func (s *Store) ReadInit(ctx context.Context, stream, hash string) (media.Init, error) {
	if err := ctx.Err(); err != nil {
		return media.Init{}, fmt.Errorf("dvrstore: read init: %w", err)
	}
	st, err := s.stream(stream)
	if err != nil {
		return media.Init{}, err
	}
	return st.readInit(hash)
}

// ReadSegment returns the bytes of the segment that starts at start, checked
// against its size and checksum, or sdk.ErrNotFound.
func (s *Store) ReadSegment(ctx context.Context, stream string, start int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dvrstore: read segment: %w", err)
	}
	st, err := s.stream(stream)
	if err != nil {
		return nil, err
	}
	return st.readSegment(start)
}

// Streams lists the streams open in this store, sorted.
func (s *Store) Streams(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dvrstore: streams: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.streams))
	for name := range s.streams {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// Close stops retention and closes every stream's files. The Store cannot
// be used afterwards.
func (s *Store) Close() error {
	s.openMu.Lock()
	defer s.openMu.Unlock()
	s.mu.Lock()
	s.closed = true
	streams := s.streams
	s.streams = map[string]*stream{}
	s.mu.Unlock()
	var errs []error
	for _, st := range streams {
		if err := st.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// close stops the stream's cleaner and releases its files and lock.
func (st *stream) close() error {
	close(st.stop)
	<-st.done
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	st.closed = true
	var err error
	if st.idx != nil {
		if serr := st.idx.Sync(); serr != nil {
			err = fmt.Errorf("dvrstore: close stream %q: %w", st.name, serr)
		}
	}
	st.closeFiles()
	return err
}
