package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgedvr/edge/config"
	"github.com/edgedvr/edge/examples/topologies"
)

// The quickstart prints the web overview of each node before anything else.
func TestUpPrintsOverviewFirst(t *testing.T) {
	path, err := topologies.WriteQuickstart(filepath.Join(t.TempDir(), "qs"))
	if err != nil {
		t.Fatal(err)
	}
	topo, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printURLs(&b, topo)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	for i, n := range topo.Nodes {
		want := "open in a browser: " + n.PublicURL + "/ "
		if i >= len(lines) || !strings.HasPrefix(lines[i], want) {
			t.Fatalf("line %d of the quickstart output is %q, want it to start with %q; output:\n%s", i+1, lines[min(i, len(lines)-1)], want, b.String())
		}
	}
}
