package main

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/node"
	"github.com/edgedvr/edge/plugins/m4f"
	"github.com/edgedvr/edge/proxy"
	"github.com/edgedvr/edge/replicate"
	"github.com/edgedvr/edge/sdk"
)

// replications runs the replication job of each stream that replicates
// and keeps them by stream name for the API.
type replications struct {
	self    string
	store   func(ctx context.Context) (sdk.Store, error)
	log     *slog.Logger
	metrics *replicate.Metrics

	mu      sync.Mutex
	jobs    map[string]*replicate.Job
	clients map[string]*m4f.Client // by addr + key
}

func newReplications(self string, store func(context.Context) (sdk.Store, error), log *slog.Logger, reg prometheus.Registerer) *replications {
	m := replicate.NewMetrics()
	for _, c := range m.Collectors() {
		reg.MustRegister(c)
	}
	return &replications{self: self, store: store, log: log, metrics: m, jobs: map[string]*replicate.Job{}, clients: map[string]*m4f.Client{}}
}

// start is node.Config.Replicate: it starts the job of s, copying from its
// first m4f:// input (for a source block's stream, the source) at the
// source's replication_listen when replication_port is set.
func (r *replications) start(s *node.Stream) func() {
	remotes := s.RemoteInputs()
	if len(remotes) == 0 {
		r.log.Error("stream replicates but has no m4f input", "stream", s.Name())
		return func() {}
	}
	in := remotes[0]
	d := s.Config().DVR
	addr := in.Addr
	if d.ReplicationPort > 0 {
		if host, _, err := net.SplitHostPort(in.Addr); err == nil {
			addr = net.JoinHostPort(host, strconv.Itoa(d.ReplicationPort))
		}
	}
	r.mu.Lock()
	k := addr + "\x00" + in.Key
	c, ok := r.clients[k]
	if !ok {
		c = m4f.NewClient(addr, cluster.Signer{Node: r.self, Key: in.Key})
		r.clients[k] = c
	}
	r.mu.Unlock()
	job, err := replicate.New(replicate.Config{
		Stream:          s.Name(),
		SourceName:      addr,
		Source:          replSource{c: c, stream: in.Stream, self: r.self},
		Store:           r.store,
		Depth:           time.Duration(d.Depth),
		SegmentDuration: time.Duration(s.Config().SegmentDuration),
		Speed:           int64(d.ReplicationSpeed),
		// Seed 000: where both archives have video, the earlier input's
		// wins. When the source is the first input its segments replace
		// local ones; otherwise (an own capture comes first) they only
		// fill holes.
		SourceWins: in.Index == 0,
		Logger:     r.log.With("component", "replication"),
		Metrics:    r.metrics,
	})
	if err != nil {
		r.log.Error("replication not started", "stream", s.Name(), "error", err)
		return func() {}
	}
	r.log.Info("replication started", "stream", s.Name(), "source", addr, "source_stream", in.Stream,
		"depth", time.Duration(d.Depth).String(), "speed", int64(d.ReplicationSpeed))
	r.mu.Lock()
	r.jobs[s.Name()] = job
	r.mu.Unlock()
	return func() {
		job.Close()
		r.mu.Lock()
		if r.jobs[s.Name()] == job {
			delete(r.jobs, s.Name())
		}
		r.mu.Unlock()
	}
}

// status returns the progress of a stream's job for the API, nil when none runs.
func (r *replications) status(name string) *proxy.ReplicationStatus {
	r.mu.Lock()
	job := r.jobs[name]
	r.mu.Unlock()
	if job == nil {
		return nil
	}
	st := job.Status()
	out := &proxy.ReplicationStatus{
		Source: st.Source, SegmentsCopied: st.SegmentsCopied, BytesCopied: st.BytesCopied,
		SegmentsMissing: st.SegmentsMissing, SecondsMissing: st.SecondsMissing, Conflicts: st.Conflicts,
		Rate: int64(st.Rate), ETASeconds: int64(st.ETA.Seconds()), CaughtUp: st.CaughtUp, LastError: st.LastError,
	}
	if !st.LastErrorAt.IsZero() {
		out.LastErrorAt = st.LastErrorAt.Unix()
	}
	return out
}

// replSource is a source's archive of one stream over signed M4F. Calls
// ask the source for what it holds itself (X-Edge-Hops: 1), never for
// what it could fetch from its own sources.
type replSource struct {
	c      *m4f.Client
	stream string // the stream's name on the source
	self   string
}

var _ replicate.Source = replSource{}

func (r replSource) chain() m4f.Chain { return m4f.Chain{Via: r.self, Hops: "1"} }

func (r replSource) Segments(ctx context.Context, from, to int64) ([]sdk.SegmentInfo, error) {
	ss, err := r.c.Segments(ctx, r.stream, from, to, r.chain())
	if err != nil {
		return nil, err
	}
	out := make([]sdk.SegmentInfo, len(ss))
	for i, x := range ss {
		out[i] = sdk.SegmentInfo{Start: x.Start, Duration: x.Duration, Size: x.Size, InitHash: x.Init, Checksum: x.Checksum}
	}
	return out, nil
}

func (r replSource) Segment(ctx context.Context, start int64) ([]byte, error) {
	data, _, err := r.c.Segment(ctx, r.stream, start, r.chain())
	return data, err
}

func (r replSource) Init(ctx context.Context, hash string) (media.Init, error) {
	return r.c.Init(ctx, r.stream, hash, r.chain())
}

var _ replicate.BulkSource = replSource{}

func (r replSource) Bulk(ctx context.Context, from, to int64, each func(media.Segment) error) error {
	return r.c.Bulk(ctx, r.stream, from, to, r.chain(), each)
}
