package proxy

import (
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/edgedvr/edge/cluster"
)

// clusterTestBackend is a peer of a cluster-ingest group: "here" is
// captured on this node, "there" on a peer, "nowhere" by no live peer.
type clusterTestBackend struct{ testBackend }

func (clusterTestBackend) ClusterState() cluster.State {
	return cluster.State{Node: "s01", Capturing: []string{"here"}}
}

func (clusterTestBackend) ClusterOverview() any { return map[string]string{"node": "s01"} }

func (clusterTestBackend) Locate(stream string) (string, error) {
	switch stream {
	case "there":
		return "http://127.0.0.9:8082", nil
	case "nowhere":
		return "", errors.New("stream nowhere: no live peer captures it now")
	}
	return "", ErrServedHere
}

func TestClusterRoutes(t *testing.T) {
	b := &clusterTestBackend{testBackend{streams: map[string]*testStream{"here": {name: "here"}, "there": {name: "there"}}}}
	_, url := startServer(t, Config{Backend: b, ClusterKey: testClusterKey, Node: "s01"})
	for _, tc := range []struct {
		name, path string
		status     int
		location   string
		body       string
	}{
		{"captured elsewhere: live", "/there/index.m3u8?token=x&a=%20", 302, "http://127.0.0.9:8082/there/index.m3u8?token=x&a=%20", ""},
		{"captured elsewhere: export", "/there/archive-1700000000-60.mp4", 302, "http://127.0.0.9:8082/there/archive-1700000000-60.mp4", ""},
		{"captured elsewhere: status", "/there/recording_status.json", 302, "http://127.0.0.9:8082/there/recording_status.json", ""},
		{"no live owner", "/nowhere/index.m3u8", 503, "", "stream nowhere: no live peer captures it now\n"},
		{"unknown stream", "/other/index.m3u8", 404, "", "unknown stream other\n"},
		{"served here", "/here/recording_status.json", 200, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", url+tc.path, nil)
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location || (tc.body != "" && body != tc.body) {
				t.Errorf("GET %s: %d Location %q body %q, want %d %q %q", tc.path, resp.StatusCode, resp.Header.Get("Location"), body, tc.status, tc.location, tc.body)
			}
		})
	}
	// The overview, and the signed poll: refused unsigned, answered signed.
	resp, body := get(t, "GET", url+"/api/v1/cluster")
	if resp.StatusCode != 200 || string(body) != `{"node":"s01"}`+"\n" {
		t.Errorf("/api/v1/cluster: %d %s", resp.StatusCode, body)
	}
	resp, _ = get(t, "GET", url+cluster.StatePath)
	if resp.StatusCode != 403 {
		t.Errorf("unsigned poll: %d, want 403", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", url+cluster.StatePath, nil)
	cluster.Signer{Node: "s02", Key: testClusterKey}.SignRequest(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	st, err := cluster.ParseState([]byte(readAll(t, resp)))
	if resp.StatusCode != 200 || err != nil || st.Node != "s01" || !st.Captures("here") {
		t.Errorf("signed poll: %d %+v %v", resp.StatusCode, st, err)
	}
	// A node outside the group answers neither.
	_, plain := startServer(t, Config{Backend: &b.testBackend, ClusterKey: testClusterKey, Node: "x"})
	req, _ = http.NewRequest("GET", plain+cluster.StatePath, nil)
	cluster.Signer{Node: "s02", Key: testClusterKey}.SignRequest(req)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 404 {
		t.Errorf("poll of a node outside the group: %v %v", resp.StatusCode, err)
	}
	if resp, _ := get(t, "GET", plain+"/api/v1/cluster"); resp.StatusCode != 404 {
		t.Errorf("/api/v1/cluster outside the group: %d", resp.StatusCode)
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
