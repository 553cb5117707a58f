package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/internal/testkit"
)

// liveViewer follows a live playlist as a player does, fetching every new
// segment, and keeps every error it meets.
type liveViewer struct {
	mu       sync.Mutex
	errs     []string
	segments int
	checker  testkit.PlaylistChecker
}

func (v *liveViewer) fail(format string, a ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.errs = append(v.errs, fmt.Sprintf(format, a...))
}

func (v *liveViewer) follow(ctx context.Context, base, stream string) {
	c := http.Client{Timeout: 5 * time.Second}
	get := func(url string) (int, []byte, error) {
		resp, err := c.Get(url)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	seen := map[string]bool{}
	path := "/" + stream + "/index.m3u8"
	for ctx.Err() == nil {
		code, body, err := get(base + path)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil || code != 200:
			v.fail("GET %s: %d %v", path, code, err)
		default:
			if err := v.checker.Check("node", path, string(body)); err != nil {
				v.fail("%v", err)
			}
			p, _ := testkit.ParsePlaylist(string(body))
			for _, s := range p.Segments {
				if s.Disc {
					v.fail("live playlist has a discontinuity before %s", s.URI)
				}
				if seen[s.URI] {
					continue
				}
				seen[s.URI] = true
				if code, _, err := get(base + "/" + stream + "/" + s.URI); ctx.Err() == nil && (err != nil || code != 200) {
					v.fail("GET segment %s: %d %v", s.URI, code, err)
				}
				v.mu.Lock()
				v.segments++
				v.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// reloadCall posts a reload call signed with key ("" sends it unsigned).
func reloadCall(t *testing.T, base, key string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/reload", nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		cluster.Signer{Node: "test", Key: key}.SignRequest(req)
	}
	c := http.Client{Timeout: 40 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReloadWithoutGap: a stream records and is watched live while the
// node reloads its file on SIGHUP (a stream added) and through the signed
// API (a stream changed, then removed, and an invalid file): its archive
// has one unbroken range at the same cadence, and its viewer sees no error.
func TestReloadWithoutGap(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg")
	tp := newTopo(t)
	const key = "reload-test-key"
	portA, portB := testkit.FreeUDPPort(t), testkit.FreeUDPPort(t)
	streamA := func() {
		tp.stream("a", []string{fmt.Sprintf("udp://127.0.0.1:%d", portA)}, `segment_duration = "1s"`, tp.dvr(""))
	}
	write := func(withB bool, bSegment string) string {
		tp.body.Reset()
		fmt.Fprintf(&tp.body, "cluster_key = %q\n\n[[node]]\nname = \"origin\"\nlisten = %q\n", key, tp.listen)
		if withB {
			// b comes first: every line of a moves, and a is still unchanged.
			tp.stream("b", []string{fmt.Sprintf("udp://127.0.0.1:%d", portB)}, `segment_duration = "`+bSegment+`"`, tp.dvr(""))
		}
		streamA()
		return tp.write(t)
	}
	path := write(false, "")
	node := testkit.StartNode(t, path, "origin", tp.listen)
	send := func(port int) {
		testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{})
	}
	send(portA)
	send(portB)

	type streams struct {
		Streams []struct {
			Name string `json:"name"`
			Live bool   `json:"live"`
		} `json:"streams"`
	}
	live := func() map[string]bool {
		var s streams
		out := map[string]bool{}
		if testkit.JSON(node.URL+"/api/v1/streams", &s) {
			for _, st := range s.Streams {
				out[st.Name] = st.Live
			}
		}
		return out
	}
	testkit.Eventually(t, 20*time.Second, "a live", func() bool { return live()["a"] })
	ctx, cancel := context.WithCancel(context.Background())
	var v liveViewer
	viewerDone := make(chan struct{})
	go func() { defer close(viewerDone); v.follow(ctx, node.URL, "a") }()
	defer func() { cancel(); <-viewerDone }()
	time.Sleep(2 * time.Second) // the viewer follows a for a while first

	// SIGHUP with b added.
	write(true, "1s")
	if err := node.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "b live after SIGHUP", func() bool { return live()["b"] })

	// The API: unsigned is refused; signed, b changed restarts it.
	if code, body := reloadCall(t, node.URL, ""); code != 403 {
		t.Errorf("unsigned reload: %d %s, want 403", code, body)
	}
	write(true, "2s")
	code, body := reloadCall(t, node.URL, key)
	if want := `{"kept":["a"],"started":[],"restarted":["b"],"stopped":[]}`; code != 200 || strings.TrimSpace(body) != want {
		t.Errorf("reload with b changed: %d %s, want 200 %s", code, body, want)
	}
	testkit.Eventually(t, 20*time.Second, "b live again", func() bool { return live()["b"] })

	// An invalid file changes nothing and says why, by API and on SIGHUP.
	if err := os.WriteFile(path, []byte("cluster_key = \""+key+"\"\n[[node]]\nname = \"origin\"\nlisten = 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, body = reloadCall(t, node.URL, key)
	if code != 422 || !strings.Contains(body, "topology.toml:") {
		t.Errorf("reload of an invalid file: %d %q, want 422 with FILE:LINE", code, body)
	}
	if err := node.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the SIGHUP refusal in the log", func() bool {
		return strings.Count(node.Output(), "reload changed nothing") >= 2
	})
	if l := live(); !l["a"] || !l["b"] {
		t.Errorf("streams after an invalid reload: %v, want a and b live", l)
	}

	// b removed: it stops; a goes on.
	// b removed, asked with `edge reload`.
	out, err := exec.Command(testkit.Edge(t), "reload", write(false, ""), "--node", "origin").CombinedOutput()
	if want := `{"kept":["a"],"started":[],"restarted":[],"stopped":["b"]}`; err != nil || strings.TrimSpace(string(out)) != want {
		t.Errorf("edge reload with b removed: %v %s, want %s", err, out, want)
	}
	if _, ok := live()["b"]; ok {
		t.Errorf("b still listed after its removal")
	}
	time.Sleep(3 * time.Second)
	cancel()
	<-viewerDone
	if !node.Term(20 * time.Second) {
		t.Fatal("node did not stop within 20 s of SIGTERM")
	}

	v.mu.Lock()
	if len(v.errs) > 0 || v.segments < 8 {
		t.Errorf("the live viewer of a fetched %d segments and met %d errors: %q", v.segments, len(v.errs), v.errs)
	}
	v.mu.Unlock()
	segs, ranges, _ := testkit.Archive(t, tp.root, "a")
	checkTimeline(t, segs)
	if len(ranges) != 1 {
		t.Errorf("a: %d ranges %v across the reloads, want 1", len(ranges), ranges)
	}
	for i := 1; i < len(segs); i++ { // one segment per keyframe, 1 s apart, through every reload
		if d := segs[i].Start - segs[i-1].Start; d < 800 || d > 1200 {
			t.Errorf("a: segment %d starts %d ms after the previous one, want about 1000", i, d)
		}
	}
	// b was flushed and recorded before it stopped.
	if segsB, _, _ := testkit.Archive(t, tp.root, "b"); len(segsB) < 3 {
		t.Errorf("b: %d segments recorded, want several", len(segsB))
	}
}
