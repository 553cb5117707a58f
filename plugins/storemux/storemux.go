// Package storemux holds the built-in dvrstore plugin's router: each stream goes to the local-disk store or the S3 store by the scheme of its root.
package storemux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/plugins/s3store"
	"github.com/edgedvr/edge/sdk"
)

// Mux is an sdk.Store that sends each stream's calls to Disk, or to S3 when
// the stream was opened with an s3:// root.
type Mux struct {
	// Disk serves streams whose root is a directory.
	Disk sdk.Store
	// S3 serves streams whose root is s3://BUCKET/PREFIX.
	S3 sdk.Store

	mu    sync.Mutex
	where map[string]sdk.Store
}

var (
	_ sdk.Store              = (*Mux)(nil)
	_ sdk.SegmentDeleter     = (*Mux)(nil)
	_ sdk.SegmentBatchWriter = (*Mux)(nil)
)

// New returns a Mux over a disk and an S3 store.
func New(disk, s3 sdk.Store) *Mux {
	return &Mux{Disk: disk, S3: s3, where: map[string]sdk.Store{}}
}

func (m *Mux) pick(stream string) (sdk.Store, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.where[stream]
	if !ok {
		return nil, fmt.Errorf("dvrstore: stream %q is not open: %w", stream, sdk.ErrNotFound)
	}
	return st, nil
}

// OpenStream opens the stream in the store its root names.
func (m *Mux) OpenStream(ctx context.Context, cfg sdk.StreamConfig) error {
	st := m.Disk
	if s3store.IsRoot(cfg.Root) {
		st = m.S3
	}
	if err := st.OpenStream(ctx, cfg); err != nil {
		return err
	}
	m.mu.Lock()
	m.where[cfg.Stream] = st
	m.mu.Unlock()
	return nil
}

func (m *Mux) WriteInit(ctx context.Context, stream string, init media.Init) error {
	st, err := m.pick(stream)
	if err != nil {
		return err
	}
	return st.WriteInit(ctx, stream, init)
}

func (m *Mux) WriteSegment(ctx context.Context, stream string, seg media.Segment) (sdk.SegmentInfo, error) {
	st, err := m.pick(stream)
	if err != nil {
		return sdk.SegmentInfo{}, err
	}
	return st.WriteSegment(ctx, stream, seg)
}

// WriteSegments passes a batch on to the stream's store, as one call when
// that store is an sdk.SegmentBatchWriter (the disk store is), else one
// WriteSegment call per segment.
func (m *Mux) WriteSegments(ctx context.Context, stream string, segs []media.Segment) ([]sdk.SegmentResult, error) {
	st, err := m.pick(stream)
	if err != nil {
		return nil, err
	}
	return sdk.WriteSegments(ctx, st, stream, segs)
}

func (m *Mux) Ranges(ctx context.Context, stream string, from, to int64) ([]sdk.Range, error) {
	st, err := m.pick(stream)
	if err != nil {
		return nil, err
	}
	return st.Ranges(ctx, stream, from, to)
}

func (m *Mux) Segments(ctx context.Context, stream string, from, to int64) ([]sdk.SegmentInfo, error) {
	st, err := m.pick(stream)
	if err != nil {
		return nil, err
	}
	return st.Segments(ctx, stream, from, to)
}

func (m *Mux) ReadInit(ctx context.Context, stream, hash string) (media.Init, error) {
	st, err := m.pick(stream)
	if err != nil {
		return media.Init{}, err
	}
	return st.ReadInit(ctx, stream, hash)
}

func (m *Mux) ReadSegment(ctx context.Context, stream string, start int64) ([]byte, error) {
	st, err := m.pick(stream)
	if err != nil {
		return nil, err
	}
	return st.ReadSegment(ctx, stream, start)
}

// DeleteSegments passes the call on to the stream's store when it is an
// sdk.SegmentDeleter (the disk store is: replication replaces
// cross-replication seams through it); otherwise it answers ErrUnsupported,
// as a store without the call would.
func (m *Mux) DeleteSegments(ctx context.Context, stream string, from, to int64) (int, error) {
	st, err := m.pick(stream)
	if err != nil {
		return 0, err
	}
	d, ok := st.(sdk.SegmentDeleter)
	if !ok {
		return 0, fmt.Errorf("dvrstore: stream %q: deleting segments: %w", stream, sdk.ErrUnsupported)
	}
	return d.DeleteSegments(ctx, stream, from, to)
}

// Streams lists the streams open in either store, sorted.
func (m *Mux) Streams(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.where))
	for n := range m.where {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// Close closes both stores when they are io.Closers.
func (m *Mux) Close() error {
	var errs []error
	for _, st := range []sdk.Store{m.Disk, m.S3} {
		if c, ok := st.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
