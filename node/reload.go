package node

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/edgedvr/edge/config"
)

// Reload changes what a running node captures without a restart: the
// streams of its [[node.stream]] blocks (with inputs, not cluster_ingest).
// The new set of streams is built completely first; only then is it
// swapped in. A stream whose settings did not change is the same running
// stream before and after: its capture, live window and recording go on
// untouched, so its viewers and archive see nothing. A changed stream is
// stopped (its open segment flushed and recorded) and started again with
// its new settings; a removed one is stopped and flushed; a new one starts.
//
// Anything else that differs (cluster_key, [cluster], [plugins], the
// node's listen addresses and public_url, its [[node.source]] blocks,
// [[node.stream]] blocks without inputs, cluster_ingest streams) needs a
// restart: Reload then changes nothing and says what differs. It also
// changes nothing when a new stream cannot be built (its plugin is not
// running on this node, its archive cannot be opened).

// ReloadResult says what a Reload did, each list sorted.
type ReloadResult struct {
	Kept      []string `json:"kept"`
	Started   []string `json:"started"`
	Restarted []string `json:"restarted"`
	Stopped   []string `json:"stopped"`
}

// ErrReloadRefused wraps every reason a Reload changes nothing.
var ErrReloadRefused = errors.New("reload refused")

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrReloadRefused, fmt.Sprintf(format, args...))
}

// Reload swaps in the streams of nc, a node of topo (already validated by
// config.Load). ctx bounds opening the new archives and flushing the
// stopped streams.
func (n *Node) Reload(ctx context.Context, topo *config.Topology, nc *config.Node) (ReloadResult, error) {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	var res ReloadResult
	if n.ctx == nil || n.ctx.Err() != nil {
		return res, refused("the node is not running")
	}
	oldTopo, oldNode := n.cfg.Topology, n.cfg.Node
	if n.current != nil {
		oldTopo, oldNode = n.currentTopo, n.current
	}
	if err := restartOnly(oldTopo, oldNode, topo, nc); err != nil {
		return res, err
	}

	// Build the new streams. b resolves inputs against the new topology.
	b := &Node{cfg: n.cfg, log: n.log}
	b.cfg.Topology, b.cfg.Node = topo, nc
	wanted := map[string]bool{}
	fresh := map[string]*Stream{} // new or changed, by name
	for _, sc := range reloadable(nc) {
		wanted[sc.Name] = true
		old, exists := n.Stream(sc.Name)
		if exists && !configured(oldNode, sc.Name) {
			return res, refused("stream %s is restreamed from a [[node.source]] here", sc.Name)
		}
		if exists && sameStream(b, old, sc) {
			res.Kept = append(res.Kept, sc.Name)
			continue
		}
		s, err := b.newStream(sc, topo.ClusterKey)
		if err != nil {
			return ReloadResult{}, refused("stream %s: %v", sc.Name, err)
		}
		for _, in := range sc.Inputs {
			scheme, _, _ := strings.Cut(in, "://")
			if _, err := n.cfg.Plugins.Ingest(ctx, scheme); err != nil {
				return ReloadResult{}, refused("stream %s: no %s ingest plugin runs on this node (a restart starts it): %v", sc.Name, scheme, err)
			}
		}
		if s.rec != nil {
			st, err := n.cfg.Plugins.Store(ctx)
			if err != nil {
				return ReloadResult{}, refused("stream %s records but no archive store runs on this node (a restart starts it): %v", sc.Name, err)
			}
			if err := n.openArchive(ctx, st, s); err != nil {
				return ReloadResult{}, refused("%v", err)
			}
		}
		fresh[sc.Name] = s
		if exists {
			res.Restarted = append(res.Restarted, sc.Name)
		} else {
			res.Started = append(res.Started, sc.Name)
		}
	}
	var gone []*Stream // stopped: removed or replaced
	for _, sc := range reloadable(oldNode) {
		if s, ok := n.Stream(sc.Name); ok && (!wanted[sc.Name] || fresh[sc.Name] != nil) {
			gone = append(gone, s)
			if !wanted[sc.Name] {
				res.Stopped = append(res.Stopped, sc.Name)
			}
		}
	}

	// Swap: from here on, viewers find the new streams.
	n.mu.Lock()
	for _, s := range gone {
		delete(n.streams, s.name)
	}
	for name, s := range fresh {
		n.streams[name] = s
	}
	n.names = sortedKeys(n.streams)
	n.mu.Unlock()
	n.current, n.currentTopo = nc, topo

	// A changed stream's old capture stops before the new one starts: both
	// would read the same input.
	for _, s := range gone {
		if err := n.retireStream(ctx, s); err != nil {
			n.log.Warn("stream did not flush in time", "stream", s.name, "error", err)
		}
		n.log.Info("stream stopped by reload", "stream", s.name)
	}
	for _, name := range sortedKeys(fresh) {
		s := fresh[name]
		n.startStream(s)
		n.log.Info("stream started by reload", "stream", name, "inputs", s.inputURLs(), "dvr", s.rec != nil)
	}
	for _, l := range []*[]string{&res.Kept, &res.Started, &res.Restarted, &res.Stopped} {
		if *l == nil {
			*l = []string{}
		}
		sort.Strings(*l)
	}
	return res, nil
}

// retireStream stops s's capture for good (its plugins flush their open segments,
// which are recorded) and waits for its recorder to finish.
func (n *Node) retireStream(ctx context.Context, s *Stream) error {
	s.runMu.Lock()
	stop, done := s.stopRun, s.runDone
	s.runMu.Unlock()
	if stop != nil {
		stop()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.runMu.Lock()
	replStop := s.replStop
	s.replStop = nil
	s.runMu.Unlock()
	if replStop != nil {
		replStop() // its replication job ends with it
	}
	if s.rec != nil && s.recStarted {
		s.rec.close()
		select {
		case <-s.rec.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// reloadable returns the [[node.stream]] blocks of nc that Reload manages.
func reloadable(nc *config.Node) []*config.Stream {
	var out []*config.Stream
	for _, sc := range nc.Streams {
		if len(sc.Inputs) > 0 && sc.ClusterIngest == nil {
			out = append(out, sc)
		}
	}
	return out
}

// configured reports whether nc has a reloadable stream of that name.
func configured(nc *config.Node, name string) bool {
	for _, sc := range reloadable(nc) {
		if sc.Name == name {
			return true
		}
	}
	return false
}

// sameStream reports whether the running stream s already is what sc
// describes: the same settings, and inputs that resolve (through the new
// topology, where a node's address may have moved) to the same targets.
func sameStream(b *Node, s *Stream, sc *config.Stream) bool {
	a, c := *s.cfg, *sc
	a.Line, c.Line = 0, 0
	a.OnPlay, c.OnPlay = "", "" // viewer authorization only: the server applies it (proxy.Policy)
	if !reflect.DeepEqual(a, c) || len(s.inputs) != len(sc.Inputs) {
		return false
	}
	for i, raw := range sc.Inputs {
		_, target, key, err := b.resolveInput(raw)
		if err != nil || target != s.inputs[i].target || (key != "" && key != s.inputs[i].key) {
			return false
		}
	}
	return true
}

// restartOnly returns why going from (ot, on) to (nt, nn) needs a restart,
// nil when Reload can apply it.
func restartOnly(ot *config.Topology, on *config.Node, nt *config.Topology, nn *config.Node) error {
	checks := []struct {
		what     string
		old, new any
	}{
		{"cluster_key", ot.ClusterKey, nt.ClusterKey},
		{"[cluster]", clusterKey(ot), clusterKey(nt)},
		{"[plugins]", ot.Plugins, nt.Plugins},
		{"listen", on.Listen, nn.Listen},
		{"replication_listen", on.ReplicationListen, nn.ReplicationListen},
		{"public_url", on.PublicURL, nn.PublicURL},
		{"metrics_listen", on.MetricsListen, nn.MetricsListen},
		{"viewer_limit of a node", viewerLimits(ot), viewerLimits(nt)},
		{"config_external", on.ConfigExternal, nn.ConfigExternal},
		{"[[node.source]] blocks", sourcesKey(on), sourcesKey(nn)},
		{"[[node.stream]] blocks without inputs", streamsKey(on, func(sc *config.Stream) bool { return len(sc.Inputs) == 0 }), streamsKey(nn, func(sc *config.Stream) bool { return len(sc.Inputs) == 0 })},
		{"cluster_ingest streams", groupKey(ot), groupKey(nt)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.old, c.new) {
			return refused("%s changed; restart the node to apply it", c.what)
		}
	}
	return nil
}

// viewerLimits is every node's viewer_limit.
func viewerLimits(t *config.Topology) map[string]int {
	out := map[string]int{}
	for _, n := range t.Nodes {
		if n.ViewerLimit != 0 {
			out[n.Name] = n.ViewerLimit
		}
	}
	return out
}

func clusterKey(t *config.Topology) any {
	if t.Cluster == nil {
		return nil
	}
	c := *t.Cluster
	c.Streams = nil // Load copies them into the peers: groupKey compares them
	return c
}

func sourcesKey(nc *config.Node) []config.Source {
	out := make([]config.Source, 0, len(nc.Sources))
	for _, s := range nc.Sources {
		c := *s
		c.Line, c.OnPlay = 0, "" // on_play is applied by the server, with no restart
		out = append(out, c)
	}
	return out
}

func streamsKey(nc *config.Node, keep func(*config.Stream) bool) []config.Stream {
	out := []config.Stream{}
	for _, s := range nc.Streams {
		if keep(s) {
			c := *s
			c.Line, c.OnPlay = 0, ""
			out = append(out, c)
		}
	}
	return out
}

// groupKey is every cluster_ingest stream of the file, by node.
func groupKey(t *config.Topology) map[string][]config.Stream {
	out := map[string][]config.Stream{}
	for _, nd := range t.Nodes {
		if l := streamsKey(nd, func(sc *config.Stream) bool { return sc.ClusterIngest != nil }); len(l) > 0 {
			out[nd.Name] = l
		}
	}
	return out
}
