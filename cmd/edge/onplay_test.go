package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
)

// playBackend is an on_play backend: it allows token allow (with the
// default session lifetime) and "short" (X-AuthDuration: 2), denies the
// others, and remembers every call's query.
type playBackend struct {
	*httptest.Server
	allow string
	mu    sync.Mutex
	calls []map[string]string
}

func newPlayBackend(t *testing.T, allow string) *playBackend {
	b := &playBackend{allow: allow}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := map[string]string{}
		for k, v := range r.URL.Query() {
			q[k] = v[0]
		}
		b.mu.Lock()
		b.calls = append(b.calls, q)
		b.mu.Unlock()
		switch q["token"] {
		case b.allow:
		case "short":
			w.Header().Set("X-AuthDuration", "2")
		default:
			http.Error(w, "denied", http.StatusForbidden)
		}
	}))
	t.Cleanup(b.Close)
	return b
}

// count is how many calls matched every given key=value.
func (b *playBackend) count(kv ...string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, q := range b.calls {
		ok := true
		for _, p := range kv {
			k, v, _ := strings.Cut(p, "=")
			ok = ok && q[k] == v
		}
		if ok {
			n++
		}
	}
	return n
}

var sessionURI = regexp.MustCompile(`(?m)^session-[0-9a-f]{32}/s-[0-9]+\.m4s$`)

func getAuth(t *testing.T, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestOnPlayAndAdmin runs an origin that records a stream behind an
// on_play backend and an admin_key, and an edge that restreams it behind
// its own backend: the allowed token plays live and archive in ffprobe
// and hls.js with one backend call per session, other tokens get 403, a
// copied segment URL dies with its session (X-AuthDuration), the edge's viewers never
// reach the origin's backend, and with the backend down new viewers get
// the documented 503 while recording goes on.
func TestOnPlayAndAdmin(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	testkit.NeedBrowser(t)
	sample, err := filepath.Abs("../../examples/topologies/sample.ts")
	if err != nil {
		t.Fatal(err)
	}
	const adminKey = "test-admin-key-0123456789"
	origin, edge := newPlayBackend(t, "good"), newPlayBackend(t, "edgetoken")
	dir := t.TempDir()
	ol := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	ml := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	el := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	topo := fmt.Sprintf(`cluster_key = "k"
admin_key = %q

[[node]]
name = "origin"
listen = %q
metrics_listen = %q
on_play = %q

  [[node.stream]]
  name = "sample"
  inputs = ["file://%s"]
  segment_duration = "1s"
  dvr = { root = %q }

[[node]]
name = "edge"
listen = %q

  [[node.source]]
  url = "m4f://origin"
  on_play = %q
`, adminKey, ol, ml, origin.URL+"/auth?site=a", sample, filepath.Join(dir, "dvr"), el, edge.URL)
	path := testkit.WriteFile(t, dir, "topology.toml", topo)
	on := testkit.StartNode(t, path, "origin", ol)
	en := testkit.StartNode(t, path, "edge", el)
	metrics := "http://" + ml

	// Admin surfaces: the credential or nothing.
	for _, u := range []string{on.URL + "/api/v1/streams", on.URL + "/metrics", on.URL + "/", en.URL + "/api/v1/node"} {
		if c := getAuth(t, u, ""); c != 401 {
			t.Errorf("GET %s without the admin_key: %d, want 401", u, c)
		}
		if c := getAuth(t, u, "wrong-key-0123456789"); c != 401 {
			t.Errorf("GET %s with a wrong key: %d, want 401", u, c)
		}
		if c := getAuth(t, u, adminKey); c != 200 {
			t.Errorf("GET %s with the admin_key: %d, want 200", u, c)
		}
	}
	if c, _ := testkit.Get(t, metrics+"/metrics"); c != 200 {
		t.Errorf("metrics_listen: %d, want 200", c)
	}
	if out := on.Output() + en.Output(); strings.Contains(out, adminKey) {
		t.Errorf("a node logged the admin_key")
	}

	// Live with the allowed token.
	base := on.URL + "/sample/"
	var pl []byte
	testkit.Eventually(t, 30*time.Second, "a live playlist in a session", func() bool {
		var c int
		c, pl = testkit.Get(t, base+"index.m3u8?token=good")
		return c == 200 && sessionURI.Match(pl)
	})
	seg := sessionURI.FindString(string(pl))
	if c, _ := testkit.Get(t, base+seg); c != 200 {
		t.Fatalf("segment %s of the session: %d", seg, c)
	}
	pr := testkit.FFprobe(t, base+"index.m3u8?token=good")
	if codec, _, _, _ := pr.Video(); codec != "h264" || !pr.HasAudio("aac") {
		t.Fatalf("live: ffprobe sees %+v", pr.Streams)
	}
	assertPlayed(t, "live with a token", testkit.Play(t, base+"index.m3u8?token=good", testkit.PlayOptions{}))

	// Archive with the allowed token.
	var from int64
	testkit.Eventually(t, 90*time.Second, "25 s of archive", func() bool {
		var rs []struct {
			Ranges []struct{ From, Duration int64 } `json:"ranges"`
		}
		if !testkit.JSON(base+"recording_status.json?token=good", &rs) || len(rs) != 1 || len(rs[0].Ranges) == 0 {
			return false
		}
		from = rs[0].Ranges[0].From + 1
		return rs[0].Ranges[0].Duration >= 25
	})
	vod := fmt.Sprintf("%sarchive-%d-20.m3u8?token=good", base, from)
	if d := testkit.FFprobe(t, vod).Duration(); d < 18 || d > 22 {
		t.Errorf("archive: ffprobe duration %.1f, want 20 ± 2", d)
	}
	assertPlayed(t, "archive with a token", testkit.Play(t, vod, testkit.PlayOptions{}))

	// One backend call per session: Go, ffprobe and Chromium all come from
	// 127.0.0.1 with the same token, so every HLS request of the allowed
	// viewer, live and archive, playlists and segments, was one session.
	if n := origin.count("proto=hls", "token=good"); n != 1 {
		t.Errorf("the backend saw %d HLS calls for one session, want 1", n)
	}
	if n := origin.count("site=a", "name=sample", "ip=127.0.0.1", "token=good", "proto=hls"); n != 1 {
		t.Errorf("the backend's call lacks a parameter: %v", origin.calls)
	}
	if n := testkit.Metric(t, metrics, "edge_on_play_sessions_total", "result=allowed"); n != 2 {
		t.Errorf("allowed sessions %v, want 2 (hls, recording_status)", n)
	}

	// Denied and missing tokens.
	for _, u := range []string{base + "index.m3u8?token=bad", base + "index.m3u8", vod[:strings.Index(vod, "?")] + "?token=bad",
		base + "recording_status.json", base + seg[strings.Index(seg, "/")+1:]} {
		if c, _ := testkit.Get(t, u); c != 403 {
			t.Errorf("GET %s: %d, want 403", u, c)
		}
	}
	// A segment URL copied from a viewer's playlist dies with its session
	// (X-AuthDuration 2 s, unused from then on; the sweep drops it within
	// 10 s).
	c, pl := testkit.Get(t, base+"index.m3u8?token=short")
	short := sessionURI.FindString(string(pl))
	if c != 200 || short == "" {
		t.Fatalf("token short: %d\n%s", c, pl)
	}
	if c, _ := testkit.Get(t, base+short); c != 200 {
		t.Fatalf("segment %s in the short session: %d", short, c)
	}
	held := testkit.Metric(t, metrics, "edge_on_play_sessions")
	testkit.Eventually(t, 30*time.Second, "the short session to expire", func() bool {
		return testkit.Metric(t, metrics, "edge_on_play_sessions") < held
	})
	if c, _ := testkit.Get(t, base+short); c != 403 {
		t.Errorf("segment URL of an expired session: %d, want 403", c)
	}
	if c, _ := testkit.Get(t, base+seg); c != 200 {
		t.Errorf("segment URL of the live session: %d, want 200", c)
	}

	// The edge asks its own backend; the origin's never sees its viewers.
	testkit.Eventually(t, 30*time.Second, "live on the edge", func() bool {
		c, b := testkit.Get(t, en.URL+"/sample/index.m3u8?token=edgetoken")
		return c == 200 && sessionURI.Match(b)
	})
	if c, _ := testkit.Get(t, en.URL+"/sample/index.m3u8?token=good"); c != 403 {
		t.Errorf("the origin's token on the edge: %d, want 403", c)
	}
	if n := origin.count("token=edgetoken"); n != 0 {
		t.Errorf("the origin's backend saw %d calls with the edge's token", n)
	}
	if n := edge.count("token=edgetoken", "name=sample"); n != 1 {
		t.Errorf("the edge's backend saw %d calls, want 1", n)
	}

	// Backend down: new viewers get 503 (on_play_failure = deny), a viewer
	// whose session lives keeps watching, and recording goes on.
	origin.Close()
	written := testkit.Metric(t, metrics, "edge_dvr_segments_written_total")
	for i := range 3 {
		if c, b := testkit.Get(t, fmt.Sprintf("%sindex.m3u8?token=new%d", base, i)); c != 503 {
			t.Errorf("backend down: %d %s, want 503", c, b)
		}
	}
	if c, _ := testkit.Get(t, base+"index.m3u8?token=good"); c != 200 {
		t.Errorf("backend down: the live session's playlist: %d, want 200", c)
	}
	testkit.Eventually(t, 20*time.Second, "recording to go on", func() bool {
		return testkit.Metric(t, metrics, "edge_dvr_segments_written_total") >= written+3
	})
	if strings.Contains(on.Output(), "token=") {
		t.Errorf("a viewer's token reached the origin's log")
	}
	if n := strings.Count(on.Output(), "on_play backend failed"); n != 1 {
		t.Errorf("the failing backend was logged %d times for one burst, want 1", n)
	}
}
