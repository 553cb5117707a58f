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
	script := browserScript(t, "overview.mjs")
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

	shot := filepath.Join(t.ArtifactDir(), "overview.png")
	cmd := exec.Command("node", script, "--url", node.URL+"/", "--stream", "cam",
		"--click-at", fmt.Sprint(clickAt), "--screenshot", shot)
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("node overview.mjs: %v\n%s", err, outb)
	}
	var run overviewRun
	if err := json.Unmarshal(outb, &run); err != nil {
		t.Fatalf("overview.mjs printed %q: %v", outb, err)
	}
	t.Logf("overview.mjs: %s", outb)
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 1000 {
		t.Errorf("no screenshot at %s: %v", shot, err)
	} else {
		t.Logf("screenshot: %s", shot)
	}
	if !run.OK {
		t.Fatalf("the page did not do its job: %s", run.Error)
	}
	if len(run.Console) > 0 || len(run.Failed) > 0 {
		t.Errorf("console errors %q, failed requests %q; want none", run.Console, run.Failed)
	}

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
