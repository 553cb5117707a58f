package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/config"
	"github.com/edgedvr/edge/sdk"
)

// These pin the hand-over rules down in-process; cmd/edge's cluster tests
// run them with real peers, polls and the balancer plugin.

// testView is the group as the test says node "a" sees it.
type testView struct {
	mu      sync.Mutex
	peers   []cluster.PeerState
	changed chan struct{}
	looks   int // Snapshot calls: one per placement round
}

func (v *testView) Snapshot() []cluster.PeerState {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.looks++
	return append([]cluster.PeerState(nil), v.peers...)
}
func (v *testView) FetchTimeout() time.Duration { return 20 * time.Millisecond }
func (v *testView) Changed() <-chan struct{}    { return v.changed }

func (v *testView) set(b cluster.PeerState) {
	v.mu.Lock()
	b.Name = "b"
	v.peers = []cluster.PeerState{{Name: "a", Self: true, Known: true, Alive: true}, b}
	v.mu.Unlock()
}

// testBalancer answers with owners, or fails.
type testBalancer struct {
	mu     sync.Mutex
	owners map[string]string
	fail   bool
}

func (b *testBalancer) Place(context.Context, sdk.PlaceRequest) (map[string]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail {
		return nil, errors.New("balancer plugin: unavailable")
	}
	return b.owners, nil
}

func (b *testBalancer) set(owners map[string]string, fail bool) {
	b.mu.Lock()
	b.owners, b.fail = owners, fail
	b.mu.Unlock()
}

func TestHandOver(t *testing.T) {
	topo, err := config.Parse("t.toml", []byte(`
cluster_key = "k"
[cluster]
peers = ["a", "b"]
  [[cluster.stream]]
  name = "cam1"
  inputs = ["udp://127.0.0.1:5001"]
  [[cluster.stream]]
  name = "cam2"
  inputs = ["udp://127.0.0.1:5002"]
[[node]]
name = "a"
listen = "127.0.0.1:8080"
[[node]]
name = "b"
listen = "127.0.0.1:8081"
`))
	if err != nil {
		t.Fatal(err)
	}
	srcs := ingest{"udp://127.0.0.1:5001": newSource("1", 0), "udp://127.0.0.1:5002": newSource("2", 0)}
	view := &testView{changed: make(chan struct{}, 1)}
	view.set(cluster.PeerState{}) // b unknown
	bal := &testBalancer{}
	bal.set(map[string]string{"cam1": "a", "cam2": "b"}, false)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, _ := topo.Node("a")
	n, err := New(Config{
		Topology: topo, Node: nc, Logger: log, Metrics: NewMetrics(prometheus.NewRegistry()),
		Plugins: Plugins{Ingest: func(context.Context, string) (sdk.Ingest, error) { return srcs, nil }},
		Cluster: &ClusterIngest{Peers: view, Balancer: func(context.Context) (sdk.Balancer, error) { return bal, nil }},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n.Start(ctx)
	defer n.Stop(context.Background())
	running := func() string {
		out := ""
		for _, s := range n.Capturing() {
			out += s + " "
		}
		return out
	}
	looks := func() int { view.mu.Lock(); defer view.mu.Unlock(); return view.looks }
	steady := func() { // two placement rounds after the last change
		c := looks()
		waitFor(t, "two placement rounds", func() bool { return looks() >= c+2 })
	}

	// While b is unknown nothing starts: it may be capturing.
	steady()
	if got := running(); got != "" {
		t.Fatalf("capturing %q while a peer is unknown", got)
	}
	view.set(cluster.PeerState{Known: true, Alive: true})
	waitFor(t, "cam1 captured here", func() bool { return running() == "cam1 " })

	// The balancer fails: the last placement holds, even when the group changes.
	bal.set(nil, true)
	view.set(cluster.PeerState{Known: true})
	steady()
	if got := running(); got != "cam1 " {
		t.Errorf("with the balancer down, capturing %q, want the last placement (cam1)", got)
	}

	// cam1 moves to b: a keeps it until b reports running it.
	view.set(cluster.PeerState{Known: true, Alive: true})
	bal.set(map[string]string{"cam1": "b", "cam2": "a"}, false)
	waitFor(t, "cam2 captured here", func() bool { return running() == "cam1 cam2 " })
	steady()
	if got := running(); got != "cam1 cam2 " {
		t.Errorf("capturing %q before b runs cam1, want cam1 still here", got)
	}
	view.set(cluster.PeerState{Known: true, Alive: true, State: cluster.State{Node: "b", Capturing: []string{"cam1"}}})
	waitFor(t, "cam1 handed over", func() bool { return running() == "cam2 " })

	// The balancer gives cam2 to b too, then fails, and b goes stale
	// before it runs cam2: a keeps capturing it.
	bal.set(map[string]string{"cam1": "b", "cam2": "b"}, false)
	steady()
	bal.set(nil, true)
	view.set(cluster.PeerState{Known: true, Alive: false, State: cluster.State{Node: "b", Capturing: []string{"cam1", "cam2"}}})
	steady()
	if got := running(); got != "cam2 " {
		t.Errorf("capturing %q after the owner went stale, want cam2 still here", got)
	}
}
