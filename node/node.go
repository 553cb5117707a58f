// Package node runs the streams of one topology node: input capture through ingest plugins, failover between inputs, the live window and recording into the archive store.
package node

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/config"
	"github.com/edgedvr/edge/sdk"
)

// Plugins hands the node the current client of each plugin kind. The
// functions wait (bounded by ctx) while a plugin process restarts.
type Plugins struct {
	// Ingest returns the ingest plugin that serves an input scheme ("udp", "file", "m4f").
	Ingest func(ctx context.Context, scheme string) (sdk.Ingest, error)
	// Store returns the archive store plugin.
	Store func(ctx context.Context) (sdk.Store, error)
}

// Config is what a Node is built from.
type Config struct {
	Topology *config.Topology
	Node     *config.Node
	Plugins  Plugins
	Logger   *slog.Logger
	Metrics  *Metrics
	// LiveWindow is how many segments each stream keeps in memory for live
	// viewers. By default, cache.DefaultLiveKeep.
	LiveWindow int
	// ListSource lists the streams of a [[node.source]]; nil disables
	// source blocks.
	ListSource SourceLister
	// IdleTimeout is how long an on-demand stream (restreamed from a source
	// without a DVR) keeps pulling after its last viewer. By default, DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Cluster, when set, shares the capture of the node's cluster_ingest
	// streams with the group: each runs only while the group places it
	// here. Without it they run as any other stream.
	Cluster *ClusterIngest
	// Replicate starts the replication job of a stream that replicates
	// (Stream.Replicates), once, when the stream first starts and its
	// archive is open; the node calls the returned stop when the stream is
	// removed or the node stops. nil: streams record but copy nothing.
	Replicate func(s *Stream) (stop func())
}

// Node is one running node of a topology.
type Node struct {
	cfg     Config
	log     *slog.Logger
	sources []*source
	// overrides are [[node.stream]] blocks without inputs: the settings of
	// a stream that a source block restreams.
	overrides map[string]*config.Stream

	ingest ingestState

	mu      sync.RWMutex
	streams map[string]*Stream
	names   []string

	// reloadMu serialises Reload; current and currentTopo are the
	// configuration the [[node.stream]] streams come from after a Reload
	// (nil before: cfg's).
	reloadMu    sync.Mutex
	current     *config.Node
	currentTopo *config.Topology

	ctx    context.Context // the run context, set by Start
	wg     sync.WaitGroup
	cancel context.CancelFunc
}

// New builds the node's streams from its configuration. Nothing runs until Start.
func New(cfg Config) (*Node, error) {
	if cfg.LiveWindow <= 0 {
		cfg.LiveWindow = cache.DefaultLiveKeep
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	n := &Node{cfg: cfg, log: cfg.Logger, streams: make(map[string]*Stream), overrides: make(map[string]*config.Stream)}
	for _, sc := range cfg.Node.Streams {
		if len(sc.Inputs) == 0 {
			// Settings (archive, cache) for a stream a source block brings.
			n.overrides[sc.Name] = sc
			continue
		}
		s, err := n.newStream(sc, cfg.Topology.ClusterKey)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", sc.Name, err)
		}
		n.streams[sc.Name] = s
	}
	n.names = sortedKeys(n.streams)
	if cfg.Cluster != nil || cfg.Topology.Cluster.IsPeer(cfg.Node.Name) {
		// Every peer knows the group's streams, to redirect their viewers
		// even when it captures none of them.
		n.ingest.streams = groupStreams(cfg.Topology)
	}
	for _, sc := range cfg.Node.Sources {
		in, err := cfg.Topology.SourceInput(sc.URL)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", sc.URL, err)
		}
		key := sc.Key
		if key == "" {
			key = cfg.Topology.ClusterKey
		}
		n.sources = append(n.sources, &source{cfg: sc, addr: in.Addr(), key: key, owned: map[string]bool{}})
	}
	return n, nil
}

func sortedKeys(m map[string]*Stream) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// newStream builds a stream; key signs its m4f:// inputs unless an input
// names its own.
func (n *Node) newStream(sc *config.Stream, key string) (*Stream, error) {
	log := n.log.With("stream", sc.Name)
	s := &Stream{
		name:    sc.Name,
		cfg:     sc,
		log:     log,
		metrics: n.cfg.Metrics,
		live:    cache.NewLive(n.cfg.LiveWindow),
		node:    n.cfg.Node.Name,
		idle:    n.cfg.IdleTimeout,
		timeout: time.Duration(sc.SourceTimeout),
		segDur:  time.Duration(sc.SegmentDuration),
		events:  make(chan inputEvent, 64),
		active:  -1,
	}
	if s.timeout <= 0 {
		s.timeout = 10 * time.Second
	}
	if s.segDur <= 0 {
		s.segDur = 3 * time.Second
	}
	for i, raw := range sc.Inputs {
		scheme, target, inKey, err := n.resolveInput(raw)
		if err != nil {
			return nil, err
		}
		if inKey == "" {
			inKey = key
		}
		var remote *RemoteInput
		if scheme == config.SchemeM4F {
			in, _ := n.cfg.Topology.Input(raw)
			remote = &RemoteInput{Index: i, Addr: in.Addr(), Stream: in.Stream, RemoteDVR: in.RemoteDVR, Key: inKey}
		}
		s.inputs = append(s.inputs, &input{
			index:  i,
			url:    redactKey(raw),
			target: target,
			key:    inKey,
			remote: remote,
			ingest: func(ctx context.Context) (sdk.Ingest, error) { return n.cfg.Plugins.Ingest(ctx, scheme) },
		})
	}
	if len(s.inputs) == 0 {
		return nil, fmt.Errorf("no inputs")
	}
	if sc.DVR != nil {
		s.rec = newRecorder(sc.Name, n.cfg.Plugins.Store, log, n.cfg.Metrics)
		live := s.live
		s.rec.stored = func(info sdk.SegmentInfo) { live.Stored(info.Start, info.Path, info.Size, info.Checksum) }
	}
	return s, nil
}

// resolveInput returns an input's scheme, the URL handed to the plugin and
// the input's own key: relative file:// paths are resolved against the
// topology file's directory, m4f:// node names become host:port, and a key
// in the URL is taken out of it (keys travel separately and are never
// logged).
func (n *Node) resolveInput(raw string) (scheme, target, key string, err error) {
	in, err := n.cfg.Topology.Input(raw)
	if err != nil {
		return "", "", "", err
	}
	switch in.Scheme {
	case config.SchemeFile:
		return in.Scheme, in.String(), "", nil // file://ABSOLUTE_PATH[?program=N]
	case config.SchemeM4F:
		q := url.Values{}
		if in.RemoteDVR != "" {
			q.Set("remote_dvr", in.RemoteDVR)
		}
		t := "m4f://" + in.Addr() + "/" + in.Stream
		if len(q) > 0 {
			t += "?" + q.Encode()
		}
		return in.Scheme, t, in.Key, nil
	}
	return in.Scheme, raw, "", nil
}

// redactKey hides a key= query parameter of an input URL, for logs and the API.
func redactKey(raw string) string {
	base, query, ok := strings.Cut(raw, "?")
	if !ok {
		return raw
	}
	q, err := url.ParseQuery(query)
	if err != nil || !q.Has("key") {
		return raw
	}
	q.Set("key", "REDACTED")
	return base + "?" + q.Encode()
}

// OpenArchives tells the store about every stream that records. It runs at
// start and again each time the store plugin restarts.
func (n *Node) OpenArchives(ctx context.Context) error {
	st, err := n.cfg.Plugins.Store(ctx)
	if err != nil {
		return err
	}
	return n.openArchives(ctx, st)
}

func (n *Node) openArchives(ctx context.Context, st sdk.Store) error {
	for _, s := range n.all() {
		if s.rec == nil {
			continue
		}
		if err := n.openArchive(ctx, st, s); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) openArchive(ctx context.Context, st sdk.Store, s *Stream) error {
	d := s.cfg.DVR
	err := st.OpenStream(ctx, sdk.StreamConfig{
		Stream:  s.name,
		Root:    n.cfg.Topology.ResolvePath(d.Root),
		Depth:   time.Duration(d.Depth),
		MaxSize: int64(d.MaxSize),
	})
	if err != nil {
		return fmt.Errorf("open archive of %s: %w", s.name, err)
	}
	return nil
}

// all returns the node's streams in name order.
func (n *Node) all() []*Stream {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Stream, 0, len(n.names))
	for _, name := range n.names {
		out = append(out, n.streams[name])
	}
	return out
}

// HasArchive reports whether any stream of the node records (or may, through a source with a DVR).
func (n *Node) HasArchive() bool {
	for _, s := range n.all() {
		if s.rec != nil {
			return true
		}
	}
	for _, src := range n.sources {
		if src.cfg.DVR != nil {
			return true
		}
	}
	for _, o := range n.overrides {
		if o.DVR != nil {
			return true
		}
	}
	return false
}

// Start runs every stream until Stop, and follows the node's sources.
func (n *Node) Start(ctx context.Context) {
	n.ctx, n.cancel = context.WithCancel(ctx)
	for _, s := range n.all() {
		if s.onDemand || n.clustered(s) {
			continue
		}
		n.startStream(s)
		n.log.Info("stream started", "stream", s.name, "inputs", s.inputURLs(), "dvr", s.rec != nil)
	}
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.pollSources(n.ctx) }()
	if n.cfg.Cluster != nil {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.followGroup(n.ctx) }()
	}
}

// startStream runs s if it is not running, and its recorder once. It
// reports whether it started it.
func (n *Node) startStream(s *Stream) bool {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.running || n.ctx == nil || n.ctx.Err() != nil {
		return false
	}
	if s.rec != nil && !s.recStarted {
		s.recStarted = true
		go s.rec.run(context.WithoutCancel(n.ctx))
		if s.Replicates() && n.cfg.Replicate != nil {
			s.replStop = n.cfg.Replicate(s)
		}
	}
	ctx, cancel := context.WithCancel(n.ctx)
	s.running, s.stopRun, s.runDone = true, cancel, make(chan struct{})
	done := s.runDone
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer close(done)
		s.run(ctx)
		s.runMu.Lock()
		s.running = false
		s.runMu.Unlock()
		cancel()
	}()
	return true
}

// removeStream stops a stream and forgets it.
func (n *Node) removeStream(name string) {
	n.mu.Lock()
	s, ok := n.streams[name]
	delete(n.streams, name)
	n.names = sortedKeys(n.streams)
	n.mu.Unlock()
	if !ok {
		return
	}
	s.runMu.Lock()
	stop, done := s.stopRun, s.runDone
	s.runMu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	s.runMu.Lock()
	replStop := s.replStop
	s.replStop = nil
	s.runMu.Unlock()
	if replStop != nil {
		replStop()
	}
	if s.rec != nil && s.recStarted {
		s.rec.close()
	}
}

// Stop ends capture gracefully: the plugins flush their open segments, which
// are recorded, and the archive writers finish. ctx bounds the wait.
func (n *Node) Stop(ctx context.Context) error {
	if n.cancel == nil {
		return nil
	}
	n.cancel()
	done := make(chan struct{})
	go func() {
		for _, s := range n.all() {
			s.runMu.Lock()
			replStop := s.replStop
			s.replStop = nil
			s.runMu.Unlock()
			if replStop != nil {
				replStop()
			}
		}
		n.wg.Wait()
		for _, s := range n.all() {
			if s.rec != nil && s.recStarted {
				s.rec.close()
				<-s.rec.done
			}
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop: %w", ctx.Err())
	}
}

// Stream returns the named stream.
func (n *Node) Stream(name string) (*Stream, bool) {
	n.mu.RLock()
	s, ok := n.streams[name]
	n.mu.RUnlock()
	return s, ok
}

// Watch marks a viewer on s: an on-demand stream starts pulling (if it is
// not) and keeps pulling until IdleTimeout after the last call. When it
// was idle, Watch waits (bounded by ctx) for its first live segment, so the
// viewer who woke it gets a playlist.
func (n *Node) Watch(ctx context.Context, s *Stream) {
	s.lastAccess.Store(time.Now().UnixNano())
	if !s.onDemand || !n.startStream(s) {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	after := int64(math.MinInt64)
	if last, ok := s.live.Snapshot().Last(); ok {
		after = last.Index
	}
	_ = s.live.Wait(wctx, after)
}

// StreamNames lists the node's streams in order.
func (n *Node) StreamNames() []string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.names
}
