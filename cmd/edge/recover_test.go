package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/proxy"
)

// TestPanickingRequestKeepsRecording runs a real node recording a looped
// TS file, with the test-only hook proxy.TestPanicPathEnv on: a request for
// that path panics inside the HTTP handler. The request answers 500, the
// panic is counted in /metrics and logged with its stack, the node process
// lives on, the next request (a live playlist) is answered, and the
// archive keeps growing.
func TestPanickingRequestKeepsRecording(t *testing.T) {
	testkit.Need(t, "ffmpeg")
	sample, err := filepath.Abs("../../examples/topologies/sample.ts")
	if err != nil {
		t.Fatal(err)
	}
	const panicPath = "/debug/test-panic"
	t.Setenv(proxy.TestPanicPathEnv, panicPath) // inherited by the node process
	tp := newTopo(t)
	tp.stream("tv", []string{"file://" + sample}, `segment_duration = "1s"`, tp.dvr(""))
	n := testkit.StartNode(t, tp.write(t), "origin", tp.listen)

	written := func() float64 { return testkit.Metric(t, n.URL, "edge_dvr_segments_written_total", "stream=tv") }
	testkit.Eventually(t, 30*time.Second, "tv recording", func() bool { return written() >= 2 })

	for i := 1; i <= 3; i++ {
		code, body := testkit.Get(t, n.URL+panicPath)
		if code != 500 || string(body) != "internal error\n" {
			t.Fatalf("panicking request %d: %d %q, want 500 \"internal error\"", i, code, body)
		}
		if n.Exited() {
			t.Fatalf("node exited after a panicking request:\n%s", n.Output())
		}
		// The next request is answered.
		code, body = testkit.Get(t, n.URL+"/tv/index.m3u8")
		if code != 200 || !strings.Contains(string(body), "#EXTINF") {
			t.Fatalf("live playlist after panic %d: %d\n%s", i, code, body)
		}
		if got := testkit.Metric(t, n.URL, "edge_panics_total", "where=http"); got != float64(i) {
			t.Fatalf("edge_panics_total{where=\"http\"} = %v after %d panics", got, i)
		}
	}
	out := n.Output()
	for _, want := range []string{"panic recovered", "where=http", "path=" + panicPath, "runtime/debug.Stack", "recoverHTTP"} {
		if !strings.Contains(out, want) {
			t.Errorf("node log lacks %q", want)
		}
	}

	// Recording goes on: more segments are written after the panics.
	after := written()
	testkit.Eventually(t, 30*time.Second, "tv recording after the panics", func() bool { return written() >= after+3 })
	if n.Exited() {
		t.Fatal("node exited")
	}
}
