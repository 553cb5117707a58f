package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/config"
	"github.com/edgedvr/edge/node"
	"github.com/edgedvr/edge/proxy"
	"github.com/edgedvr/edge/sdk"
)

// clusterNode is a node's membership of its cluster-ingest group: the
// polling of the other peers, and what the HTTP front needs to answer
// polls, redirect viewers and show the group.
type clusterNode struct {
	self      string
	publicURL string
	// viewerLimits is every node's viewer_limit (0 or absent: none).
	viewerLimits map[string]int64
	// balancer returns the balancer plugin's client, for viewer choices.
	balancer func(ctx context.Context) (sdk.Balancer, error)
	log      *slog.Logger
	peers    *cluster.Peers
	n        atomic.Pointer[node.Node]
	srv      atomic.Pointer[proxy.Server]
	reg      *prometheus.Registry
}

// newClusterNode starts polling the peers of nc's group; nil when nc is not
// a peer.
func newClusterNode(topo *config.Topology, nc *config.Node, reg *prometheus.Registry, log *slog.Logger, bal func(context.Context) (sdk.Balancer, error)) (*clusterNode, error) {
	if !topo.Cluster.IsPeer(nc.Name) {
		return nil, nil
	}
	c := &clusterNode{self: nc.Name, publicURL: strings.TrimRight(nc.PublicURL, "/"), reg: reg,
		viewerLimits: map[string]int64{}, balancer: bal, log: log.With("component", "cluster")}
	for _, n := range topo.Nodes {
		if n.ViewerLimit > 0 {
			c.viewerLimits[n.Name] = int64(n.ViewerLimit)
		}
	}
	urls := map[string]string{}
	for _, p := range topo.Cluster.Peers {
		if pn, ok := topo.Node(p); ok && p != nc.Name {
			urls[p] = pollURL(pn)
		}
	}
	peers, err := cluster.NewPeers(cluster.PeersConfig{
		Self:         nc.Name,
		Peers:        urls,
		Key:          topo.ClusterKey,
		FetchTimeout: topo.Cluster.FetchTimeout.D(),
		StaleTimeout: topo.Cluster.StaleTimeout.D(),
		Local:        c.state,
		Logger:       log.With("component", "cluster"),
	})
	if err != nil {
		return nil, err
	}
	c.peers = peers
	for _, p := range topo.Cluster.Peers {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "edge", Subsystem: "cluster", Name: "peer_alive",
			Help:        "1 while the peer answers its polls (this node always), 0 when it is stale or not known yet.",
			ConstLabels: prometheus.Labels{"peer": p},
		}, func() float64 { return c.alive(p) }))
	}
	return c, nil
}

// alive is 1 when peer is alive in this node's view. (Not through
// Snapshot: that asks this node's state, which gathers the metrics.)
func (c *clusterNode) alive(peer string) float64 {
	if c.peers.Alive(peer) {
		return 1
	}
	return 0
}

// pollURL is where a peer's polls go: its listen address, or its
// public_url when it listens on every interface.
func pollURL(n *config.Node) string {
	host, port, err := net.SplitHostPort(n.Listen)
	if err != nil || host == "" || host == "0.0.0.0" || host == "::" {
		return strings.TrimRight(n.PublicURL, "/")
	}
	return "http://" + net.JoinHostPort(host, port)
}

func (c *clusterNode) close() {
	if c != nil {
		c.peers.Close()
	}
}

// state is this node's answer to a poll.
func (c *clusterNode) state() cluster.State {
	st := cluster.State{Node: c.self, PublicURL: c.publicURL, Capturing: []string{}}
	if n := c.n.Load(); n != nil {
		if cap := n.Capturing(); cap != nil {
			st.Capturing = cap
		}
	}
	st.Load.Streams = len(st.Capturing)
	if n := c.n.Load(); n != nil {
		st.Serving = n.Serving()
	}
	if srv := c.srv.Load(); srv != nil {
		st.Load.Viewers = srv.OpenConnections()
		st.Load.Watchers = srv.Watchers()
	}
	st.Load.BytesOut = c.bytesOut()
	return st
}

// bytesOut sums edge_http_response_bytes_total.
func (c *clusterNode) bytesOut() int64 {
	mfs, err := c.reg.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "edge_http_response_bytes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return int64(sum)
}

// clusterBackend is the backend of a node that is a cluster-ingest peer.
type clusterBackend struct {
	backend
	c *clusterNode
}

var _ proxy.ClusterBackend = clusterBackend{}

func (b clusterBackend) ClusterState() cluster.State { return b.c.state() }

func (b clusterBackend) Locate(stream string) (string, error) {
	if s, ok := b.n.Stream(stream); ok && (!b.n.Clustered(s) || s.Running()) {
		return "", proxy.ErrServedHere
	}
	owner, placed := b.n.Owner(stream)
	inGroup := placed
	if !inGroup {
		for _, g := range b.n.GroupStreams() {
			inGroup = inGroup || g == stream
		}
	}
	if !inGroup {
		return "", proxy.ErrServedHere
	}
	var capturing []cluster.PeerState
	for _, p := range b.c.peers.Snapshot() {
		if !p.Self && p.Alive && p.State.Captures(stream) {
			capturing = append(capturing, p)
		}
	}
	if len(capturing) == 0 {
		return "", fmt.Errorf("stream %s: no live peer captures it now", stream)
	}
	pick := capturing[0]
	for _, p := range capturing { // the placed owner when it already runs it
		if p.Name == owner {
			pick = p
		}
	}
	if pick.State.PublicURL == "" {
		return "", fmt.Errorf("stream %s: peer %s captures it but has no public_url", stream, pick.Name)
	}
	return strings.TrimRight(pick.State.PublicURL, "/"), nil
}

// clusterJSON is GET /api/v1/cluster (docs/http-api.md).
type clusterJSON struct {
	Node           string              `json:"node"`
	FetchTimeoutMs int64               `json:"fetch_timeout_ms"`
	StaleTimeoutMs int64               `json:"stale_timeout_ms"`
	Peers          []peerJSON          `json:"peers"`
	Streams        []clusterStreamJSON `json:"streams"`
}

type peerJSON struct {
	Name          string       `json:"name"`
	Self          bool         `json:"self"`
	Alive         bool         `json:"alive"`
	Known         bool         `json:"known"`
	LastSeen      *time.Time   `json:"last_seen"`
	LastSeenAgoMs *int64       `json:"last_seen_ago_ms"`
	PublicURL     string       `json:"public_url,omitempty"`
	Load          cluster.Load `json:"load"`
	Capturing     []string     `json:"capturing"`
	Error         string       `json:"error,omitempty"`
}

type clusterStreamJSON struct {
	Name       string   `json:"name"`
	CaptureAt  string   `json:"capture_at,omitempty"`
	Owner      string   `json:"owner"`
	CapturedAt []string `json:"captured_at"`
}

func (b clusterBackend) ClusterOverview() any {
	now := time.Now()
	view := b.c.peers.Snapshot()
	out := clusterJSON{Node: b.c.self, FetchTimeoutMs: b.c.peers.FetchTimeout().Milliseconds(),
		StaleTimeoutMs: b.c.peers.StaleTimeout().Milliseconds(), Peers: []peerJSON{}, Streams: []clusterStreamJSON{}}
	capturedAt := map[string][]string{}
	for _, p := range view {
		pj := peerJSON{Name: p.Name, Self: p.Self, Alive: p.Alive, Known: p.Known, PublicURL: p.State.PublicURL,
			Load: p.State.Load, Capturing: p.State.Capturing, Error: p.Error}
		if pj.Capturing == nil {
			pj.Capturing = []string{}
		}
		if !p.LastSeen.IsZero() {
			t := p.LastSeen.UTC()
			ago := now.Sub(p.LastSeen).Milliseconds()
			pj.LastSeen, pj.LastSeenAgoMs = &t, &ago
		}
		if p.Alive {
			for _, s := range p.State.Capturing {
				capturedAt[s] = append(capturedAt[s], p.Name)
			}
		}
		out.Peers = append(out.Peers, pj)
	}
	placement := b.n.Placement()
	for _, s := range b.n.GroupStreamsFull() {
		at := capturedAt[s.Name]
		if at == nil {
			at = []string{}
		}
		sort.Strings(at)
		out.Streams = append(out.Streams, clusterStreamJSON{Name: s.Name, CaptureAt: s.CaptureAt, Owner: placement[s.Name], CapturedAt: at})
	}
	return out
}

// peerArchives returns the function that lists, for a cluster-ingest stream
// of n, the other peers that may capture it: their archives complete this
// node's.
func peerArchives(topo *config.Topology, self string, n *node.Node) func(s *node.Stream) []peerArchive {
	return func(s *node.Stream) []peerArchive {
		if !n.Clustered(s) {
			return nil
		}
		var out []peerArchive
		for _, g := range n.GroupStreamsFull() {
			if g.Name != s.Name() {
				continue
			}
			for _, p := range g.Candidates {
				pn, ok := topo.Node(p)
				if !ok || p == self {
					continue
				}
				addr := strings.TrimPrefix(strings.TrimPrefix(pollURL(pn), "http://"), "https://")
				out = append(out, peerArchive{name: p, addr: addr, key: topo.ClusterKey})
			}
		}
		return out
	}
}
