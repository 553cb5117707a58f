package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
)

// overviewRun is what internal/browser/overview.mjs prints.
type overviewRun struct {
	OK      bool        `json:"ok"`
	Error   string      `json:"error"`
	Console []string    `json:"console"`
	Failed  []string    `json:"failed"`
	Streams []string    `json:"streams"`
	Ranges  [][2]int64  `json:"ranges"`
	Gaps    [][2]int64  `json:"gaps"`
	Axis    [2]int64    `json:"axis"`
	Live    *playSample `json:"live"`
	Archive *playSample `json:"archive"`
	// --nodes mode: the node and stream tables, cell by cell.
	NodeRows   []pageRow `json:"nodeRows"`
	StreamRows []pageRow `json:"streamRows"`
	PluginRows []pageRow `json:"pluginRows"`
	// --replication mode: the replication table.
	ReplicationRows []replicationRow `json:"replicationRows"`
}

type pageRow struct {
	Name  string   `json:"name"`
	Cells []string `json:"cells"`
}

// runOverview runs overview.mjs with args and a screenshot named shot in
// the test's artifact directory, and fails the test unless the page did
// its job with no console error and no failed request.
func runOverview(t *testing.T, shot string, args ...string) overviewRun {
	t.Helper()
	path := filepath.Join(t.ArtifactDir(), shot)
	cmd := exec.Command("node", append(append([]string{browserScript(t, "overview.mjs")}, args...), "--screenshot", path)...)
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("node overview.mjs: %v\n%s", err, outb)
	}
	var run overviewRun
	if err := json.Unmarshal(outb, &run); err != nil {
		t.Fatalf("overview.mjs printed %q: %v", outb, err)
	}
	t.Logf("overview.mjs: %s", outb)
	if fi, err := os.Stat(path); err != nil || fi.Size() < 1000 {
		t.Errorf("no screenshot at %s: %v", path, err)
	} else {
		t.Logf("screenshot: %s", path)
	}
	if !run.OK {
		t.Fatalf("the page did not do its job: %s", run.Error)
	}
	if len(run.Console) > 0 || len(run.Failed) > 0 {
		t.Errorf("console errors %q, failed requests %q; want none", run.Console, run.Failed)
	}
	return run
}

type playSample struct {
	Start       float64  `json:"start"`
	End         float64  `json:"end"`
	PlayingDate *float64 `json:"playingDate"`
	URL         string   `json:"url"`
}

// browserScript returns the path of a node script of internal/browser,
// failing when its npm packages are missing.
func browserScript(t *testing.T, name string) string {
	t.Helper()
	testkit.Need(t, "node", "chromium")
	dir, err := filepath.Abs("../../internal/browser")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		t.Fatalf("playwright-core is not installed: run `npm ci` in %s (scripts/test.sh does)", dir)
	}
	return filepath.Join(dir, name)
}

// TestOverviewInBrowser opens a node's web overview in headless Chromium:
// the page loads with no console error, lists the streams of the topology,
// plays one live with the node's own hls.js, draws its DVR timeline with the
// gap a network outage left, and a click on the timeline plays the archive
// from that moment.
func TestOverviewInBrowser(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg")
	tp := newTopo(t)
	port := testkit.FreeUDPPort(t)
	tp.stream("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)}, `source_timeout = "2s"`, `segment_duration = "1s"`, tp.dvr(""))
	tp.stream("idle", []string{fmt.Sprintf("udp://127.0.0.1:%d", testkit.FreeUDPPort(t))}, tp.dvr(""))
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)
	relay := testkit.StartRelay(t, fmt.Sprintf("127.0.0.1:%d", port))
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", relay.Port), testkit.SenderOptions{})

	type status []struct {
		Ranges []struct{ From, Duration int64 } `json:"ranges"`
	}
	ranges := func() status {
		var rs status
		if !testkit.JSON(node.URL+"/cam/recording_status.json", &rs) || len(rs) != 1 {
			return nil
		}
		return rs
	}
	testkit.Eventually(t, 20*time.Second, "4 s of archive", func() bool {
		rs := ranges()
		return rs != nil && len(rs[0].Ranges) == 1 && rs[0].Ranges[0].Duration >= 4
	})
	const outage = 4 * time.Second
	relay.Outage(outage)
	time.Sleep(outage)
	var rs status
	testkit.Eventually(t, 20*time.Second, "a second range after the outage", func() bool {
		rs = ranges()
		return rs != nil && len(rs[0].Ranges) == 2 && rs[0].Ranges[1].Duration >= 2
	})
	first := rs[0].Ranges[0]
	clickAt := first.From + 1

	run := runOverview(t, "overview.png", "--url", node.URL+"/", "--stream", "cam", "--click-at", fmt.Sprint(clickAt), "--advance", "2")

	// The stream list is the topology's, as /api/v1/streams has it.
	var api struct {
		Streams []struct {
			Name    string `json:"name"`
			Viewers int    `json:"viewers"`
		} `json:"streams"`
	}
	if !testkit.JSON(node.URL+"/api/v1/streams", &api) {
		t.Fatal("GET /api/v1/streams failed")
	}
	var apiNames []string
	for _, s := range api.Streams {
		apiNames = append(apiNames, s.Name)
	}
	if want := []string{"cam", "idle"}; !slices.Equal(run.Streams, want) || !slices.Equal(apiNames, want) {
		t.Errorf("page lists %v, /api/v1/streams %v; want %v", run.Streams, apiNames, want)
	}
	// The browser that played cam live is its viewer.
	if api.Streams[0].Viewers < 1 {
		t.Errorf("cam has %d viewers after the browser played it live, want at least 1", api.Streams[0].Viewers)
	}

	// The timeline shows two ranges with the outage between them.
	if len(run.Ranges) != 2 || len(run.Gaps) != 1 {
		t.Fatalf("timeline: ranges %v, gaps %v; want 2 ranges and 1 gap", run.Ranges, run.Gaps)
	}
	if run.Ranges[0][0] != first.From || run.Gaps[0][0] != run.Ranges[0][1] || run.Gaps[0][1] != run.Ranges[1][0] {
		t.Errorf("timeline ranges %v gaps %v do not match recording_status.json %v", run.Ranges, run.Gaps, rs[0].Ranges)
	}
	hole := float64(run.Gaps[0][1] - run.Gaps[0][0])
	if silence := relay.LongestSilence().Seconds(); hole < silence-1.5 || hole > silence+3 {
		t.Errorf("timeline gap of %.0f s, the node received nothing for %.1f s", hole, silence)
	}

	// Live plays near now; the click plays the archive from the moment clicked.
	if run.Live.PlayingDate == nil || run.Archive.PlayingDate == nil {
		t.Fatalf("hls.js reports no program date: live %+v, archive %+v", run.Live, run.Archive)
	}
	if !strings.Contains(run.Archive.URL, fmt.Sprintf("/cam/archive-%d-now.m3u8", clickAt)) &&
		!strings.Contains(run.Archive.URL, fmt.Sprintf("/cam/archive-%d-now.m3u8", clickAt-1)) {
		t.Errorf("the click played %s, want the archive from %d", run.Archive.URL, clickAt)
	}
	if d := *run.Archive.PlayingDate - float64(clickAt); d < -1 || d > 4 {
		t.Errorf("archive plays at %.1f, %.1f s from the moment clicked (%d)", *run.Archive.PlayingDate, d, clickAt)
	}
	if *run.Live.PlayingDate < float64(rs[0].Ranges[1].From) {
		t.Errorf("live plays at %.1f, before the second range (%d)", *run.Live.PlayingDate, rs[0].Ranges[1].From)
	}
}

// TestOverviewClusterInBrowser opens the overview of a cluster-ingest peer:
// its node table shows both peers alive, its stream table where each
// stream runs; once the other peer is killed, the table shows it dead and
// its stream running here.
func TestOverviewClusterInBrowser(t *testing.T) {
	t.Parallel()
	g := startGroup(t, 2, 2, map[string]string{"cam01": "s01", "cam02": "s02"}, "", nil)
	s01 := g.tp.URL("s01")
	placed := func(want map[string]string) func() bool {
		return func() bool {
			var v clusterView
			if !testkit.JSON(s01+"/api/v1/cluster", &v) {
				return false
			}
			for _, s := range v.Streams {
				if w, ok := want[s.Name]; ok && strings.Join(s.CapturedAt, ",") != w {
					return false
				}
			}
			return len(v.Streams) == len(want)
		}
	}
	testkit.Eventually(t, 30*time.Second, "cam01 on s01, cam02 on s02", placed(map[string]string{"cam01": "s01", "cam02": "s02"}))

	cell := func(rows []pageRow, name string, i int) string {
		for _, r := range rows {
			if r.Name == name && i < len(r.Cells) {
				return r.Cells[i]
			}
		}
		return ""
	}
	run := runOverview(t, "cluster.png", "--url", s01+"/", "--nodes", "2")
	for _, p := range []string{"s01", "s02"} {
		if got := cell(run.NodeRows, p, 1); got != "alive" {
			t.Errorf("node table: %s is %q, want alive (rows %v)", p, got, run.NodeRows)
		}
	}
	var plugins []string
	for _, r := range run.PluginRows {
		plugins = append(plugins, r.Name+":"+r.Cells[4])
	}
	if got, want := strings.Join(plugins, " "), "balancer:0 dvrstore:0 udp:0"; got != want {
		t.Errorf("plugin table %q (name:restarts), want %q", got, want)
	}
	if !strings.Contains(cell(run.NodeRows, "s01", 0), "this node") {
		t.Errorf("node table does not mark s01 as this node: %v", run.NodeRows)
	}
	if a, b := cell(run.StreamRows, "cam01", 1), cell(run.StreamRows, "cam02", 1); a != "s01" || b != "s02" {
		t.Errorf("stream table: cam01 runs at %q, cam02 at %q; want s01 and s02", a, b)
	}

	g.node("s02").Kill()
	testkit.Eventually(t, 30*time.Second, "cam02 moved to s01", placed(map[string]string{"cam01": "s01", "cam02": "s01"}))
	run = runOverview(t, "cluster-s02-dead.png", "--url", s01+"/", "--nodes", "2")
	if got := cell(run.NodeRows, "s02", 1); got != "dead" {
		t.Errorf("node table after s02 was killed: s02 is %q, want dead", got)
	}
	if b := cell(run.StreamRows, "cam02", 1); b != "s01" {
		t.Errorf("stream table after s02 was killed: cam02 runs at %q, want s01", b)
	}
}
