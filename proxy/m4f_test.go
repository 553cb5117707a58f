package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/media/m4f"
	"github.com/edgedvr/edge/sdk"
)

const testClusterKey = "s3cret-cluster-key-do-not-leak"

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// chainArchive records the chain of the last call it served.
type chainArchive struct {
	*testArchive
	mu    sync.Mutex
	chain *cluster.Chain
}

func (a *chainArchive) record(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := cluster.ChainFrom(ctx); ok {
		a.chain = &c
	} else {
		a.chain = nil
	}
}

func (a *chainArchive) last() *cluster.Chain {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.chain
}

func (a *chainArchive) Ranges(ctx context.Context, from, to int64) ([]sdk.Range, error) {
	a.record(ctx)
	return a.testArchive.Ranges(ctx, from, to)
}

// m4fWorld is an origin with stream "cam" (live window + archive in files),
// "mem" (archive in memory, no live) and "idle" (a live window that never
// gets a segment).
type m4fWorld struct {
	srv    *Server
	url    string
	m      *testMedia
	in     media.Init
	baseMs int64
	live   *cache.Live
	cam    *chainArchive
	mem    *testArchive
	be     *testBackend
	reg    *prometheus.Registry
	logs   *syncBuffer
	signer cluster.Signer
}

func newM4FWorld(t *testing.T, mod func(*Config)) *m4fWorld {
	t.Helper()
	m := loadMedia(t)
	w := &m4fWorld{m: m, in: m.mediaInit(), live: cache.NewLive(10), cam: &chainArchive{testArchive: newTestArchive()},
		mem: newTestArchive(), reg: prometheus.NewRegistry(), logs: &syncBuffer{},
		signer: cluster.Signer{Node: "edge1", Key: testClusterKey}}
	w.baseMs = time.Now().UnixMilli() - 3_600_000
	dir := t.TempDir()
	for i := 0; i < 20; i++ {
		w.cam.add(t, dir, w.in, m.segment(i, w.baseMs))
		w.mem.add(t, "", w.in, m.segment(i, w.baseMs))
	}
	w.be = &testBackend{streams: map[string]*testStream{
		"cam":  {name: "cam", live: w.live, archive: w.cam.testArchive},
		"mem":  {name: "mem", archive: w.mem},
		"idle": {name: "idle", live: cache.NewLive(10)},
	}}
	cfg := Config{Backend: &chainBackend{testBackend: w.be, cam: w.cam}, Registry: w.reg, Node: "origin",
		ClusterKey: testClusterKey, M4FHeartbeat: 50 * time.Millisecond, M4FLiveWait: 200 * time.Millisecond,
		Memory: cache.NewMemory(64 << 20),
		Logger: slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mod != nil {
		mod(&cfg)
	}
	w.srv, w.url = startServer(t, cfg)
	return w
}

// chainBackend serves "cam" with the recording chainArchive.
type chainBackend struct {
	*testBackend
	cam        *chainArchive
	camRemoved atomic.Bool
}

type chainStream struct {
	*testStream
	ar *chainArchive
}

func (s chainStream) Archive() Archive { return s.ar }

func (b *chainBackend) Stream(name string) (Stream, bool) {
	st, ok := b.testBackend.streams[name]
	if !ok {
		return nil, false
	}
	if name == "cam" {
		if b.camRemoved.Load() {
			return nil, false
		}
		return chainStream{testStream: st, ar: b.cam}, true
	}
	return st, true
}

// push adds segment i of the test media to the live window.
func (w *m4fWorld) push(i int) media.Segment {
	seg := w.m.segment(i, w.baseMs)
	w.live.Push(w.in, seg)
	return seg
}

// do sends a signed GET of path (with the query) and extra headers set
// before signing (X-Edge-Via is covered by the signature).
func (w *m4fWorld) do(t testing.TB, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req := w.request(t, path, hdr...)
	w.signer.SignRequest(req)
	return doReq(t, req)
}

func (w *m4fWorld) request(t testing.TB, path string, hdr ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", w.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return req
}

func doReq(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", req.URL, err)
	}
	return resp, b
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestM4FAuth(t *testing.T) {
	w := newM4FWorld(t, nil)
	for i := 0; i < 5; i++ {
		w.push(i)
	}
	live := m4f.LivePath("cam")
	seg := m4f.SegmentPath("cam", w.baseMs)
	tests := []struct {
		name   string
		path   string
		sign   func(req *http.Request)
		reason string // metric label
		want   string // in the body and the log line
	}{
		{"unsigned", live, func(*http.Request) {}, "missing", "missing X-Edge-Node header"},
		{"signer without key", seg, func(r *http.Request) { cluster.Signer{Node: "edge1"}.SignRequest(r) }, "missing", "missing X-Edge-Signature header"},
		{"wrong key", live, func(r *http.Request) { cluster.Signer{Node: "edge1", Key: "other"}.SignRequest(r) }, "bad_signature", `bad signature from node "edge1"`},
		{"stale", seg, func(r *http.Request) {
			w.signer.Sign("GET", r.URL.RequestURI(), "", time.Now().Add(-2*time.Minute)).Apply(r.Header.Set)
		}, "stale", "X-Edge-Time is 120s behind"},
		{"future", seg, func(r *http.Request) {
			w.signer.Sign("GET", r.URL.RequestURI(), "", time.Now().Add(2*time.Minute)).Apply(r.Header.Set)
		}, "stale", "X-Edge-Time is 120s ahead of"},
		{"tampered path", live, func(r *http.Request) {
			w.signer.Sign("GET", m4f.LivePath("other"), "", time.Now()).Apply(r.Header.Set)
		}, "bad_signature", "bad signature"},
		{"tampered via", seg, func(r *http.Request) {
			w.signer.Sign("GET", r.URL.RequestURI(), "edge1", time.Now()).Apply(r.Header.Set)
			r.Header.Set(cluster.HeaderVia, "edge2")
		}, "bad_signature", "bad signature"},
		{"malformed time", seg, func(r *http.Request) {
			w.signer.SignRequest(r)
			r.Header.Set(cluster.HeaderTime, "yesterday")
		}, "malformed", `malformed X-Edge-Time header "yesterday"`},
		{"unknown path still refused first", "/m4f/v1/nope", func(*http.Request) {}, "missing", "missing X-Edge-Node"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(w.srv.m4fm.authFailures.WithLabelValues(tc.reason))
			req := w.request(t, tc.path)
			tc.sign(req)
			resp, body := doReq(t, req)
			if resp.StatusCode != 403 {
				t.Fatalf("status %d, want 403; body %q", resp.StatusCode, body)
			}
			line := string(body)
			if !strings.Contains(line, tc.want) || strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
				t.Errorf("body %q: want one line with %q", line, tc.want)
			}
			if bytes.Contains(body, []byte(m4f.Magic)) || len(body) > 300 {
				t.Errorf("403 body carries data: %q", body)
			}
			if got := testutil.ToFloat64(w.srv.m4fm.authFailures.WithLabelValues(tc.reason)); got != before+1 {
				t.Errorf("auth_failures_total{reason=%q} = %v, want %v", tc.reason, got, before+1)
			}
			logs := strings.ReplaceAll(w.logs.String(), `\"`, `"`)
			if !strings.Contains(logs, "m4f call refused") || !strings.Contains(logs, tc.want) {
				t.Errorf("no log line with %q:\n%s", tc.want, logs)
			}
		})
	}
	if strings.Contains(w.logs.String(), testClusterKey) {
		t.Error("the cluster key appears in the log")
	}
	// The log names the remote address and the claimed node.
	if logs := w.logs.String(); !strings.Contains(logs, "remote=127.0.0.1:") || !strings.Contains(logs, "claimed_node=edge1") {
		t.Errorf("log lacks remote or claimed node:\n%s", logs)
	}

	// A node without a key refuses every call, even a correctly signed one.
	nokey := newM4FWorld(t, func(c *Config) { c.ClusterKey = "" })
	resp, body := nokey.do(t, m4f.StreamsPath)
	if resp.StatusCode != 403 || string(body) != "cluster: cluster_key is not set on this node\n" {
		t.Errorf("no key: %d %q", resp.StatusCode, body)
	}

	// Signed calls pass; the viewer routes need no signature.
	if resp, body := w.do(t, m4f.StreamsPath); resp.StatusCode != 200 {
		t.Errorf("signed streams: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, "GET", w.url+"/cam/index.m3u8"); resp.StatusCode != 200 {
		t.Errorf("viewer playlist: %d", resp.StatusCode)
	}
}

func TestM4FStreams(t *testing.T) {
	w := newM4FWorld(t, nil)
	w.push(0)
	resp, body := w.do(t, m4f.StreamsPath)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var got m4f.StreamsResponse
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := m4f.StreamsResponse{Node: "origin", Streams: []m4f.StreamInfo{
		{Name: "cam", Live: true, DVR: true}, {Name: "idle"}, {Name: "mem", DVR: true}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// liveClient reads a live M4F body.
type liveClient struct {
	resp *http.Response
	r    *m4f.Reader
}

func (w *m4fWorld) openLive(t testing.TB, stream string) *liveClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", w.url+m4f.LivePath(stream), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.signer.SignRequest(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("live %s: %d %q", stream, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != m4f.ContentType {
		t.Fatalf("Content-Type %q", ct)
	}
	return &liveClient{resp: resp, r: m4f.NewReader(resp.Body, m4f.Limits{})}
}

// next returns the next frame that is not a heartbeat.
func (c *liveClient) next(t testing.TB) m4f.Frame {
	t.Helper()
	for {
		f, err := c.r.Next()
		if err != nil {
			t.Fatalf("read frame: %v", err)
		}
		if f.Type != m4f.TypeHeartbeat {
			return f
		}
	}
}

func (c *liveClient) wantInit(t testing.TB, in media.Init) {
	t.Helper()
	f := c.next(t)
	if f.Type != m4f.TypeInit || f.Init.Hash != in.Hash || !bytes.Equal(f.Init.Data, in.Data) {
		t.Fatalf("got frame %c, want init %s", f.Type, in.Hash)
	}
}

func (c *liveClient) wantSegment(t testing.TB, seg media.Segment) {
	t.Helper()
	f := c.next(t)
	if f.Type != m4f.TypeSegment {
		t.Fatalf("got frame %c (%+v), want segment %d", f.Type, f, seg.Start)
	}
	got := f.Segment
	if got.Start != seg.Start || got.Duration != seg.Duration || got.InitHash != seg.InitHash || !bytes.Equal(got.Data, seg.Data) {
		t.Fatalf("segment %d (%d bytes, init %s), want %d (%d bytes, init %s), or bytes differ",
			got.Start, len(got.Data), got.InitHash, seg.Start, len(seg.Data), seg.InitHash)
	}
}

func TestM4FLive(t *testing.T) {
	w := newM4FWorld(t, nil)
	var segs []media.Segment
	for i := 0; i < 5; i++ {
		segs = append(segs, w.push(i))
	}
	c := w.openLive(t, "cam")
	c.wantInit(t, w.in)
	for _, s := range segs[2:] {
		c.wantSegment(t, s)
	}
	waitFor(t, "a live client", func() bool { return testutil.ToFloat64(w.srv.m4fm.liveClients) == 1 })

	// Idle: heartbeats, with the live edge.
	for i := 0; i < 2; i++ {
		f, err := c.r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if f.Type != m4f.TypeHeartbeat || f.Heartbeat.LiveEdge != segs[4].Start || f.Heartbeat.Time == 0 {
			t.Fatalf("frame %c %+v, want a heartbeat with live edge %d", f.Type, f.Heartbeat, segs[4].Start)
		}
	}

	// New segments arrive in order, byte-identical.
	for i := 5; i < 8; i++ {
		s := w.push(i)
		c.wantSegment(t, s)
	}

	// An init change sends the new init first.
	in2 := otherInit(t, w.m)
	s8 := w.m.segment(8, w.baseMs)
	s8.InitHash = in2.Hash
	w.live.Push(in2, s8)
	c.wantInit(t, in2)
	c.wantSegment(t, s8)
	// And back.
	s9 := w.push(9)
	c.wantInit(t, w.in)
	c.wantSegment(t, s9)

	// The server counts a frame after writing it: the client may see it first.
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(w.srv.m4fm.frames.WithLabelValues("segment")) < 8 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := testutil.ToFloat64(w.srv.m4fm.frames.WithLabelValues("segment")); n != 8 {
		t.Errorf("frames_sent_total{type=segment} = %v, want 8", n)
	}
	if n := testutil.ToFloat64(w.srv.m4fm.bytes); n < float64(len(segs[2].Data)*8) {
		t.Errorf("live_bytes_sent_total = %v, too small", n)
	}

	// The client leaves: the server notices (at the latest at the next
	// heartbeat) and the gauge goes back to 0.
	c.resp.Body.Close()
	waitFor(t, "the live client to be gone", func() bool { return testutil.ToFloat64(w.srv.m4fm.liveClients) == 0 })
}

func TestM4FLiveInitChangeInBacklog(t *testing.T) {
	w := newM4FWorld(t, nil)
	in2 := otherInit(t, w.m)
	s0, s1 := w.push(0), w.push(1)
	s2 := w.m.segment(2, w.baseMs)
	s2.InitHash = in2.Hash
	w.live.Push(in2, s2)
	c := w.openLive(t, "cam")
	c.wantInit(t, w.in)
	c.wantSegment(t, s0)
	c.wantSegment(t, s1)
	c.wantInit(t, in2)
	c.wantSegment(t, s2)
}

func TestM4FLiveErrors(t *testing.T) {
	w := newM4FWorld(t, nil)
	for _, tc := range []struct {
		path   string
		status int
	}{
		{m4f.LivePath("nosuch"), 404},
		{m4f.LivePath("mem"), 503},  // no live window
		{m4f.LivePath("idle"), 503}, // a live window with no segment
		{"/m4f/v1/live/bad%20name", 400},
		{"/m4f/v1/live/cam/extra", 404},
	} {
		resp, body := w.do(t, tc.path)
		if resp.StatusCode != tc.status || strings.Count(string(body), "\n") != 1 {
			t.Errorf("%s: %d %q, want %d and one line", tc.path, resp.StatusCode, body, tc.status)
		}
	}
	// A stream that gets its first segment while the request waits.
	go func() {
		time.Sleep(20 * time.Millisecond)
		w.push(0)
	}()
	c := w.openLive(t, "cam")
	c.wantInit(t, w.in)
}

func TestM4FLiveShutdown(t *testing.T) {
	m := loadMedia(t)
	l := cache.NewLive(10)
	in := m.mediaInit()
	l.Push(in, m.segment(0, 1_700_000_000_000))
	be := &testBackend{streams: map[string]*testStream{"cam": {name: "cam", live: l}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Backend: be, ClusterKey: testClusterKey, M4FHeartbeat: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	w := &m4fWorld{url: "http://" + ln.Addr().String(), signer: cluster.Signer{Node: "edge1", Key: testClusterKey}}
	c := w.openLive(t, "cam")
	c.wantInit(t, in)
	c.next(t) // the segment
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	f := c.next(t)
	if f.Type != m4f.TypeError || f.Err != "node shutting down" {
		t.Fatalf("frame %c %q, want the end frame", f.Type, f.Err)
	}
	if _, err := c.r.Next(); err != io.EOF {
		t.Errorf("after the end frame: %v, want EOF", err)
	}
	if err := <-shut; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

func TestM4FLiveStreamRemoved(t *testing.T) {
	w := newM4FWorld(t, nil)
	w.push(0)
	c := w.openLive(t, "cam")
	c.wantInit(t, w.in)
	c.next(t)
	w.srv.cfg.Backend.(*chainBackend).camRemoved.Store(true)
	f := c.next(t)
	if f.Type != m4f.TypeError || f.Err != "stream removed" {
		t.Fatalf("frame %c %q, want the end frame", f.Type, f.Err)
	}
}

func TestM4FSlowReader(t *testing.T) {
	w := newM4FWorld(t, nil)
	const size = 1 << 20
	mk := func(i int) media.Segment {
		data := bytes.Repeat([]byte{byte(i)}, size)
		return media.Segment{Start: w.baseMs + int64(i)*2000, Duration: 2000, InitHash: w.in.Hash, Data: data}
	}
	w.live.Push(w.in, mk(0))
	c := w.openLive(t, "cam") // reads nothing for now
	waitFor(t, "a live client", func() bool { return testutil.ToFloat64(w.srv.m4fm.liveClients) == 1 })
	pushed := make(chan struct{})
	go func() {
		for i := 1; i <= 100; i++ {
			w.live.Push(w.in, mk(i))
		}
		close(pushed)
	}()
	select {
	case <-pushed:
	case <-time.After(20 * time.Second):
		t.Fatal("Push blocked behind a client that reads nothing")
	}
	// Now read: the starts strictly increase (the reader checks), some
	// segments were skipped, and the newest one arrives.
	c.wantInit(t, w.in)
	last := int64(-1)
	n := 0
	for last != mk(100).Start {
		f := c.next(t)
		if f.Type != m4f.TypeSegment {
			t.Fatalf("frame %c", f.Type)
		}
		if int(f.Segment.Data[0]) != int((f.Segment.Start-w.baseMs)/2000) {
			t.Fatalf("segment %d holds the bytes of another", f.Segment.Start)
		}
		last = f.Segment.Start
		n++
	}
	if n >= 101 {
		t.Errorf("got all %d segments: nothing was skipped", n)
	}
	if sk := testutil.ToFloat64(w.srv.m4fm.skipped); sk == 0 || int(sk)+n != 101 {
		t.Errorf("skipped_segments_total = %v with %d received, want %d in all", sk, n, 101)
	}
}

func TestM4FArchive(t *testing.T) {
	w := newM4FWorld(t, nil)
	w.push(19) // the live window holds the last one too
	from, to := w.baseMs, w.baseMs+40_000

	for _, stream := range []string{"cam", "mem"} {
		t.Run(stream, func(t *testing.T) {
			resp, body := w.do(t, m4f.RangesPath(stream, from-10_000, to+10_000))
			if resp.StatusCode != 200 {
				t.Fatalf("ranges: %d %q", resp.StatusCode, body)
			}
			var rr m4f.RangesResponse
			if err := json.Unmarshal(body, &rr); err != nil {
				t.Fatal(err)
			}
			if len(rr.Ranges) != 1 || rr.Ranges[0] != (m4f.Range{From: from, To: to}) {
				t.Errorf("ranges %+v, want [{%d %d}]", rr.Ranges, from, to)
			}
			resp, body = w.do(t, m4f.SegmentsPath(stream, from+2000, from+6001))
			var sr m4f.SegmentsResponse
			if err := json.Unmarshal(body, &sr); err != nil || resp.StatusCode != 200 {
				t.Fatalf("segments: %d %q %v", resp.StatusCode, body, err)
			}
			if len(sr.Segments) != 3 {
				t.Fatalf("segments %+v, want 3", sr.Segments)
			}
			for i, si := range sr.Segments {
				seg := w.m.segment(i+1, w.baseMs)
				want := m4f.SegmentInfo{Start: seg.Start, Duration: seg.Duration, Size: int64(len(seg.Data)),
					Init: w.in.Hash, Checksum: media.Checksum(seg.Data)}
				if si != want {
					t.Errorf("segment %d: %+v, want %+v", i, si, want)
				}
				// Each segment: bytes, headers, checksum.
				resp, body := w.do(t, m4f.SegmentPath(stream, si.Start))
				h := resp.Header
				if resp.StatusCode != 200 || !bytes.Equal(body, seg.Data) || h.Get("Content-Type") != "video/mp4" ||
					h.Get(m4f.HeaderDuration) != strconv.FormatInt(seg.Duration, 10) || h.Get(m4f.HeaderInit) != w.in.Hash ||
					h.Get(m4f.HeaderChecksum) != media.Checksum(body) {
					t.Errorf("segment %d: %d, %d bytes, headers %v", si.Start, resp.StatusCode, len(body), h)
				}
			}
			resp, body = w.do(t, m4f.InitPath(stream, w.in.Hash))
			if resp.StatusCode != 200 || !bytes.Equal(body, w.in.Data) || media.InitHash(body) != w.in.Hash {
				t.Errorf("init: %d, %d bytes", resp.StatusCode, len(body))
			}
		})
	}
	// The live window's segment (and its headers).
	seg := w.m.segment(19, w.baseMs)
	resp, body := w.do(t, m4f.SegmentPath("cam", seg.Start))
	if resp.StatusCode != 200 || !bytes.Equal(body, seg.Data) || resp.Header.Get(m4f.HeaderChecksum) != media.Checksum(seg.Data) {
		t.Errorf("live segment: %d", resp.StatusCode)
	}
	// A stream without archive lists nothing.
	resp, body = w.do(t, m4f.RangesPath("idle", from, to))
	if resp.StatusCode != 200 || string(body) != "{\"ranges\":[]}\n" {
		t.Errorf("idle ranges: %d %q", resp.StatusCode, body)
	}

	errs := []struct {
		name   string
		path   string
		hdr    []string
		status int
		want   string
	}{
		{"unknown stream", m4f.RangesPath("nosuch", from, to), nil, 404, "unknown stream nosuch"},
		{"unknown segment", m4f.SegmentPath("cam", from+1), nil, 404, "no segment at"},
		{"unknown init", m4f.InitPath("cam", "0123456789abcdef"), nil, 404, "init 0123456789abcdef"},
		{"unknown endpoint", "/m4f/v1/nope/cam", nil, 404, "names no endpoint"},
		{"v2", "/m4f/v2/streams", nil, 404, "not under /m4f/v1/"},
		{"from after to", m4f.RangesPath("cam", to, from), nil, 400, "is after to"},
		{"no to", "/m4f/v1/segments/cam?from=1", nil, 400, "query needs from and to"},
		{"bad number", "/m4f/v1/ranges/cam?from=1&to=x", nil, 400, `to "x"`},
		{"bad hash", "/m4f/v1/init/cam/XYZ", nil, 400, "init hash"},
		{"bad start", "/m4f/v1/segment/cam/-1", nil, 400, "segment start"},
		{"loop", m4f.RangesPath("cam", from, to), []string{cluster.HeaderVia, "edge1,origin"}, 508, `node "origin" is already in X-Edge-Via`},
		{"loop on unknown stream", m4f.SegmentPath("nosuch", from), []string{cluster.HeaderVia, "origin"}, 508, "loop"},
		{"bad hops", m4f.RangesPath("cam", from, to), []string{cluster.HeaderVia, "edge1", cluster.HeaderHops, "0"}, 400, "X-Edge-Hops"},
		{"bad via", m4f.RangesPath("cam", from, to), []string{cluster.HeaderVia, "edge1,,edge2"}, 400, "empty node name"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := w.do(t, tc.path, tc.hdr...)
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.want) || strings.Count(string(body), "\n") != 1 {
				t.Errorf("%d %q, want %d with %q", resp.StatusCode, body, tc.status, tc.want)
			}
		})
	}
	if !strings.Contains(w.logs.String(), "m4f chained call looped back") {
		t.Error("no log line for the loop")
	}

	// The chain reaches the archive; a call without one has none.
	resp, _ = w.do(t, m4f.RangesPath("cam", from, to), cluster.HeaderVia, "edge1,edge2", cluster.HeaderHops, "3")
	if c := w.cam.last(); resp.StatusCode != 200 || c == nil || fmt.Sprint(*c) != fmt.Sprint(cluster.Chain{Via: []string{"edge1", "edge2"}, Hops: 3}) {
		t.Errorf("chain seen by the archive: %+v", c)
	}
	w.do(t, m4f.RangesPath("cam", from, to))
	if c := w.cam.last(); c != nil {
		t.Errorf("chain without headers: %+v", *c)
	}

	// An archive that cannot answer: 503 with a generic line.
	w.mem.mu.Lock()
	w.mem.unavailable = true
	w.mem.mu.Unlock()
	resp, body = w.do(t, m4f.SegmentsPath("mem", from, to))
	if resp.StatusCode != 503 || string(body) != "archive temporarily unavailable\n" {
		t.Errorf("unavailable: %d %q", resp.StatusCode, body)
	}
	if n := testutil.ToFloat64(w.srv.m4fm.requests.WithLabelValues("segments", "503")); n != 1 {
		t.Errorf("requests_total{segments,503} = %v", n)
	}
}
