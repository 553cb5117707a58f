package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/chain"
	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/config"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/node"
	"github.com/edgedvr/edge/plugins/m4f"
	"github.com/edgedvr/edge/proxy"
	"github.com/edgedvr/edge/sdk"
)

// archives builds, once per stream, the archive the front serves: the
// local store alone for a stream without m4f:// inputs, otherwise a chained
// lookup over the local store, the disk cache and the stream's sources.
type archives struct {
	self    string
	store   func(ctx context.Context) (sdk.Store, error)
	log     *slog.Logger
	reg     prometheus.Registerer
	metrics *chain.Metrics

	// peers returns, for a cluster-ingest stream, the other peers that may
	// have recorded it (their archives join the lookup); nil when the node
	// is not a peer.
	peers func(s *node.Stream) []peerArchive

	mu      sync.Mutex
	byName  map[string]proxy.Archive
	disks   map[string]*cache.Disk // by root
	clients map[string]*m4f.Client // by addr + key
}

func newArchives(self string, store func(context.Context) (sdk.Store, error), log *slog.Logger, reg prometheus.Registerer) *archives {
	m := chain.NewMetrics()
	for _, c := range m.Collectors() {
		reg.MustRegister(c)
	}
	return &archives{
		self: self, store: store, log: log, reg: reg, metrics: m,
		byName: map[string]proxy.Archive{}, disks: map[string]*cache.Disk{}, clients: map[string]*m4f.Client{},
	}
}

// forStream returns the archive of s, nil when none is reachable.
func (a *archives) forStream(s *node.Stream) proxy.Archive {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ar, ok := a.byName[s.Name()]; ok {
		return ar
	}
	ar, err := a.build(s)
	if err != nil {
		a.log.Error("archive lookup unavailable", "stream", s.Name(), "err", err)
		return nil
	}
	a.byName[s.Name()] = ar
	return ar
}

func (a *archives) build(s *node.Stream) (proxy.Archive, error) {
	var local chain.Local
	if s.Records() {
		local = a.local(s)
	}
	remotes := s.RemoteInputs()
	var peers []peerArchive
	if a.peers != nil && s.Records() {
		peers = a.peers(s)
	}
	if len(remotes) == 0 && len(peers) == 0 {
		if local == nil {
			return nil, nil
		}
		return local.(proxy.Archive), nil
	}
	var disk *cache.Disk
	if c := s.Config().Cache; c != nil {
		var err error
		if disk, err = a.disk(c.Root, time.Duration(c.Depth), int64(c.MaxSize), c.Misses); err != nil {
			// Serve the archive from the sources all the same, uncached.
			a.log.Error("disk cache unusable, archive served without it", "stream", s.Name(), "err", err)
		}
	}
	sources := make([]chain.Source, 0, len(remotes)+len(peers))
	for _, r := range remotes {
		idx := r.Index
		sources = append(sources, chain.Source{
			Name:   r.Addr,
			Remote: remote{c: a.client(r.Addr, r.Key), stream: r.Stream},
			Mode:   r.RemoteDVR,
			InUse:  func() bool { return s.ActiveInput() == idx },
		})
	}
	// A cluster-ingest stream that moved between peers was recorded in
	// parts: each peer's own archive, asked without chaining, fills the gaps.
	for _, p := range peers {
		sources = append(sources, chain.Source{
			Name:   p.name,
			Remote: remote{c: a.client(p.addr, p.key), stream: s.Name()},
			Mode:   config.RemoteDVRNoChain,
		})
	}
	return chain.New(chain.Config{
		Self:        a.self,
		Stream:      s.Name(),
		Local:       local,
		Disk:        disk,
		Sources:     sources,
		Unavailable: proxy.ErrUnavailable,
		Logger:      a.log,
		Metrics:     a.metrics,
	})
}

// disk opens the disk cache at root once; streams that share a root share it.
func (a *archives) disk(root string, depth time.Duration, maxSize int64, misses int) (*cache.Disk, error) {
	if d, ok := a.disks[root]; ok {
		return d, nil
	}
	d, err := cache.OpenDisk(cache.DiskConfig{Root: root, Depth: depth, MaxSize: maxSize, Misses: misses}, a.log)
	if err != nil {
		return nil, fmt.Errorf("disk cache %s: %w", root, err)
	}
	if err := a.reg.Register(d.Collector()); err != nil {
		a.log.Warn("disk cache metrics not registered", "root", root, "err", err)
	}
	a.disks[root] = d
	return d, nil
}

func (a *archives) client(addr, key string) *m4f.Client {
	k := addr + "\x00" + key
	if c, ok := a.clients[k]; ok {
		return c
	}
	c := m4f.NewClient(addr, cluster.Signer{Node: a.self, Key: key})
	a.clients[k] = c
	return c
}

// remote is one source's archive over signed M4F calls, made by the host
// itself: segment bytes never cross a plugin on a viewer's path.
type remote struct {
	c      *m4f.Client
	stream string // the stream's name on the source (the first argument is ours)
}

var (
	_ chain.CheckedRemote = remote{}
	_ chain.StreamRemote  = remote{}
)

func loopErr(err error) error {
	if errors.Is(err, m4f.ErrLoop) {
		return fmt.Errorf("%w: %v", chain.ErrLoop, err)
	}
	return err
}

func (r remote) Ranges(ctx context.Context, _ string, from, to int64, via, hops string) ([]sdk.Range, error) {
	rs, err := r.c.Ranges(ctx, r.stream, from, to, m4f.Chain{Via: via, Hops: hops})
	if err != nil {
		return nil, loopErr(err)
	}
	out := make([]sdk.Range, len(rs))
	for i, x := range rs {
		out[i] = sdk.Range{From: x.From, To: x.To}
	}
	return out, nil
}

func (r remote) Segments(ctx context.Context, _ string, from, to int64, via, hops string) ([]sdk.SegmentInfo, error) {
	ss, err := r.c.Segments(ctx, r.stream, from, to, m4f.Chain{Via: via, Hops: hops})
	if err != nil {
		return nil, loopErr(err)
	}
	out := make([]sdk.SegmentInfo, len(ss))
	for i, x := range ss {
		out[i] = sdk.SegmentInfo{Start: x.Start, Duration: x.Duration, Size: x.Size, InitHash: x.Init, Checksum: x.Checksum}
	}
	return out, nil
}

func (r remote) Segment(ctx context.Context, _ string, start int64, via, hops string) ([]byte, error) {
	data, _, err := r.c.Segment(ctx, r.stream, start, m4f.Chain{Via: via, Hops: hops})
	return data, loopErr(err)
}

// CheckedSegment is Segment with the description the source sent, whose
// checksum the client has checked the bytes against.
func (r remote) CheckedSegment(ctx context.Context, _ string, start int64, via, hops string) ([]byte, sdk.SegmentInfo, error) {
	data, x, err := r.c.Segment(ctx, r.stream, start, m4f.Chain{Via: via, Hops: hops})
	if err != nil {
		return nil, sdk.SegmentInfo{}, loopErr(err)
	}
	return data, sdk.SegmentInfo{Start: x.Start, Duration: x.Duration, Size: x.Size, InitHash: x.Init, Checksum: x.Checksum}, nil
}

// OpenSegment hands over the segment's body as it arrives; the client's
// body checks its length and checksum as the bytes pass.
func (r remote) OpenSegment(ctx context.Context, _ string, start int64, via, hops string) (io.ReadCloser, sdk.SegmentInfo, error) {
	body, x, err := r.c.OpenSegment(ctx, r.stream, start, m4f.Chain{Via: via, Hops: hops})
	if err != nil {
		return nil, sdk.SegmentInfo{}, loopErr(err)
	}
	return body, sdk.SegmentInfo{Start: x.Start, Duration: x.Duration, Size: x.Size, InitHash: x.Init, Checksum: x.Checksum}, nil
}

func (r remote) Init(ctx context.Context, _ string, hash string, via, hops string) (media.Init, error) {
	in, err := r.c.Init(ctx, r.stream, hash, m4f.Chain{Via: via, Hops: hops})
	return in, loopErr(err)
}

// peerArchive is another peer of a cluster-ingest group, as an archive source.
type peerArchive struct {
	name, addr, key string
}
