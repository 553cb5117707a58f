// Package s3store holds the DVR archive kept in an S3-compatible object store: segments and inits as objects, per-hour index objects and a per-stream summary, retention by depth and size.
//
// See README.md for the object layout, the write order and the settings.
package s3store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/minio/minio-go/v7"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// Store is the DVR archive in an S3-compatible store. Each stream's root is
// an s3:// URL (see ParseRoot). It is safe for concurrent use: one writer
// per stream and any number of readers. Set the exported fields before the
// first OpenStream.
type Store struct {
	// CleanInterval is how often retention runs for each open stream.
	// By default, every 30 s.
	CleanInterval time.Duration
	// Now is the clock retention measures Depth against. By default, time.Now.
	Now func() time.Time
	// GapTolerance is the largest gap between two segments that still joins
	// them into one range; a tenth of the earlier segment's duration is used
	// when that is larger. By default, 250 ms.
	GapTolerance time.Duration
	// Env reads the AWS_* settings. By default, os.Getenv.
	Env Env
	// Transport carries the S3 requests. By default, minio's.
	Transport http.RoundTripper

	logger *slog.Logger

	openMu  sync.Mutex // serializes OpenStream
	mu      sync.Mutex // guards streams, clients and closed
	streams map[string]*stream
	clients map[string]*minio.Client // by endpoint and region
	closed  bool
}

var _ sdk.Store = (*Store)(nil)

const defaultGapTolerance = 250 * time.Millisecond

// New returns an empty Store that logs to logger (nil discards logs).
func New(logger *slog.Logger) *Store {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{logger: logger, streams: map[string]*stream{}, clients: map[string]*minio.Client{}}
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) client(r Root) (*minio.Client, error) {
	k := r.Endpoint + "\x00" + r.Region
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[k]; ok {
		return c, nil
	}
	c, err := r.client(s.Env, s.Transport)
	if err != nil {
		return nil, err
	}
	s.clients[k] = c
	return c, nil
}

// OpenStream loads the stream's summary under ROOT/STREAM/, reconciles it
// with the hour indexes that exist, applies retention once and starts it on
// a ticker. Opening a stream that is open reopens it with the new config.
func (s *Store) OpenStream(ctx context.Context, cfg sdk.StreamConfig) error {
	if err := sdk.CheckStreamName(cfg.Stream); err != nil {
		return fmt.Errorf("s3store: open stream: %w", err)
	}
	if cfg.Depth < 0 || cfg.MaxSize < 0 {
		return fmt.Errorf("s3store: open stream %q: negative depth or max size", cfg.Stream)
	}
	root, err := ParseRoot(cfg.Root)
	if err != nil {
		return fmt.Errorf("s3store: open stream %q: %w", cfg.Stream, err)
	}
	c, err := s.client(root)
	if err != nil {
		return fmt.Errorf("s3store: open stream %q: %w", cfg.Stream, err)
	}
	s.openMu.Lock()
	defer s.openMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("s3store: open stream %q: store is closed", cfg.Stream)
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
	idx, _ := lru.New[int64, []entry](maxCachedHours)
	st := &stream{
		name: cfg.Stream, cfg: cfg, c: c, root: root, base: root.key(cfg.Stream) + "/",
		tol: tol.Milliseconds(), log: s.logger, idx: idx,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	if err := st.load(ctx); err != nil {
		return fmt.Errorf("s3store: open stream %q: %w", cfg.Stream, err)
	}
	if err := st.clean(ctx, s.now()); err != nil {
		s.logger.Error("retention failed", "stream", cfg.Stream, "error", err)
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
	s.logger.Info("opened stream", "stream", cfg.Stream, "bucket", root.Bucket, "prefix", root.Prefix, "hours", len(st.hours), "bytes", st.total)
	st.mu.RUnlock()
	return nil
}

func (s *Store) stream(name string) (*stream, error) {
	s.mu.Lock()
	st := s.streams[name]
	s.mu.Unlock()
	if st == nil {
		return nil, fmt.Errorf("s3store: stream %q is not open: %w", name, sdk.ErrNotFound)
	}
	return st, nil
}

// WriteInit stores an init segment as ROOT/STREAM/init/HASH.mp4; its Hash
// must be media.InitHash of its Data. Storing one that exists is a no-op.
func (s *Store) WriteInit(ctx context.Context, stream string, init media.Init) error {
	st, err := s.stream(stream)
	if err != nil {
		return err
	}
	return st.writeInit(ctx, init)
}

// WriteSegment stores the segment's object, then the hour index that lists
// it. Its start must not be before the end of the stream's last segment.
func (s *Store) WriteSegment(ctx context.Context, stream string, seg media.Segment) (sdk.SegmentInfo, error) {
	st, err := s.stream(stream)
	if err != nil {
		return sdk.SegmentInfo{}, err
	}
	return st.writeSegment(ctx, seg)
}

// Ranges returns the gap-free stretches made of the segments that overlap
// [from, to), in order.
func (s *Store) Ranges(ctx context.Context, stream string, from, to int64) ([]sdk.Range, error) {
	st, err := s.stream(stream)
	if err != nil {
		return nil, err
	}
	from = max(from, 0) // nothing is before 1970, and from-1h must not overflow
	if to <= from {
		return nil, nil
	}
	return st.ranges(ctx, from, to)
}

// Segments lists the segments whose start is in [from, to), in order. Path
// is always empty: the host reads the bytes with ReadSegment, once, into
// its cache.
func (s *Store) Segments(ctx context.Context, stream string, from, to int64) ([]sdk.SegmentInfo, error) {
	st, err := s.stream(stream)
	if err != nil {
		return nil, err
	}
	return st.segments(ctx, from, to)
}

// ReadInit returns the init segment with that hash, or sdk.ErrNotFound.
func (s *Store) ReadInit(ctx context.Context, stream, hash string) (media.Init, error) {
	st, err := s.stream(stream)
	if err != nil {
		return media.Init{}, err
	}
	return st.readInit(ctx, hash)
}

// ReadSegment returns the bytes of the segment that starts at start,
// checked against its size and checksum, or sdk.ErrNotFound.
func (s *Store) ReadSegment(ctx context.Context, stream string, start int64) ([]byte, error) {
	st, err := s.stream(stream)
	if err != nil {
		return nil, err
	}
	return st.readSegment(ctx, start)
}

// Streams lists the streams open in this store, sorted.
func (s *Store) Streams(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3store: streams: %w", err)
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

// Close stops retention and writes each stream's summary when it is behind.
// The Store cannot be used afterwards; Close is idempotent.
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
		errs = append(errs, st.close())
	}
	return errors.Join(errs...)
}

func (st *stream) close() error {
	close(st.stop)
	<-st.done
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return st.flushSummary(ctx)
}
