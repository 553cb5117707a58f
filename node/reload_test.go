package node

import (
	"errors"
	"testing"

	"github.com/edgedvr/edge/config"
)

func TestReloadRestartOnly(t *testing.T) {
	base := func() (*config.Topology, *config.Node) {
		nc := &config.Node{Name: "n", Listen: "127.0.0.1:1", PublicURL: "http://127.0.0.1:1", Line: 3,
			Streams: []*config.Stream{{Name: "a", Inputs: []string{"udp://127.0.0.1:5000"}, Line: 7}}}
		return &config.Topology{ClusterKey: "k", Nodes: []*config.Node{nc}}, nc
	}
	tests := []struct {
		name   string
		change func(*config.Topology, *config.Node)
		want   string // "" when a reload may apply it
	}{
		{"nothing", func(*config.Topology, *config.Node) {}, ""},
		{"a stream added and lines moved", func(_ *config.Topology, n *config.Node) {
			n.Line = 9
			n.Streams = append(n.Streams, &config.Stream{Name: "b", Inputs: []string{"udp://127.0.0.1:5001"}, Line: 4})
		}, ""},
		{"another node added", func(t *config.Topology, _ *config.Node) {
			t.Nodes = append(t.Nodes, &config.Node{Name: "m", Listen: "127.0.0.1:2"})
		}, ""},
		{"cluster_key", func(t *config.Topology, _ *config.Node) { t.ClusterKey = "other" }, "cluster_key"},
		{"listen", func(_ *config.Topology, n *config.Node) { n.Listen = "127.0.0.1:2" }, "listen"},
		{"public_url", func(_ *config.Topology, n *config.Node) { n.PublicURL = "http://x" }, "public_url"},
		{"viewer_limit", func(_ *config.Topology, n *config.Node) { n.ViewerLimit = 5 }, "viewer_limit of a node"},
		{"a peer's viewer_limit", func(t *config.Topology, _ *config.Node) {
			t.Nodes = append(t.Nodes, &config.Node{Name: "m", Listen: "127.0.0.1:2", ViewerLimit: 3})
		}, "viewer_limit of a node"},
		{"plugins", func(t *config.Topology, _ *config.Node) { t.Plugins.DVRStore = "/bin/store" }, "[plugins]"},
		{"cluster", func(t *config.Topology, _ *config.Node) { t.Cluster = &config.Cluster{Peers: []string{"n"}} }, "[cluster]"},
		{"source", func(_ *config.Topology, n *config.Node) { n.Sources = []*config.Source{{URL: "m4f://x:1"}} }, "[[node.source]] blocks"},
		{"override", func(_ *config.Topology, n *config.Node) { n.Streams = append(n.Streams, &config.Stream{Name: "o"}) }, "[[node.stream]] blocks without inputs"},
		{"metrics_listen", func(_ *config.Topology, n *config.Node) { n.MetricsListen = "127.0.0.1:9" }, "metrics_listen"},
		{"on_play and admin_key apply live", func(t *config.Topology, n *config.Node) {
			t.AdminKey, n.OnPlay, n.OnPlayFailure = "0123456789abcdef", "http://h/a", "allow"
		}, ""},
		{"cluster ingest", func(_ *config.Topology, n *config.Node) {
			n.Streams = append(n.Streams, &config.Stream{Name: "g", Inputs: []string{"udp://127.0.0.1:5002"}, ClusterIngest: &config.Ingest{}})
		}, "cluster_ingest streams"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ot, on := base()
			nt, nn := base()
			tc.change(nt, nn)
			err := restartOnly(ot, on, nt, nn)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !errors.Is(err, ErrReloadRefused)):
				t.Fatalf("err = %v, want a refusal naming %s", err, tc.want)
			case tc.want != "" && err.Error() != "reload refused: "+tc.want+" changed; restart the node to apply it":
				t.Fatalf("err = %q, want it to name %s", err, tc.want)
			}
		})
	}
}

// TestReloadOnPlayOfSources: on_play in a [[node.source]] or a stream
// without inputs changes who may watch, not what runs: no restart.
func TestReloadOnPlayOfSources(t *testing.T) {
	mk := func(onPlay string) (*config.Topology, *config.Node) {
		nc := &config.Node{Name: "n", Listen: "127.0.0.1:1",
			Sources: []*config.Source{{URL: "m4f://x:1", OnPlay: onPlay}},
			Streams: []*config.Stream{{Name: "o", OnPlay: onPlay}}}
		return &config.Topology{Nodes: []*config.Node{nc}}, nc
	}
	ot, on := mk("")
	nt, nn := mk("http://h/a")
	if err := restartOnly(ot, on, nt, nn); err != nil {
		t.Fatalf("changing on_play refused a reload: %v", err)
	}
}
