package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
)

// TestLoad500LivePlayers: 500 concurrent HLS players follow the live
// playlist of one node for 60 s (bench/hlsload, a real separate process
// over loopback). Every request must succeed; the latencies are logged.
func TestLoad500LivePlayers(t *testing.T) {
	if testing.Short() {
		t.Skip("a 60 s load test; -short skips it")
	}
	t.Parallel()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(t.TempDir(), "hlsload")
	build := exec.Command("go", "build", "-o", bin, "./bench/hlsload")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build bench/hlsload: %v\n%s", err, out)
	}

	tp := newTopo(t)
	sample, err := filepath.Abs("../../examples/topologies/sample.ts")
	if err != nil {
		t.Fatal(err)
	}
	tp.stream("sample", []string{"file://" + sample})
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)
	testkit.Eventually(t, 30*time.Second, "a live playlist", func() bool {
		code, body := testkit.Get(t, node.URL+"/sample/index.m3u8")
		return code == 200 && strings.Count(string(body), "s-") >= 3
	})

	out, err := exec.Command(bin, "-url", node.URL+"/sample/index.m3u8", "-clients", "500", "-duration", "60s").CombinedOutput()
	t.Logf("hlsload:\n%s", out)
	if err != nil {
		t.Fatalf("load test failed (errors above): %v", err)
	}
	if !strings.Contains(string(out), "errors=0") || strings.Contains(string(out), "segments=0 ") {
		t.Fatalf("load test: want segments and no errors")
	}
}
