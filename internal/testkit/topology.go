package testkit

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// Topology writes one topology file of several nodes sharing a cluster_key,
// each on a free port.
type Topology struct {
	Dir    string            // the file's directory (a t.TempDir)
	Listen map[string]string // node name: host:port
	body   strings.Builder
}

// NewTopology starts a topology file with clusterKey.
func NewTopology(t testing.TB, clusterKey string) *Topology {
	tp := &Topology{Dir: t.TempDir(), Listen: map[string]string{}}
	fmt.Fprintf(&tp.body, "cluster_key = %q\n", clusterKey)
	return tp
}

// Node adds a node on a free port and returns its host:port; lines are
// more TOML after its header (StreamBlock, SourceBlock), written as given.
func (tp *Topology) Node(t testing.TB, name string, lines ...string) string {
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	tp.Listen[name] = addr
	fmt.Fprintf(&tp.body, "\n[[node]]\nname = %q\nlisten = %q\n", name, addr)
	for _, l := range lines {
		fmt.Fprintf(&tp.body, "%s\n", l)
	}
	return addr
}

// Write writes the file and returns its path.
func (tp *Topology) Write(t testing.TB) string {
	return WriteFile(t, tp.Dir, "topology.toml", tp.body.String())
}

// Start runs node name of the written file at path.
func (tp *Topology) Start(t testing.TB, path, name string) *Node {
	return StartNode(t, path, name, tp.Listen[name])
}

// URL is the base URL of node name.
func (tp *Topology) URL(name string) string { return "http://" + tp.Listen[name] }

// StreamBlock is the TOML of one [[node.stream]]; extra are more key lines.
func StreamBlock(name string, inputs []string, extra ...string) string {
	q := make([]string, len(inputs))
	for i, in := range inputs {
		q[i] = strconv.Quote(in)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n  [[node.stream]]\n  name = %q\n  inputs = [%s]\n", name, strings.Join(q, ", "))
	for _, e := range extra {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}

// SourceBlock is the TOML of one [[node.source]]; extra are more key lines.
func SourceBlock(url string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n  [[node.source]]\n  url = %q\n", url)
	for _, e := range extra {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}
