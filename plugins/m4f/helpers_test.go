package m4f

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/media"
	mm "github.com/edgedvr/edge/media/m4f"
	"github.com/edgedvr/edge/sdk"
)

const (
	testKey  = "test-cluster-key-s3cret"
	testNode = "edge-client"
	t0       = int64(1_700_000_000_000)
)

// waitFor bounds every wait of these tests; it is far above what they need.
const waitFor = 20 * time.Second

func testInit(seed byte) media.Init {
	data := bytes.Repeat([]byte{'f', 't', 'y', 'p', 'm', 'o', 'o', 'v', seed}, 30)
	return media.Init{Hash: media.InitHash(data), Data: data, Codecs: "avc1.64001f,mp4a.40.2", Width: 1280, Height: 720}
}

// testSegment is segment i of a stream on init: start t0+3000*i, 3 s long.
func testSegment(in media.Init, i int, size int) media.Segment {
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(i), uint64(size)))
	for j := range data {
		data[j] = byte(r.Uint32())
	}
	return media.Segment{Start: t0 + 3000*int64(i), Duration: 3000, InitHash: in.Hash, Data: data}
}

// liveConn writes one live response: frames through a Writer, flushed
// after each one, or raw bytes.
type liveConn struct {
	beats *atomic.Int32 // heartbeats sent by heartbeats()
	n     int           // connection number, from 0
	r     *http.Request
	bw    *bufio.Writer
	w     *mm.Writer
	fl    http.Flusher
	err   error
}

func (c *liveConn) flush() {
	if c.err == nil {
		c.err = c.bw.Flush()
	}
	if c.err == nil {
		c.fl.Flush()
	}
}

func (c *liveConn) init(in media.Init) {
	if c.err == nil {
		c.err = c.w.WriteInit(in)
	}
	c.flush()
}

func (c *liveConn) segment(s media.Segment) {
	if c.err == nil {
		c.err = c.w.WriteSegment(s)
	}
	c.flush()
}

func (c *liveConn) raw(b []byte) {
	if c.err == nil {
		_, c.err = c.bw.Write(b)
	}
	c.flush()
}

// heartbeats sends a heartbeat every 20 ms until the client goes.
func (c *liveConn) heartbeats() {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for c.err == nil {
		select {
		case <-c.r.Context().Done():
			return
		case <-tick.C:
			c.err = c.w.WriteHeartbeat(mm.Heartbeat{Time: time.Now().UnixMilli(), LiveEdge: t0})
			c.flush()
			c.beats.Add(1)
		}
	}
}

// stall blocks until the client goes.
func (c *liveConn) stall() { <-c.r.Context().Done() }

// segFrame returns the bytes of one segment frame as a Writer encodes it.
func segFrame(t testing.TB, s media.Segment) []byte {
	var b bytes.Buffer
	w := mm.NewWriter(&b)
	must(t, w.WriteMagic())
	must(t, w.WriteSegment(s))
	return b.Bytes()[len(mm.Magic):]
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// peer is an M4F node in a test: it verifies signatures with its key, counts
// live connections, and runs live for each one.
type peer struct {
	*httptest.Server
	key     string
	live    func(c *liveConn)
	archive http.HandlerFunc // the other endpoints

	conns    atomic.Int32 // live connections accepted
	refused  atomic.Int32 // requests answered 403
	beats    atomic.Int32 // heartbeats sent
	mu       sync.Mutex
	requests []*http.Request // every verified request
}

func newPeer(t testing.TB, live func(c *liveConn)) *peer {
	p := &peer{key: testKey, live: live}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

func (p *peer) addr() string { return strings.TrimPrefix(p.URL, "http://") }

func (p *peer) serve(w http.ResponseWriter, r *http.Request) {
	if _, err := (cluster.Verifier{Key: p.key}).Verify(r.Method, r.RequestURI, r.Header.Get); err != nil {
		p.refused.Add(1)
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	p.mu.Lock()
	p.requests = append(p.requests, r)
	p.mu.Unlock()
	route, err := mm.ParsePath(r.URL.Path, sdk.CheckStreamName)
	if err != nil || (route.Endpoint != mm.EndpointLive && p.archive == nil) || (route.Endpoint == mm.EndpointLive && p.live == nil) {
		http.Error(w, "no such thing", http.StatusNotFound)
		return
	}
	if route.Endpoint != mm.EndpointLive {
		p.archive(w, r)
		return
	}
	n := int(p.conns.Add(1)) - 1
	w.Header().Set("Content-Type", mm.ContentType)
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	c := &liveConn{beats: &p.beats, n: n, r: r, bw: bw, w: mm.NewWriter(bw), fl: w.(http.Flusher)}
	p.live(c)
	c.flush()
}

// events collects what a Capture emits.
type events struct {
	ch chan sdk.Event
}

func newEvents() *events { return &events{ch: make(chan sdk.Event, 1000)} }

func (e *events) emit(ev sdk.Event) error {
	e.ch <- ev
	return nil
}

// next waits for the next event.
func (e *events) next(t testing.TB) sdk.Event {
	t.Helper()
	select {
	case ev := <-e.ch:
		return ev
	case <-time.After(waitFor):
		t.Fatal("no event in time")
		return sdk.Event{}
	}
}

// none checks that nothing was emitted (after the capture has stopped).
func (e *events) none(t testing.TB) {
	t.Helper()
	select {
	case ev := <-e.ch:
		t.Fatalf("unexpected event: init %v, segment %v", ev.Init != nil, ev.Segment != nil)
	default:
	}
}

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// capture runs Capture of the peer's stream "cam" in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
	ev     *events
	logs   *logBuffer
}

func startCapture(t testing.TB, p *peer, key string, tune func(*Ingest)) *running {
	t.Helper()
	logs := &logBuffer{}
	in := New(logs.logger())
	in.IdleTimeout = 300 * time.Millisecond
	in.MinBackoff, in.MaxBackoff, in.ForbiddenBackoff = 10*time.Millisecond, 50*time.Millisecond, 100*time.Millisecond
	if tune != nil {
		tune(in)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), ev: newEvents(), logs: logs}
	req := sdk.CaptureRequest{Stream: "cam", URL: "m4f://" + p.addr() + "/cam", SegmentDuration: 3 * time.Second, Node: testNode, Key: key}
	go func() { r.done <- in.Capture(ctx, req, r.ev.emit) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
		if strings.Contains(logs.String(), key) {
			t.Errorf("the logs hold the key:\n%s", logs)
		}
	})
	return r
}

// stop cancels the capture and checks it returns nil.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Capture returned %v after cancel, want nil", err)
		}
		r.done <- nil
	case <-time.After(waitFor):
		t.Fatal("Capture did not return after cancel")
	}
}

// poll waits until cond holds.
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
