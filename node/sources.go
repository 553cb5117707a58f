package node

import (
	"context"
	"time"

	"github.com/edgedvr/edge/config"
)

// SourcePoll is how often a [[node.source]] is asked for its stream list.
const SourcePoll = 5 * time.Second

// DefaultIdleTimeout is how long an on-demand stream keeps pulling after its
// last viewer when its source block does not say (config.DefaultIdleTimeout).
const DefaultIdleTimeout = config.DefaultIdleTimeout

// SourceLister lists the streams a source node serves. The node calls it
// for every [[node.source]] block, every SourcePoll.
type SourceLister func(ctx context.Context, src *config.Source, addr, key string) ([]string, error)

// source is one [[node.source]] block at run time.
type source struct {
	cfg  *config.Source
	addr string // host:port
	key  string // the source's key, or the global cluster_key
	// owned are the streams this source created, by name.
	owned map[string]bool
}

// pollSources keeps the node's streams in step with what its sources
// serve: streams added on a source appear here, removed ones go away.
func (n *Node) pollSources(ctx context.Context) {
	if len(n.sources) == 0 || n.cfg.ListSource == nil {
		return
	}
	t := time.NewTicker(SourcePoll)
	defer t.Stop()
	for {
		for _, src := range n.sources {
			n.pollSource(ctx, src)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (n *Node) pollSource(ctx context.Context, src *source) {
	cctx, cancel := context.WithTimeout(ctx, SourcePoll)
	defer cancel()
	names, err := n.cfg.ListSource(cctx, src.cfg, src.addr, src.key)
	if err != nil {
		n.log.Warn("source stream list failed", "source", src.cfg.URL, "err", err)
		return
	}
	seen := make(map[string]bool, len(names))
	for _, name := range names {
		if !src.cfg.Admits(name) {
			continue
		}
		seen[name] = true
		if src.owned[name] {
			continue
		}
		if _, exists := n.Stream(name); exists {
			continue // a [[node.stream]] or an earlier source has it
		}
		if err := n.addSourceStream(ctx, src, name); err != nil {
			n.log.Warn("cannot restream", "source", src.cfg.URL, "stream", name, "err", err)
			continue
		}
		src.owned[name] = true
	}
	for name := range src.owned {
		if !seen[name] {
			delete(src.owned, name)
			n.removeStream(name)
			n.log.Info("stream removed from source, dropped", "source", src.cfg.URL, "stream", name)
		}
	}
}

// addSourceStream creates the restreamed copy of a source's stream. With a
// DVR it captures all the time; without one it pulls only while watched.
func (n *Node) addSourceStream(ctx context.Context, src *source, name string) error {
	sc := &config.Stream{
		Name:            name,
		Inputs:          []string{"m4f://" + src.addr + "/" + name + "?remote_dvr=" + src.cfg.RemoteDVR},
		SourceTimeout:   config.Duration(config.DefaultSourceTimeout),
		SegmentDuration: config.Duration(config.DefaultSegmentDuration),
		DVR:             src.cfg.DVR,
		Cache:           src.cfg.Cache,
	}
	if o := n.overrides[name]; o != nil {
		// A [[node.stream]] without inputs sets this stream's own settings.
		if o.DVR != nil {
			sc.DVR = o.DVR
		}
		if o.Cache != nil {
			sc.Cache = o.Cache
		}
		if o.SourceTimeout > 0 {
			sc.SourceTimeout = o.SourceTimeout
		}
	}
	s, err := n.newStream(sc, src.key)
	if err != nil {
		return err
	}
	s.onDemand = s.rec == nil
	if d := time.Duration(src.cfg.IdleTimeout); d > 0 {
		s.idle = d
	}
	if s.rec != nil {
		st, err := n.cfg.Plugins.Store(ctx)
		if err != nil {
			return err
		}
		if err := n.openArchive(ctx, st, s); err != nil {
			return err
		}
	}
	n.mu.Lock()
	n.streams[name] = s
	n.names = sortedKeys(n.streams)
	n.mu.Unlock()
	n.log.Info("restreaming from source", "source", src.cfg.URL, "stream", name, "on_demand", s.onDemand)
	if !s.onDemand {
		n.startStream(s)
	}
	return nil
}
