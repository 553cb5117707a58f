package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
)

const (
	clusterFetch = 500 * time.Millisecond
	clusterStale = 2 * time.Second
)

// clusterGroup is a running cluster-ingest group of peers s01..sNN.
type clusterGroup struct {
	tp    *testkit.Topology
	path  string
	names []string
	mu    sync.Mutex
	nodes map[string]*testkit.Node
}

// startGroup writes a topology of peers sharing streams cam01..camNN
// (file:// inputs of the sample, looped), captureAt giving some a
// preferred peer, and starts every peer at once.
func startGroup(t testing.TB, peers, streams int, captureAt map[string]string, extra string, nodeExtra map[string]string) *clusterGroup {
	t.Helper()
	sample, err := filepath.Abs("../../examples/topologies/sample.ts")
	if err != nil {
		t.Fatal(err)
	}
	g := &clusterGroup{tp: testkit.NewTopology(t, "cluster-test-key"), nodes: map[string]*testkit.Node{}}
	for i := range peers {
		g.names = append(g.names, fmt.Sprintf("s%02d", i+1))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cluster_key = \"cluster-test-key\"\n%s\n[cluster]\npeers = [\"%s\"]\nfetch_timeout = %q\nstale_timeout = %q\n", extra, strings.Join(g.names, `", "`), clusterFetch, clusterStale)
	for i := range streams {
		name := fmt.Sprintf("cam%02d", i+1)
		fmt.Fprintf(&b, "\n  [[cluster.stream]]\n  name = %q\n  inputs = [\"file://%s\"]\n  segment_duration = \"1s\"\n  dvr = { root = \"dvr\" }\n", name, sample)
		if p, ok := captureAt[name]; ok {
			fmt.Fprintf(&b, "  cluster_ingest = { capture_at = %q }\n", p)
		}
	}
	for _, n := range g.names {
		g.tp.Node(t, n)
	}
	g.path = testkit.WriteFile(t, g.tp.Dir, "topology.toml", b.String()+"\n"+topologyNodes(g, nodeExtra))
	var wg sync.WaitGroup
	for _, n := range g.names {
		wg.Add(1)
		go func() { defer wg.Done(); g.start(t, n) }()
	}
	wg.Wait()
	return g
}

// topologyNodes writes the [[node]] tables of the group's peers.
func topologyNodes(g *clusterGroup, extra map[string]string) string {
	var b strings.Builder
	for _, n := range g.names {
		fmt.Fprintf(&b, "\n[[node]]\nname = %q\nlisten = %q\n%s\n", n, g.tp.Listen[n], extra[n])
	}
	return b.String()
}

func (g *clusterGroup) start(t testing.TB, name string) {
	p := testkit.Start(t, testkit.Edge(t), "run", g.path, "--node", name)
	n := &testkit.Node{Proc: p, URL: g.tp.URL(name)}
	g.mu.Lock()
	g.nodes[name] = n
	g.mu.Unlock()
}

func (g *clusterGroup) node(name string) *testkit.Node {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nodes[name]
}

type clusterView struct {
	Node    string `json:"node"`
	Streams []struct {
		Name       string   `json:"name"`
		Owner      string   `json:"owner"`
		CapturedAt []string `json:"captured_at"`
	} `json:"streams"`
	Peers []struct {
		Name      string   `json:"name"`
		Self      bool     `json:"self"`
		Alive     bool     `json:"alive"`
		Capturing []string `json:"capturing"`
	} `json:"peers"`
}

// captures asks each running peer what it captures itself (its own entry
// in /api/v1/cluster): stream -> peers. A peer that does not answer
// captures nothing.
func (g *clusterGroup) captures(skip ...string) map[string][]string {
	out := map[string][]string{}
	for _, n := range g.names {
		if contains(skip, n) {
			continue
		}
		var v clusterView
		if !testkit.JSON(g.tp.URL(n)+"/api/v1/cluster", &v) {
			continue
		}
		for _, p := range v.Peers {
			if p.Self {
				for _, s := range p.Capturing {
					out[s] = append(out[s], n)
				}
			}
		}
	}
	return out
}

// longestGap is the longest hole between the recorded ranges of stream,
// read through peer base (redirected to the peer that captures it, whose
// lookup merges every peer's archive), among the ranges that end after
// from (Unix s).
func longestGap(base, stream string, from int64) (time.Duration, []chRange, bool) {
	rs, ok := chRanges(base, stream)
	if !ok {
		return 0, nil, false
	}
	var gap int64
	for i := 1; i < len(rs); i++ {
		end := rs[i-1].From + rs[i-1].Duration
		if end >= from {
			gap = max(gap, rs[i].From-end)
		}
	}
	return time.Duration(gap) * time.Second, rs, true
}

// waitRecorded waits until the archive of stream, read through base,
// reaches past unix (Unix s).
func waitRecorded(t *testing.T, base, stream string, unix int64) {
	t.Helper()
	testkit.Eventually(t, 15*time.Second, stream+" recorded", func() bool {
		rs, ok := chRanges(base, stream)
		return ok && len(rs) > 0 && rs[len(rs)-1].From+rs[len(rs)-1].Duration > unix
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// placedOnce reports whether each of streams is captured by exactly one
// of peers, and each peer captures lo..hi of them.
func placedOnce(caps map[string][]string, streams int, peers []string, lo, hi int) (bool, string) {
	per := map[string]int{}
	for i := range streams {
		at := caps[fmt.Sprintf("cam%02d", i+1)]
		if len(at) != 1 {
			return false, fmt.Sprintf("cam%02d captured at %v", i+1, at)
		}
		per[at[0]]++
	}
	for _, p := range peers {
		if per[p] < lo || per[p] > hi {
			return false, fmt.Sprintf("per peer %v, want %d..%d each on %v", per, lo, hi, peers)
		}
	}
	return true, ""
}

// overlapWatch samples the group's captures every 50 ms and keeps, per
// stream, the longest time it was captured by two peers at once.
type overlapWatch struct {
	g       *clusterGroup
	mu      sync.Mutex
	skip    []string
	since   map[string]time.Time
	longest map[string]time.Duration
	stop    chan struct{}
	done    chan struct{}
}

func watchOverlap(g *clusterGroup) *overlapWatch {
	w := &overlapWatch{g: g, since: map[string]time.Time{}, longest: map[string]time.Duration{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			w.mu.Lock()
			skip := append([]string(nil), w.skip...)
			w.mu.Unlock()
			now := time.Now()
			caps := g.captures(skip...)
			w.mu.Lock()
			for s, at := range caps {
				if len(at) > 1 {
					if _, ok := w.since[s]; !ok {
						w.since[s] = now
					}
					w.longest[s] = max(w.longest[s], now.Sub(w.since[s]))
				} else {
					delete(w.since, s)
				}
			}
			for s := range w.since {
				if len(caps[s]) < 2 {
					delete(w.since, s)
				}
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// setSkip names peers that are stopped or frozen: not sampled.
func (w *overlapWatch) setSkip(peers ...string) {
	w.mu.Lock()
	w.skip = peers
	w.mu.Unlock()
}

func (w *overlapWatch) check(t *testing.T, limit time.Duration) {
	close(w.stop)
	<-w.done
	var names []string
	for s := range w.longest {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		d := w.longest[s]
		t.Logf("stream %s captured twice for %v at most", s, d.Round(time.Millisecond))
		if d > limit {
			t.Errorf("stream %s captured by two peers for %v, more than %v", s, d.Round(time.Millisecond), limit)
		}
	}
}

// The placement and failover scenario: 3 peers, 12 streams, each
// captured exactly once, 4±1 per peer, capture_at honoured; SIGKILL of a
// peer moves its streams within stale_timeout + 5 s; on restart they come
// back; no stream is captured twice for longer than one fetch_timeout
// (plus the sampling period and the graceful stop of the old capture); the
// archive, read from any peer, has no hole but the failover time.
func TestClusterIngestPlacementAndFailover(t *testing.T) {
	testkit.Need(t, "ffprobe")
	g := startGroup(t, 3, 12, map[string]string{"cam01": "s03", "cam02": "s03"}, "", nil)
	all := g.names
	var why string
	testkit.Eventually(t, 15*time.Second, "12 streams captured once, 4±1 per peer", func() bool {
		var ok bool
		ok, why = placedOnce(g.captures(), 12, all, 3, 5)
		return ok
	})
	caps := g.captures()
	for _, s := range []string{"cam01", "cam02"} {
		if at := caps[s]; len(at) != 1 || at[0] != "s03" {
			t.Errorf("%s captured at %v, want its capture_at s03", s, at)
		}
	}
	w := watchOverlap(g)
	// Let the streams record a while, so that the archive shows the hole.
	waitRecorded(t, g.tp.URL("s03"), "cam01", time.Now().Unix()+2)

	g.node("s03").Kill()
	w.setSkip("s03")
	killed := time.Now()
	testkit.Eventually(t, clusterStale+5*time.Second, "s03's streams captured on s01 and s02", func() bool {
		var ok bool
		ok, why = placedOnce(g.captures("s03"), 12, []string{"s01", "s02"}, 5, 7)
		return ok
	})
	t.Logf("streams of the killed peer captured again after %v (stale_timeout %v)", time.Since(killed).Round(time.Millisecond), clusterStale)
	// The moved streams play on their new peer.
	caps = g.captures("s03")
	moved := caps["cam01"][0]
	testkit.Eventually(t, 10*time.Second, "cam01 live on "+moved, func() bool {
		code, body := testkit.Get(t, g.tp.URL(moved)+"/cam01/index.m3u8")
		return code == 200 && strings.Contains(string(body), "#EXTINF")
	})

	g.start(t, "s03")
	w.setSkip()
	testkit.Eventually(t, 20*time.Second, "streams back on s03", func() bool {
		var ok bool
		caps := g.captures()
		ok, why = placedOnce(caps, 12, all, 3, 5)
		return ok && len(caps["cam01"]) == 1 && caps["cam01"][0] == "s03" && caps["cam02"][0] == "s03"
	})
	if t.Failed() {
		t.Log(why)
	}
	// The metrics tell the same story.
	if n := testkit.Metric(t, g.tp.URL("s01"), "edge_cluster_handovers_total") + testkit.Metric(t, g.tp.URL("s02"), "edge_cluster_handovers_total"); n < 3 {
		t.Errorf("s01 and s02 handed over %v streams to the returning s03, want at least 3", n)
	}
	testkit.Eventually(t, 5*time.Second, "s03 alive in s01's metrics", func() bool {
		return testkit.Metric(t, g.tp.URL("s01"), "edge_cluster_peer_alive", "peer=s03") == 1
	})
	// One fetch_timeout, plus the sampling period (50 ms) and the graceful
	// stop of the old capture (its open segment is flushed and recorded).
	w.check(t, clusterFetch+500*time.Millisecond)
	back := time.Now().Unix()
	for _, s := range []string{"cam01", "cam05"} {
		waitRecorded(t, g.tp.URL("s02"), s, back+2)
	}
	// The archive of a stream that went away and came back is whole, read
	// from any peer: the hole is the failover time.
	for _, s := range []string{"cam01", "cam05"} {
		gap, rs, ok := longestGap(g.tp.URL("s01"), s, killed.Unix()-5)
		t.Logf("%s: longest hole %v in %v", s, gap, rs)
		if !ok || gap > clusterStale+5*time.Second {
			t.Errorf("%s: archive ranges %v (ok %v): hole of %v, more than stale_timeout + 5s", s, rs, ok, gap)
		}
	}
}

// SIGSTOP of a peer looks like a partition: the others take its streams
// after stale_timeout; on SIGCONT it takes its share back, and no stream
// stays captured twice for long.
func TestClusterIngestFrozenPeer(t *testing.T) {
	g := startGroup(t, 3, 6, nil, "", nil)
	testkit.Eventually(t, 15*time.Second, "6 streams captured once", func() bool {
		ok, _ := placedOnce(g.captures(), 6, g.names, 1, 3)
		return ok
	})
	before := g.captures()
	until := time.Now().Unix() + 2
	for s := range before {
		waitRecorded(t, g.tp.URL("s01"), s, until)
	}
	frozen := g.node("s02")
	froze := time.Now()
	if err := syscall.Kill(frozen.Cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(frozen.Cmd.Process.Pid, syscall.SIGCONT)
		}
	}()
	testkit.Eventually(t, clusterStale+5*time.Second, "s02's streams taken by s01 and s03", func() bool {
		caps := g.captures("s02")
		for i := range 6 {
			s := fmt.Sprintf("cam%02d", i+1)
			if len(caps[s]) != 1 {
				return false
			}
		}
		return true
	})
	w := watchOverlap(g)
	if err := syscall.Kill(frozen.Cmd.Process.Pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	testkit.Eventually(t, 15*time.Second, "the placement before the freeze again", func() bool {
		caps := g.captures()
		for s, at := range before {
			if len(caps[s]) != 1 || caps[s][0] != at[0] {
				return false
			}
		}
		return true
	})
	// After the stall the thawed peer still runs its old streams for up
	// to one poll before it hears from the others.
	w.check(t, 2*clusterFetch+500*time.Millisecond)
	// The frozen peer's streams have no hole in their archives longer than
	// stale_timeout + one segment (1 s) + one poll, read from any peer.
	until = time.Now().Unix() + 2
	for s, at := range before {
		if at[0] != "s02" {
			continue
		}
		waitRecorded(t, g.tp.URL("s03"), s, until)
		gap, rs, _ := longestGap(g.tp.URL("s03"), s, froze.Unix()-5)
		t.Logf("%s: longest hole %v in %v", s, gap, rs)
		if limit := clusterStale + time.Second + clusterFetch; gap > limit {
			t.Errorf("%s: archive hole of %v, more than %v: %v", s, gap, limit, rs)
		}
	}
}

// A viewer asking a peer that does not capture a stream gets exactly one
// 302 to the peer that does, and ffprobe plays through it.
func TestClusterIngestRedirect(t *testing.T) {
	testkit.Need(t, "ffprobe")
	sample, err := filepath.Abs("../../examples/topologies/sample.ts")
	if err != nil {
		t.Fatal(err)
	}
	// solo is a cluster_ingest stream in the per-node form that only s02
	// defines: nobody else may capture it.
	solo := testkit.StreamBlock("solo", []string{"file://" + sample}, `cluster_ingest = {}`, `segment_duration = "1s"`)
	g := startGroup(t, 3, 3, map[string]string{"cam01": "s01", "cam02": "s02", "cam03": "s03"}, "", map[string]string{"s02": solo})
	testkit.Eventually(t, 15*time.Second, "each camera on its capture_at peer", func() bool {
		caps := g.captures()
		return len(caps["cam01"]) == 1 && caps["cam01"][0] == "s01" && len(caps["cam02"]) == 1 && caps["cam02"][0] == "s02"
	})
	testkit.Eventually(t, 10*time.Second, "cam02 live on s02", func() bool {
		code, body := testkit.Get(t, g.tp.URL("s02")+"/cam02/index.m3u8")
		return code == 200 && strings.Contains(string(body), "#EXTINF")
	})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{"/cam02/index.m3u8?token=abc", "/cam02/recording_status.json", "/cam02/archive-1700000000-60.m3u8"} {
		resp, err := noFollow.Get(g.tp.URL("s01") + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != g.tp.URL("s02")+path {
			t.Errorf("GET s01%s: %d Location %q, want 302 to %s", path, resp.StatusCode, resp.Header.Get("Location"), g.tp.URL("s02")+path)
		}
	}
	// Followed: exactly one redirect, then the playlist.
	hops := 0
	follow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { hops++; return nil }}
	resp, err := follow.Get(g.tp.URL("s03") + "/cam02/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || hops != 1 {
		t.Errorf("following s03's answer: status %d after %d redirects, want 200 after 1", resp.StatusCode, hops)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", g.tp.URL("s01")+"/cam02/index.m3u8").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "h264") {
		t.Errorf("ffprobe through the redirect: %v\n%s", err, out)
	}
	// The owner serves, never redirects.
	if code, _ := testkit.Get(t, g.tp.URL("s02")+"/cam02/index.m3u8"); code != 200 {
		t.Errorf("owner answered %d", code)
	}
	// No live peer captures it: 503 with a reason.
	g.node("s02").Kill()
	testkit.Eventually(t, clusterStale+5*time.Second, "cam02 moved off the dead s02", func() bool {
		caps := g.captures("s02")
		return len(caps["cam02"]) == 1
	})
	code, body := testkit.Get(t, g.tp.URL("s01")+"/nosuch/index.m3u8")
	if code != 404 {
		t.Errorf("unknown stream: %d %s", code, body)
	}
	// s01 may learn of s02's death for solo a heartbeat after cam02 moved:
	// until then it redirects to the dead node, so the answer is polled
	// without following redirects.
	want := "stream solo: no live peer captures it now\n"
	testkit.Eventually(t, clusterStale+5*time.Second, "s01 to answer 503 for solo", func() bool {
		resp, err := noFollow.Get(g.tp.URL("s01") + "/solo/index.m3u8")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 503 && string(b) == want
	})
}

// A balancer plugin built by the test places every stream on s02 and is
// obeyed; when it is killed, the node keeps the last placement and
// restarts it.
func TestClusterIngestThirdPartyBalancer(t *testing.T) {
	plugin := filepath.Join(t.TempDir(), "onepeer")
	if out, err := exec.Command("go", "build", "-o", plugin, "./testdata/onepeer").CombinedOutput(); err != nil {
		t.Fatalf("build the test balancer: %v\n%s", err, out)
	}
	g := startGroup(t, 3, 6, map[string]string{"cam01": "s01"}, fmt.Sprintf("[plugins]\nbalancer = %q\n", plugin), nil)
	testkit.Eventually(t, 15*time.Second, "every stream on s02", func() bool {
		ok, _ := placedOnce(g.captures(), 6, []string{"s02"}, 6, 6)
		return ok
	})
	for _, peer := range []string{"s01", "s03"} {
		if pid := testkit.ChildPID(t, g.node(peer).Cmd.Process.Pid, plugin); pid > 0 {
			testkit.KillPID(t, pid)
		}
	}
	testkit.Eventually(t, 10*time.Second, "the balancer restarted", func() bool {
		return testkit.Metric(t, g.tp.URL("s01"), "edge_plugin_restarts_total", "plugin=balancer") == 1
	})
	if ok, why := placedOnce(g.captures(), 6, []string{"s02"}, 6, 6); !ok {
		t.Errorf("placement changed while the balancer was down: %s", why)
	}
}
