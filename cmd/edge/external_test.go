package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
)

// testBackend is a configuration backend whose answer the test sets.
type testBackend struct {
	mu     sync.Mutex
	status int
	body   string
	delay  time.Duration
	hits   atomic.Int64
	nodes  sync.Map // the node= values asked
	// byName answers the lookups (name=A,B); nil answers no stream.
	byName  func(names string) string
	asked   map[string]int // name= values asked, counted
	askedMu sync.Mutex
}

func (b *testBackend) lookups(names string) int {
	b.askedMu.Lock()
	defer b.askedMu.Unlock()
	return b.asked[names]
}

func (b *testBackend) set(status int, body string, delay time.Duration) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.status, b.body, b.delay = status, body, delay
	return b.hits.Load()
}

func (b *testBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.nodes.Store(r.URL.Query().Get("node"), true)
	b.mu.Lock()
	status, body, delay := b.status, b.body, b.delay
	if names := r.URL.Query().Get("name"); names != "" {
		b.askedMu.Lock()
		if b.asked == nil {
			b.asked = map[string]int{}
		}
		b.asked[names]++
		b.askedMu.Unlock()
		body = `{"streams":[]}`
		if b.byName != nil {
			body = b.byName(names)
		}
	}
	b.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
	b.hits.Add(1)
}

// TestConfigExternal: the node runs the streams its configuration backend
// lists beside the file's, follows additions, changes and removals, and
// keeps its last good streams through garbage, errors, timeouts and an
// invalid stream.
func TestConfigExternal(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg")
	be := &testBackend{status: 200, body: `{"streams":[]}`}
	srv := httptest.NewServer(be)
	defer srv.Close()

	tp := newTopo(t)
	filePort, p1, p2 := testkit.FreeUDPPort(t), testkit.FreeUDPPort(t), testkit.FreeUDPPort(t)
	fmt.Fprintf(&tp.body, "config_external = { url = %q, refresh = \"1s\", timeout = \"500ms\" }\n", srv.URL+"/streams")
	tp.stream("file1", []string{fmt.Sprintf("udp://127.0.0.1:%d", filePort)})
	ext := func(segment string, withExt2 bool) string {
		s := fmt.Sprintf(`{"name":"ext1","inputs":[{"url":"udp://127.0.0.1:%d"}],"segment_duration":%q,"dvr":{"root":%q,"depth":"1h"}}`, p1, segment, tp.root)
		if withExt2 {
			s += fmt.Sprintf(`,{"name":"ext2","inputs":[{"url":"udp://127.0.0.1:%d"}]}`, p2)
		}
		return `{"streams":[` + s + `]}`
	}
	be.set(200, ext("1s", false), 0)
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", p1), testkit.SenderOptions{})

	type apiStreams struct {
		Streams []struct {
			Name           string `json:"name"`
			Live           bool   `json:"live"`
			LastFrameAgeMs *int64 `json:"last_frame_age_ms"`
		} `json:"streams"`
	}
	names := func() ([]string, bool) {
		var s apiStreams
		var out []string
		if !testkit.JSON(node.URL+"/api/v1/streams", &s) {
			return nil, false
		}
		ext1Fresh := false
		for _, st := range s.Streams {
			out = append(out, st.Name)
			if st.Name == "ext1" && st.Live && st.LastFrameAgeMs != nil && *st.LastFrameAgeMs < 2000 {
				ext1Fresh = true
			}
		}
		return out, ext1Fresh
	}
	waitFor := func(what string, want []string) {
		t.Helper()
		testkit.Eventually(t, 20*time.Second, what, func() bool {
			got, fresh := names()
			return slices.Equal(got, want) && fresh
		})
	}
	waitFor("ext1 from the backend, live", []string{"ext1", "file1"})
	if _, ok := be.nodes.Load("origin"); !ok {
		t.Errorf("the backend was not asked with node=origin")
	}

	be.set(200, ext("1s", true), 0)
	waitFor("ext2 added", []string{"ext1", "ext2", "file1"})
	be.set(200, ext("2s", true), 0)
	testkit.Eventually(t, 20*time.Second, "ext1 restarted with its new segment duration", func() bool {
		return strings.Contains(node.Output(), "restarted=[ext1]")
	})
	be.set(200, ext("2s", false), 0)
	waitFor("ext2 removed", []string{"ext1", "file1"})

	// Bad answers: each is refused, and ext1 keeps running.
	bad := []struct {
		name   string
		status int
		body   string
		delay  time.Duration
		logged string
	}{
		{"garbage", 200, `<html>oops`, 0, "answer is not"},
		{"server error", 503, `{"streams":[]}`, 0, "backend answered 503"},
		{"timeout", 200, `{"streams":[]}`, 2 * time.Second, "Client.Timeout"},
		{"invalid stream", 200, `{"streams":[{"name":"bad","inputs":[{"url":"rtmp://x/y"}]}]}`, 0, `stream #1 \"bad\"`},
		{"unknown field", 200, `{"streams":[{"name":"ext1","inputs":[{"url":"udp://127.0.0.1:1"}],"transcoder":{}}]}`, 0, "unknown field"},
		{"stream of the file", 200, fmt.Sprintf(`{"streams":[{"name":"file1","inputs":[{"url":"udp://127.0.0.1:%d"}]}]}`, p2), 0, "already a stream of the topology file"},
	}
	for _, tc := range bad {
		before := strings.Count(node.Output(), "last good streams kept")
		hits := be.set(tc.status, tc.body, tc.delay)
		testkit.Eventually(t, 15*time.Second, tc.name+": two more refreshes", func() bool { return be.hits.Load() >= hits+2 })
		out := node.Output()
		if strings.Count(out, "last good streams kept") < before+2 || !strings.Contains(out, tc.logged) {
			t.Errorf("%s: the node did not log the refusal (%q)", tc.name, tc.logged)
		}
		if got, fresh := names(); !slices.Equal(got, []string{"ext1", "file1"}) || !fresh {
			t.Errorf("%s: streams %v (ext1 live: %v), want the last good ext1 and file1 with ext1 live", tc.name, got, fresh)
		}
	}

	// A name the node does not know is looked up: the backend knows ext3,
	// which then runs while the backend confirms it; it does not know ghost.
	be.set(200, ext("2s", false), 0)
	be.mu.Lock()
	confirm := true
	be.byName = func(names string) string {
		if names == "ext3" && confirm {
			return fmt.Sprintf(`{"streams":[{"name":"ext3","inputs":[{"url":"udp://127.0.0.1:%d"}]}]}`, p2)
		}
		return `{"streams":[]}`
	}
	be.mu.Unlock()
	testkit.Get(t, node.URL+"/ext3/index.m3u8")
	waitFor("ext3 found by lookup", []string{"ext1", "ext3", "file1"})
	asked := be.lookups("ext3")
	testkit.Eventually(t, 15*time.Second, "two refreshes confirming ext3", func() bool { return be.lookups("ext3") >= asked+2 })
	if got, _ := names(); !slices.Equal(got, []string{"ext1", "ext3", "file1"}) {
		t.Errorf("streams %v while the backend confirms ext3", got)
	}
	be.mu.Lock()
	confirm = false
	be.mu.Unlock()
	waitFor("ext3 stopped once the backend no longer confirms it", []string{"ext1", "file1"})
	for range 5 {
		if code, _ := testkit.Get(t, node.URL+"/ghost/index.m3u8"); code != 404 {
			t.Errorf("GET /ghost/index.m3u8: %d, want 404", code)
		}
	}
	if n := be.lookups("ghost"); n < 1 || n > 2 {
		t.Errorf("ghost asked %d times for 5 requests within a refresh or two, want 1 or 2 (misses are remembered)", n)
	}
}
