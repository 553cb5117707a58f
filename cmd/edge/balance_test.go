package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
)

// viewerGet asks url as the viewer agent; follow says whether redirects
// are followed. It returns the status, the final URL, the Location of a
// 302 (not followed), the body and how many redirects were followed.
func viewerGet(t *testing.T, url, agent string, follow bool) (code int, final, location, body string, hops int) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(_ *http.Request, via []*http.Request) error {
		if !follow {
			return http.ErrUseLastResponse
		}
		hops = len(via)
		return nil
	}}
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", agent)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Request.URL.String(), resp.Header.Get("Location"), string(b), hops
}

// Seed 001's evening peak: the primary records a stream, a secondary
// restreams it live from the primary, and the primary, with viewer_limit 1,
// sends its second viewer to the secondary once; the secondary, itself at
// its limit, serves the balanced viewer and never sends it back. With the
// built-in balancer, and with a third-party one that has no
// ChooseViewerPeer (the host applies the built-in rule).
func TestViewerBalancing(t *testing.T) {
	testkit.Need(t, "ffprobe")
	t.Run("builtin", func(t *testing.T) { testViewerBalancing(t, "") })
	t.Run("third-party without ChooseViewerPeer", func(t *testing.T) {
		plugin := filepath.Join(t.TempDir(), "onepeer")
		if out, err := exec.Command("go", "build", "-o", plugin, "./testdata/onepeer").CombinedOutput(); err != nil {
			t.Fatalf("build the test balancer: %v\n%s", err, out)
		}
		testViewerBalancing(t, fmt.Sprintf("[plugins]\nbalancer = %q\n", plugin))
	})
}

func testViewerBalancing(t *testing.T, plugins string) {
	sample, err := filepath.Abs("../../examples/topologies/sample.ts")
	if err != nil {
		t.Fatal(err)
	}
	tp := testkit.NewTopology(t, "balance-test-key")
	tp.Node(t, "primary", "viewer_limit = 1",
		testkit.StreamBlock("tv", []string{"file://" + sample}, `segment_duration = "1s"`, `dvr = { root = "dvr" }`))
	tp.Node(t, "secondary", "viewer_limit = 1",
		testkit.StreamBlock("tv", []string{"m4f://primary/tv"}))
	path := testkit.WriteFile(t, tp.Dir, "topology.toml", strings.Replace(readTopology(t, tp), "\n[[node]]",
		fmt.Sprintf("\n%s[cluster]\npeers = [\"primary\", \"secondary\"]\nfetch_timeout = %q\nstale_timeout = %q\n\n[[node]]", plugins, clusterFetch, clusterStale), 1))
	if out, err := exec.Command(testkit.Edge(t), "check", path).CombinedOutput(); err != nil {
		t.Fatalf("edge check: %v\n%s", err, out)
	}
	tp.Start(t, path, "primary")
	tp.Start(t, path, "secondary")
	primary, secondary := tp.URL("primary"), tp.URL("secondary")

	// The first viewer plays on the primary.
	testkit.Eventually(t, 20*time.Second, "tv live on the primary for the first viewer", func() bool {
		code, _, _, body, _ := viewerGet(t, primary+"/tv/index.m3u8", "viewer-1", false)
		return code == 200 && strings.Contains(body, "#EXTINF")
	})
	// Once the primary's poll sees the secondary serving tv (a fresh
	// viewer each try: a viewer served once is not balanced later), a new
	// viewer gets one 302 to the secondary, same path and query plus the
	// marker.
	try := 0
	testkit.Eventually(t, 20*time.Second, "a new viewer of the primary redirected", func() bool {
		try++
		code, _, _, _, _ := viewerGet(t, primary+"/tv/index.m3u8?token=x", fmt.Sprintf("probe-%d", try), false)
		return code == http.StatusFound
	})
	code, _, loc, _, _ := viewerGet(t, primary+"/tv/index.m3u8?token=x", "viewer-2", false)
	if want := secondary + "/tv/index.m3u8?token=x&edge_balanced=1"; code != http.StatusFound || loc != want {
		t.Fatalf("second viewer on the primary: %d Location %q, want 302 to %s", code, loc, want)
	}
	// The same request carrying the marker is served on the primary,
	// although the secondary is still free.
	if code, _, loc, _, _ := viewerGet(t, primary+"/tv/index.m3u8?token=x&edge_balanced=1", "viewer-2m", false); code != 200 {
		t.Errorf("marked request on the primary: %d Location %q, want 200", code, loc)
	}
	// Followed: exactly one redirect, then a live playlist from the
	// secondary.
	code, final, _, body, hops := viewerGet(t, primary+"/tv/index.m3u8", "viewer-3", true)
	if code != 200 || hops != 1 || !strings.HasPrefix(final, secondary+"/") || !strings.Contains(body, "#EXTINF") {
		t.Fatalf("viewer-3 following: %d after %d redirects at %s\n%s", code, hops, final, body)
	}
	// The secondary now has a viewer, so it is at its own limit; a balanced
	// request is still served there, not sent back, and plays.
	code, _, loc, _, _ = viewerGet(t, secondary+"/tv/index.m3u8?edge_balanced=1", "viewer-4", false)
	if code != 200 {
		t.Errorf("secondary at its limit answered a balanced viewer %d (Location %q), want 200", code, loc)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", final).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "h264") {
		t.Errorf("ffprobe %s: %v\n%s", final, err, out)
	}
	// A known viewer stays where it is.
	if code, _, loc, _, _ := viewerGet(t, primary+"/tv/index.m3u8", "viewer-1", false); code != 200 {
		t.Errorf("first viewer reloading: %d Location %q, want 200", code, loc)
	}
	// With the secondary at its limit too, no peer is less loaded: the
	// primary serves new viewers itself.
	testkit.Eventually(t, 5*time.Second, "the primary keeps new viewers once the secondary is full", func() bool {
		try++
		code, _, _, _, _ := viewerGet(t, primary+"/tv/index.m3u8", fmt.Sprintf("late-%d", try), false)
		return code == 200
	})
}

// readTopology is the file tp would write.
func readTopology(t *testing.T, tp *testkit.Topology) string {
	b, err := os.ReadFile(tp.Write(t))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
