package cluster

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// buggyTransport panics on every round trip, as a bug met on a peer's
// answer would.
type buggyTransport struct{}

func (buggyTransport) RoundTrip(*http.Request) (*http.Response, error) {
	var m map[string]bool
	m["x"] = true
	return nil, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPollPanics: a panic while polling a peer is that poll's error
// (logged with its stack); the poller goes on polling.
func TestPollPanics(t *testing.T) {
	var logs lockedBuffer
	p, err := NewPeers(PeersConfig{
		Self: "a", Key: "k", FetchTimeout: 50 * time.Millisecond, StaleTimeout: 200 * time.Millisecond,
		Peers:  map[string]string{"b": "http://127.0.0.1:1"},
		Local:  func() State { return State{Node: "a"} },
		Client: &http.Client{Transport: buggyTransport{}},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitFor(t, 2*time.Second, "two failed polls of b", func() bool {
		return strings.Count(logs.String(), "panic recovered") >= 2
	})
	b := peerByName(p.Snapshot(), "b")
	if b.Alive || !strings.Contains(b.Error, "panic in cluster poll of b") {
		t.Fatalf("peer b: alive %v error %q", b.Alive, b.Error)
	}
	if out := logs.String(); !strings.Contains(out, "where=cluster_poll") || !strings.Contains(out, "buggyTransport.RoundTrip") {
		t.Fatalf("log lacks where or stack:\n%s", out)
	}
}
