package node

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/config"
	"github.com/edgedvr/edge/sdk"
)

// PeerView is what cluster ingest needs from the polling of the peers
// (cluster.Peers implements it).
type PeerView interface {
	// Snapshot returns every peer, this node included, sorted by name.
	Snapshot() []cluster.PeerState
	// FetchTimeout is the poll interval.
	FetchTimeout() time.Duration
	// Changed is signalled when a peer's answer or liveness changes.
	Changed() <-chan struct{}
}

// ClusterIngest connects a node to its cluster-ingest group.
type ClusterIngest struct {
	// Peers is the group as this node sees it.
	Peers PeerView
	// Balancer returns the balancer plugin's client.
	Balancer func(ctx context.Context) (sdk.Balancer, error)
}

// placeTimeout bounds one call to the balancer.
const placeTimeout = 2 * time.Second

// ingestState is the node's side of cluster ingest: the group's streams
// (from the whole topology, so every peer asks the balancer the same
// question) and the last placement.
type ingestState struct {
	streams []sdk.PlaceStream // every cluster_ingest stream of the group, by name

	mu     sync.RWMutex
	owners map[string]string // the last placement; kept when the balancer fails
	placed bool
}

// groupStreams lists the cluster_ingest streams of every peer of the
// topology, each with the peers that define it as candidates.
func groupStreams(t *config.Topology) []sdk.PlaceStream {
	if t.Cluster == nil {
		return nil
	}
	byName := map[string]*sdk.PlaceStream{}
	for _, p := range t.Cluster.Peers {
		n, ok := t.Node(p)
		if !ok {
			continue
		}
		for _, s := range n.Streams {
			if s.ClusterIngest == nil {
				continue
			}
			ps, ok := byName[s.Name]
			if !ok {
				ps = &sdk.PlaceStream{Name: s.Name, CaptureAt: s.ClusterIngest.CaptureAt}
				byName[s.Name] = ps
			}
			ps.Candidates = append(ps.Candidates, p)
		}
	}
	out := make([]sdk.PlaceStream, 0, len(byName))
	for _, ps := range byName {
		sort.Strings(ps.Candidates)
		out = append(out, *ps)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// clustered reports whether s is a cluster-ingest stream that this node
// captures only while the group places it here.
func (n *Node) clustered(s *Stream) bool {
	return n.cfg.Cluster != nil && s.cfg.ClusterIngest != nil
}

// Clustered reports whether the stream is shared by the cluster-ingest group.
func (n *Node) Clustered(s *Stream) bool { return n.clustered(s) }

// Running reports whether the stream captures on this node now.
func (s *Stream) Running() bool {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	return s.running
}

// Capturing lists the cluster-ingest streams this node runs now, sorted.
func (n *Node) Capturing() []string {
	var out []string
	for _, s := range n.all() {
		if n.clustered(s) && s.Running() {
			out = append(out, s.name)
		}
	}
	return out
}

// Owner returns the peer that the last placement gave the stream, false
// when there is no placement yet or the stream is not in the group.
func (n *Node) Owner(stream string) (string, bool) {
	n.ingest.mu.RLock()
	defer n.ingest.mu.RUnlock()
	p, ok := n.ingest.owners[stream]
	return p, ok
}

// Placement returns a copy of the last placement (stream -> peer).
func (n *Node) Placement() map[string]string {
	n.ingest.mu.RLock()
	defer n.ingest.mu.RUnlock()
	out := make(map[string]string, len(n.ingest.owners))
	for k, v := range n.ingest.owners {
		out[k] = v
	}
	return out
}

// GroupStreams lists the names of the group's cluster-ingest streams, sorted.
func (n *Node) GroupStreams() []string {
	out := make([]string, len(n.ingest.streams))
	for i, s := range n.ingest.streams {
		out[i] = s.Name
	}
	return out
}

// GroupStreamsFull lists the group's cluster-ingest streams with their
// capture_at and candidates, sorted by name. Do not modify them.
func (n *Node) GroupStreamsFull() []sdk.PlaceStream { return n.ingest.streams }

// followGroup places the group's streams at every poll interval and
// starts and stops this node's share.
func (n *Node) followGroup(ctx context.Context) {
	tick := time.NewTicker(n.cfg.Cluster.Peers.FetchTimeout())
	defer tick.Stop()
	for {
		n.placeOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-n.cfg.Cluster.Peers.Changed():
		}
	}
}

// placeOnce asks the balancer with the current view of the group and acts
// on its answer. While some peer is unknown (just started, or after a
// stall) it changes nothing: a peer that may still capture must not be
// taken for dead.
func (n *Node) placeOnce(ctx context.Context) {
	view := n.cfg.Cluster.Peers.Snapshot()
	states := make(map[string]cluster.PeerState, len(view))
	req := sdk.PlaceRequest{Streams: n.ingest.streams}
	for _, p := range view {
		if !p.Known {
			return
		}
		states[p.Name] = p
		if p.Alive {
			l := p.State.Load
			req.Peers = append(req.Peers, sdk.PeerLoad{Name: p.Name, Streams: int64(l.Streams), Viewers: l.Viewers, BytesOut: l.BytesOut})
		}
	}
	owners, err := n.place(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		n.ingest.mu.RLock()
		placed := n.ingest.placed
		n.ingest.mu.RUnlock()
		n.log.Warn("balancer failed, keeping the last placement", "error", err, "placed", placed)
		if n.cfg.Metrics != nil {
			n.cfg.Metrics.ClusterPlaceFailures.Inc()
		}
		if !placed {
			return
		}
		owners = n.Placement()
	} else {
		n.ingest.mu.Lock()
		n.ingest.owners, n.ingest.placed = owners, true
		n.ingest.mu.Unlock()
	}
	self := n.cfg.Node.Name
	for _, s := range n.all() {
		if !n.clustered(s) {
			continue
		}
		owner := owners[s.name]
		switch {
		case owner == self:
			if n.startStream(s) {
				n.log.Info("cluster stream captured here", "stream", s.name, "inputs", s.inputURLs())
				if n.cfg.Metrics != nil {
					n.cfg.Metrics.ClusterStarts.WithLabelValues(s.name).Inc()
				}
			}
		case s.Running():
			// Hand over: stop only once the new owner, live, reports
			// that it runs it. An owner that is stale (a placement kept
			// while the balancer is down) never gets it from here.
			if st, ok := states[owner]; ok && st.Alive && st.State.Captures(s.name) {
				n.stopStream(s)
				n.log.Info("cluster stream handed over", "stream", s.name, "owner", owner)
				if n.cfg.Metrics != nil {
					n.cfg.Metrics.ClusterHandovers.WithLabelValues(s.name).Inc()
				}
			}
		}
	}
}

// place calls the balancer and checks its answer.
func (n *Node) place(ctx context.Context, req sdk.PlaceRequest) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, placeTimeout)
	defer cancel()
	b, err := n.cfg.Cluster.Balancer(ctx)
	if err != nil {
		return nil, err
	}
	owners, err := b.Place(ctx, req)
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, p := range req.Peers {
		live[p.Name] = true
	}
	out := make(map[string]string, len(req.Streams))
	for _, s := range req.Streams {
		if p, ok := owners[s.Name]; ok && live[p] {
			out[s.Name] = p
		}
	}
	if len(out) == 0 && len(req.Streams) > 0 && len(owners) > 0 {
		return nil, errors.New("balancer placed no stream on a live peer")
	}
	return out, nil
}

// stopStream stops a running stream gracefully (its open segment is
// flushed and recorded) and keeps it, so that it can start again.
func (n *Node) stopStream(s *Stream) {
	s.runMu.Lock()
	stop, done, running := s.stopRun, s.runDone, s.running
	s.runMu.Unlock()
	if !running || stop == nil {
		return
	}
	stop()
	<-done
}

// Serving lists, sorted, the streams this node runs itself now (it
// captures, restreams or replicates them) and has live segments of: not a
// cluster-ingest stream left to a peer, nor an on-demand restream that
// nobody watches, nor a stream whose input gives nothing. A viewer
// balanced to this node for one of them is served here.
func (n *Node) Serving() []string {
	var out []string
	for _, s := range n.all() {
		if _, live := s.live.Snapshot().Last(); live && s.Running() {
			out = append(out, s.name)
		}
	}
	sort.Strings(out)
	return out
}
