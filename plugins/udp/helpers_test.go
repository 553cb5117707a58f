package udp

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// ffmpegPath returns the ffmpeg binary or fails the test: these tests need a real encoder.
func ffmpegPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatalf("ffmpeg not found in PATH (install it: apt-get install -y ffmpeg): %v", err)
	}
	return p
}

// freeUDPPort returns a UDP port that was free on 127.0.0.1 a moment ago,
// from below the kernel's ephemeral range so that no sender's source port
// (ours or a parallel test's) can take it before we bind it.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	for range 1000 {
		p := 20000 + rand.IntN(12000)
		// On every address: a port that another process holds on the
		// wildcard address refuses a bind to a multicast group as well
		// as to 127.0.0.1.
		c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: p})
		if err == nil {
			c.Close()
			return p
		}
	}
	t.Fatal("no free UDP port below the ephemeral range")
	return 0
}

// ffmpegSource returns the ffmpeg arguments that encode secs seconds of
// H.264 + AAC test signal in real time as MPEG-TS to out.
func ffmpegSource(secs float64, realtime bool, out string) []string {
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin"}
	if realtime {
		args = append(args, "-re")
	}
	return append(args,
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=sample_rate=48000",
		"-t", fmt.Sprint(secs),
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-f", "mpegts", "-y", out)
}

// runFFmpeg runs ffmpeg with args to completion.
func runFFmpeg(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpegPath(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
}

// sendTS sends secs seconds of live test signal to the udp URL out (an
// ffmpeg output URL) and returns when ffmpeg is done.
func sendTS(t testing.TB, secs float64, out string) {
	t.Helper()
	runFFmpeg(t, ffmpegSource(secs, true, out)...)
}

// capture is a running Capture under test.
type capture struct {
	in     *Ingest
	stream string
	cancel context.CancelFunc
	done   chan error
	ready  chan struct{} // closed when the socket listens or the file plays

	mu     sync.Mutex
	events []sdk.Event
}

// startCapture runs Capture of url in the background and waits until its
// input is open.
func startCapture(t *testing.T, url string, segDur time.Duration) *capture {
	t.Helper()
	c := &capture{stream: "test", done: make(chan error, 1), ready: make(chan struct{})}
	var once sync.Once
	h := &notifyHandler{Handler: slog.NewTextHandler(testWriter{t}, nil), notify: func(msg string) {
		if msg == "udp: listening" || msg == "udp: playing file" {
			once.Do(func() { close(c.ready) })
		}
	}}
	c.in = New(slog.New(h))
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		c.done <- c.in.Capture(ctx, sdk.CaptureRequest{Stream: c.stream, URL: url, SegmentDuration: segDur}, func(ev sdk.Event) error {
			if ev.Segment != nil { // its Data is reused once emit returns
				sg := *ev.Segment
				sg.Data = bytes.Clone(sg.Data)
				ev.Segment = &sg
			}
			c.mu.Lock()
			c.events = append(c.events, ev)
			c.mu.Unlock()
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-c.done
	})
	select {
	case <-c.ready:
	case err := <-c.done:
		c.done <- err
		t.Fatalf("capture of %s ended before its input opened: %v", url, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("capture of %s did not open its input", url)
	}
	return c
}

// stop cancels the capture and returns what it emitted.
func (c *capture) stop(t *testing.T) []sdk.Event {
	t.Helper()
	c.cancel()
	select {
	case err := <-c.done:
		c.done <- err
		if err != nil {
			t.Fatalf("capture returned %v, want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("capture did not return after cancel")
	}
	return c.snapshot()
}

func (c *capture) snapshot() []sdk.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sdk.Event(nil), c.events...)
}

// waitStats polls the capture's counters until cond holds.
func (c *capture) waitStats(t *testing.T, what string, cond func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, ok := c.in.Stats(c.stream)
		if ok && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; stats %+v", what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitEvents polls the emitted events until cond holds.
func (c *capture) waitEvents(t *testing.T, what string, cond func([]sdk.Event) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond(c.snapshot()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; got %d events", what, len(c.snapshot()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// segments returns the media segments among evs.
func segments(evs []sdk.Event) []media.Segment {
	var segs []media.Segment
	for _, ev := range evs {
		if ev.Segment != nil {
			segs = append(segs, *ev.Segment)
		}
	}
	return segs
}

func totalDuration(segs []media.Segment) time.Duration {
	var ms int64
	for _, s := range segs {
		ms += s.Duration
	}
	return time.Duration(ms) * time.Millisecond
}

// checkOrder checks the contract every capture keeps: an init comes before
// the segments that use it, and segment starts strictly increase.
func checkOrder(t *testing.T, evs []sdk.Event) {
	t.Helper()
	inits := map[string]bool{}
	var prev *media.Segment
	for i, ev := range evs {
		switch {
		case ev.Init != nil && ev.Segment == nil:
			inits[ev.Init.Hash] = true
		case ev.Segment != nil && ev.Init == nil:
			if !inits[ev.Segment.InitHash] {
				t.Fatalf("event %d: segment at %d refers to init %q not emitted before it", i, ev.Segment.Start, ev.Segment.InitHash)
			}
			if prev != nil && ev.Segment.Start <= prev.Start {
				t.Fatalf("event %d: segment start %d not after previous %d", i, ev.Segment.Start, prev.Start)
			}
			if ev.Segment.Duration <= 0 || len(ev.Segment.Data) == 0 {
				t.Fatalf("event %d: empty segment %+v", i, ev.Segment.Duration)
			}
			prev = ev.Segment
		case ev.Segment == nil && ev.Init == nil:
			// a stats update
		default:
			t.Fatalf("event %d: want at most one of Init and Segment", i)
		}
	}
}

// notifyHandler passes each log message to notify.
type notifyHandler struct {
	slog.Handler
	notify func(msg string)
}

func (h *notifyHandler) Handle(ctx context.Context, r slog.Record) error {
	h.notify(r.Message)
	return h.Handler.Handle(ctx, r)
}

func (h *notifyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &notifyHandler{Handler: h.Handler.WithAttrs(as), notify: h.notify}
}

func (h *notifyHandler) WithGroup(name string) slog.Handler {
	return &notifyHandler{Handler: h.Handler.WithGroup(name), notify: h.notify}
}

// testWriter sends log output to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
