package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/node"
	"github.com/edgedvr/edge/proxy"
	"github.com/edgedvr/edge/sdk"
)

// backend shows the node's streams to the HTTP front.
type backend struct {
	n        *node.Node
	archives *archives
	repls    *replications
	// lookup, when set, asks the configuration backend for a stream name
	// the node does not know, and reports whether it runs now (external.go).
	lookup func(name string) bool
}

var (
	_ proxy.Backend    = backend{}
	_ proxy.Watcher    = stream{}
	_ proxy.Replicator = stream{}
)

func (b backend) Stream(name string) (proxy.Stream, bool) {
	s, ok := b.n.Stream(name)
	if !ok && b.lookup != nil && b.lookup(name) {
		s, ok = b.n.Stream(name)
	}
	if !ok {
		return nil, false
	}
	return stream{n: b.n, s: s, archives: b.archives, repls: b.repls}, true
}

func (b backend) StreamNames() []string { return b.n.StreamNames() }

type stream struct {
	n        *node.Node
	s        *node.Stream
	archives *archives
	repls    *replications
}

func (s stream) Name() string { return s.s.Name() }

// Live is nil for a cluster-ingest stream that this node does not capture
// now: what its live window still holds is old.
func (s stream) Live() *cache.Live {
	if s.n.Clustered(s.s) && !s.s.Running() {
		return nil
	}
	return s.s.Live()
}

// Watch is called before a viewer's live request: an on-demand stream
// starts pulling.
func (s stream) Watch(ctx context.Context) { s.n.Watch(ctx, s.s) }

func (s stream) Archive() proxy.Archive { return s.archives.forStream(s.s) }

// Replication is the progress of the stream's replication job, nil when it
// does not replicate.
func (s stream) Replication() *proxy.ReplicationStatus {
	if s.repls == nil || !s.s.Replicates() {
		return nil
	}
	return s.repls.status(s.s.Name())
}

func (s stream) Status() proxy.StreamStatus {
	st := s.s.Status()
	out := proxy.StreamStatus{ActiveInput: st.ActiveInput, Bitrate: int64(st.Bitrate), LastFrame: st.LastFrame}
	for _, in := range st.Inputs {
		out.Inputs = append(out.Inputs, proxy.InputStatus{URL: in.URL, State: in.State})
	}
	return out
}

// localArchive is the node's own archive of one stream, read through the
// store plugin (listings only: segment bytes are read from SegmentInfo.Path
// by the front, never through the plugin).
type localArchive struct {
	name  string
	store func(ctx context.Context) (sdk.Store, error)
}

func (a localArchive) get(ctx context.Context) (sdk.Store, error) {
	st, err := a.store(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", proxy.ErrUnavailable, err)
	}
	return st, nil
}

// unavailable marks errors other than not-found as a temporary outage of the store.
func unavailable(err error) error {
	if err == nil || errors.Is(err, sdk.ErrNotFound) || errors.Is(err, proxy.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %v", proxy.ErrUnavailable, err)
}

func (a localArchive) Ranges(ctx context.Context, from, to int64) ([]sdk.Range, error) {
	st, err := a.get(ctx)
	if err != nil {
		return nil, err
	}
	r, err := st.Ranges(ctx, a.name, from, to)
	return r, unavailable(err)
}

func (a localArchive) Segments(ctx context.Context, from, to int64) ([]sdk.SegmentInfo, error) {
	st, err := a.get(ctx)
	if err != nil {
		return nil, err
	}
	r, err := st.Segments(ctx, a.name, from, to)
	return r, unavailable(err)
}

func (a localArchive) ReadInit(ctx context.Context, hash string) (media.Init, error) {
	st, err := a.get(ctx)
	if err != nil {
		return media.Init{}, err
	}
	r, err := st.ReadInit(ctx, a.name, hash)
	return r, unavailable(err)
}

func (a localArchive) ReadSegment(ctx context.Context, start int64) ([]byte, error) {
	st, err := a.get(ctx)
	if err != nil {
		return nil, err
	}
	r, err := st.ReadSegment(ctx, a.name, start)
	return r, unavailable(err)
}
