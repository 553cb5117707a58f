package cluster

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// peerServer answers signed polls as node name would, with capturing.
type peerServer struct {
	*httptest.Server
	name      string
	key       string
	capturing atomic.Value // []string
	calls     atomic.Int64
}

func newPeerServer(t *testing.T, name, key string, capturing ...string) *peerServer {
	ps := &peerServer{name: name, key: key}
	ps.capturing.Store(capturing)
	ps.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.calls.Add(1)
		if _, err := (Verifier{Key: ps.key}).Verify(r.Method, r.RequestURI, r.Header.Get); err != nil || r.URL.Path != StatePath {
			http.Error(w, "refused", http.StatusForbidden)
			return
		}
		json.NewEncoder(w).Encode(State{Node: ps.name, PublicURL: "http://" + ps.name, Capturing: ps.capturing.Load().([]string)})
	}))
	t.Cleanup(ps.Close)
	return ps
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func peerByName(ps []PeerState, name string) PeerState {
	for _, p := range ps {
		if p.Name == name {
			return p
		}
	}
	return PeerState{}
}

func TestPeersAliveStaleAndRefused(t *testing.T) {
	good := newPeerServer(t, "b", "k", "cam1", "cam2")
	wrongKey := newPeerServer(t, "c", "other")
	impostor := newPeerServer(t, "x", "k")
	// A peer that never answers: a listener nobody accepts on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p, err := NewPeers(PeersConfig{
		Self: "a", Key: "k", FetchTimeout: 100 * time.Millisecond, StaleTimeout: 400 * time.Millisecond,
		Peers: map[string]string{"b": good.URL, "c": wrongKey.URL, "d": impostor.URL, "e": "http://" + ln.Addr().String()},
		Local: func() State { return State{Node: "a", Capturing: []string{"cam3"}} },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// Right after start, silent peers are unknown, not dead.
	if s := peerByName(p.Snapshot(), "e"); s.Known || s.Alive {
		t.Errorf("silent peer right after start: known %v alive %v, want unknown", s.Known, s.Alive)
	}
	waitFor(t, 2*time.Second, "b alive", func() bool { return peerByName(p.Snapshot(), "b").Alive })
	waitFor(t, 2*time.Second, "every peer known", func() bool {
		for _, s := range p.Snapshot() {
			if !s.Known {
				return false
			}
		}
		return true
	})
	snap := p.Snapshot()
	for _, tc := range []struct {
		name  string
		alive bool
		err   string
	}{{"a", true, ""}, {"b", true, ""}, {"c", false, "403"}, {"d", false, `answered as node "x"`}, {"e", false, "deadline"}} {
		s := peerByName(snap, tc.name)
		if s.Alive != tc.alive || !strings.Contains(s.Error, tc.err) {
			t.Errorf("peer %s: alive %v error %q, want alive %v and an error with %q", tc.name, s.Alive, s.Error, tc.alive, tc.err)
		}
	}
	if b := peerByName(snap, "b"); !b.State.Captures("cam2") || b.State.Captures("cam3") {
		t.Errorf("b's state %+v", b.State)
	}
	if a := peerByName(snap, "a"); !a.Self || !a.State.Captures("cam3") {
		t.Errorf("own entry %+v", a)
	}

	// A change of what b captures is signalled.
	for len(p.Changed()) > 0 {
		<-p.Changed()
	}
	good.capturing.Store([]string{"cam1"})
	select {
	case <-p.Changed():
	case <-time.After(2 * time.Second):
		t.Fatal("no change signalled")
	}
	// b goes silent: stale after StaleTimeout.
	good.Close()
	went := time.Now()
	waitFor(t, 2*time.Second, "b stale", func() bool { return !peerByName(p.Snapshot(), "b").Alive })
	if d := time.Since(went); d > 400*time.Millisecond+300*time.Millisecond {
		t.Errorf("b taken for dead after %v, stale_timeout 400ms", d)
	}
}

func TestParseState(t *testing.T) {
	for _, tc := range []struct {
		name, in, err string
	}{
		{"ok", `{"node":"a","public_url":"http://x","capturing":["c1","c2"],"load":{"streams":2}}`, ""},
		{"no node", `{"capturing":[]}`, "bad node name"},
		{"unsorted", `{"node":"a","capturing":["c2","c1"]}`, "sorted"},
		{"duplicate", `{"node":"a","capturing":["c1","c1"]}`, "sorted"},
		{"negative", `{"node":"a","load":{"streams":-1}}`, "negative"},
		{"serving", `{"node":"a","serving":["c1","c3"],"load":{"watchers":4}}`, ""},
		{"serving unsorted", `{"node":"a","serving":["c3","c1"]}`, "serving is not a sorted"},
		{"negative watchers", `{"node":"a","load":{"watchers":-1}}`, "negative"},
		{"not json", `<html>`, "decode"},
		{"node with space", `{"node":"a b"}`, "bad node name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseState([]byte(tc.in))
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("ParseState(%s) = %v, want error with %q", tc.in, err, tc.err)
			}
		})
	}
}

// FuzzParseState: a peer's answer never panics the parser, and what it
// accepts is a sorted list that Captures finds.
func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"node":"a","public_url":"http://x","capturing":["c1","c2"],"load":{"streams":2,"viewers":1,"bytes_out":5}}`))
	f.Add([]byte(`{"node":"","capturing":null}`))
	f.Add([]byte(`{"node":"a","capturing":["b","a"]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"node":"a","serving":["c1","c3"],"load":{"watchers":4}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseState(b)
		if err != nil {
			return
		}
		for _, c := range s.Capturing {
			if !s.Captures(c) {
				t.Fatalf("accepted state does not find %q", c)
			}
		}
		for _, c := range s.Serving {
			if !s.Serves(c) {
				t.Fatalf("accepted state does not find served %q", c)
			}
		}
	})
}
