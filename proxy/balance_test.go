package proxy

import (
	"net/http"
	"testing"
	"time"
)

// balancingTestBackend balances viewers past one, to a fixed peer.
type balancingTestBackend struct {
	testBackend
	asked []int64
}

func (b *balancingTestBackend) ViewerLimit() int64 { return 1 }

func (b *balancingTestBackend) BalanceViewer(stream string, watchers int64) (string, bool) {
	b.asked = append(b.asked, watchers)
	return "http://127.0.0.9:8082", true
}

func TestBalanceViewer(t *testing.T) {
	b := &balancingTestBackend{testBackend: testBackend{streams: map[string]*testStream{"cam": {name: "cam"}}}}
	_, url := startServer(t, Config{Backend: b, ClusterKey: testClusterKey, Node: "s01"})
	for _, tc := range []struct {
		name, agent, path string
		location          string // "" when served here
	}{
		{"first viewer is served", "one", "/cam/index.m3u8", ""},
		{"a known viewer is served", "one", "/cam/index.m3u8", ""},
		{"a new viewer over the limit goes", "two", "/cam/index.m3u8?token=x", "http://127.0.0.9:8082/cam/index.m3u8?token=x&edge_balanced=1"},
		{"without a query", "two", "/cam/archive-1700000000-60.m3u8", "http://127.0.0.9:8082/cam/archive-1700000000-60.m3u8?edge_balanced=1"},
		{"export", "two", "/cam/archive-1700000000-60.mp4", "http://127.0.0.9:8082/cam/archive-1700000000-60.mp4?edge_balanced=1"},
		{"the marker is served", "two", "/cam/index.m3u8?token=x&edge_balanced=1", ""},
		{"segments are never balanced", "three", "/cam/1700000000000.m4s", ""},
		{"status is never balanced", "three", "/cam/recording_status.json", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", url+tc.path, nil)
			req.Header.Set("User-Agent", tc.agent)
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			got := ""
			if resp.StatusCode == http.StatusFound {
				got = resp.Header.Get("Location")
			}
			if got != tc.location {
				t.Errorf("GET %s as %s: %d Location %q, want %q", tc.path, tc.agent, resp.StatusCode, got, tc.location)
			}
		})
	}
	// Asked only at the limit, for new viewers on balanced routes without
	// the marker, with the node's viewer count: 1 for each of "two".
	want := []int64{1, 1, 1}
	if len(b.asked) != len(want) {
		t.Fatalf("asked %v, want %v", b.asked, want)
	}
	for i := range want {
		if b.asked[i] != want[i] {
			t.Fatalf("asked %v, want %v", b.asked, want)
		}
	}
}

// The node-wide viewer count and the "already a viewer" test that
// balancing relies on.
func TestViewersTotal(t *testing.T) {
	var v viewers
	t0 := time.Unix(1_700_000_000, 0)
	v.touch("cam", "a", t0)
	v.touch("cam", "a", t0.Add(time.Second)) // the same client again
	v.touch("cam", "b", t0.Add(2*time.Second))
	v.touch("other", "a", t0.Add(2*time.Second))
	tests := []struct {
		at     time.Duration
		total  int64
		hasCam []string
	}{
		{3 * time.Second, 3, []string{"a", "b"}},
		{viewerWindow + 1500*time.Millisecond, 2, []string{"b"}}, // a stopped asking for cam
		{viewerWindow + 1800*time.Millisecond, 2, []string{"b"}}, // within totalPrune: not pruned again
		{viewerWindow + 3*time.Second, 0, nil},                   // everyone gone
		{viewerWindow + 3*time.Second + totalPrune, 0, nil},      // and stays gone
	}
	for _, tc := range tests {
		now := t0.Add(tc.at)
		if got := v.total(now); got != tc.total {
			t.Errorf("total at +%v = %d, want %d", tc.at, got, tc.total)
		}
		for _, c := range []string{"a", "b"} {
			want := false
			for _, h := range tc.hasCam {
				want = want || h == c
			}
			if got := v.has("cam", c, now); got != want {
				t.Errorf("has(cam, %s) at +%v = %v, want %v", c, tc.at, got, want)
			}
		}
	}
}
