// Package node runs the streams of one topology node: input capture through ingest plugins, failover between inputs, the live window and recording into the archive store.
package node

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
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
	// viewers. By default, 20.
	LiveWindow int
}

// Node is one running node of a topology.
type Node struct {
	cfg     Config
	log     *slog.Logger
	streams map[string]*Stream
	names   []string

	wg     sync.WaitGroup
	cancel context.CancelFunc
}

// New builds the node's streams from its configuration. Nothing runs until Start.
func New(cfg Config) (*Node, error) {
	if cfg.LiveWindow <= 0 {
		cfg.LiveWindow = 20
	}
	n := &Node{cfg: cfg, log: cfg.Logger, streams: make(map[string]*Stream)}
	for _, sc := range cfg.Node.Streams {
		s, err := n.newStream(sc)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", sc.Name, err)
		}
		n.streams[sc.Name] = s
		n.names = append(n.names, sc.Name)
	}
	sort.Strings(n.names)
	return n, nil
}

func (n *Node) newStream(sc *config.Stream) (*Stream, error) {
	log := n.log.With("stream", sc.Name)
	s := &Stream{
		name:    sc.Name,
		cfg:     sc,
		log:     log,
		metrics: n.cfg.Metrics,
		live:    cache.NewLive(n.cfg.LiveWindow),
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
		scheme, target, err := n.resolveInput(raw)
		if err != nil {
			return nil, err
		}
		s.inputs = append(s.inputs, &input{
			index:  i,
			url:    raw,
			target: target,
			ingest: func(ctx context.Context) (sdk.Ingest, error) { return n.cfg.Plugins.Ingest(ctx, scheme) },
		})
	}
	if len(s.inputs) == 0 {
		return nil, fmt.Errorf("no inputs")
	}
	if sc.DVR != nil {
		s.rec = newRecorder(sc.Name, n.cfg.Plugins.Store, log, n.cfg.Metrics)
	}
	return s, nil
}

// resolveInput returns an input's scheme and the URL handed to the plugin:
// relative file:// paths are resolved against the topology file's directory.
func (n *Node) resolveInput(raw string) (scheme, target string, err error) {
	in, err := n.cfg.Topology.Input(raw)
	if err != nil {
		return "", "", err
	}
	if in.Scheme == "file" {
		return in.Scheme, "file://" + in.Path, nil
	}
	return in.Scheme, raw, nil
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
	for _, name := range n.names {
		s := n.streams[name]
		if s.cfg.DVR == nil {
			continue
		}
		d := s.cfg.DVR
		err := st.OpenStream(ctx, sdk.StreamConfig{
			Stream:  name,
			Root:    d.Root,
			Depth:   time.Duration(d.Depth),
			MaxSize: int64(d.MaxSize),
		})
		if err != nil {
			return fmt.Errorf("open archive of %s: %w", name, err)
		}
	}
	return nil
}

// HasArchive reports whether any stream of the node records.
func (n *Node) HasArchive() bool {
	for _, s := range n.streams {
		if s.rec != nil {
			return true
		}
	}
	return false
}

// Start runs every stream until Stop.
func (n *Node) Start(ctx context.Context) {
	ctx, n.cancel = context.WithCancel(ctx)
	for _, name := range n.names {
		s := n.streams[name]
		if s.rec != nil {
			go s.rec.run(context.WithoutCancel(ctx))
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			s.run(ctx)
			if s.rec != nil {
				s.rec.close()
			}
		}()
		n.log.Info("stream started", "stream", name, "inputs", s.cfg.Inputs, "dvr", s.rec != nil)
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
		n.wg.Wait()
		for _, s := range n.streams {
			if s.rec != nil {
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
	s, ok := n.streams[name]
	return s, ok
}

// StreamNames lists the node's streams in order.
func (n *Node) StreamNames() []string { return n.names }
