package m4f

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/media"
	mm "github.com/edgedvr/edge/media/m4f"
	"github.com/edgedvr/edge/sdk"
)

// expectInit checks that ev is init in.
func expectInit(t *testing.T, ev sdk.Event, in media.Init) {
	t.Helper()
	if ev.Init == nil || ev.Segment != nil {
		t.Fatalf("got segment %v, want init %s", ev.Segment != nil, in.Hash)
	}
	if ev.Init.Hash != in.Hash || !bytes.Equal(ev.Init.Data, in.Data) || ev.Init.Codecs != in.Codecs || ev.Init.Width != in.Width {
		t.Fatalf("init differs: %s, %d bytes", ev.Init.Hash, len(ev.Init.Data))
	}
}

// expectSegment checks that ev is exactly s.
func expectSegment(t *testing.T, ev sdk.Event, s media.Segment) {
	t.Helper()
	if ev.Segment == nil {
		t.Fatalf("got an init, want segment at %d", s.Start)
	}
	g := ev.Segment
	if g.Start != s.Start || g.Duration != s.Duration || g.InitHash != s.InitHash || !bytes.Equal(g.Data, s.Data) {
		t.Fatalf("segment at %d (%d bytes) differs from the one sent at %d", g.Start, len(g.Data), s.Start)
	}
}

func TestCaptureHappyPath(t *testing.T) {
	in := testInit(1)
	segs := make([]media.Segment, 6)
	for i := range segs {
		segs[i] = testSegment(in, i, 50_000+i*1000)
	}
	p := newPeer(t, func(c *liveConn) {
		c.init(in)
		for _, s := range segs[:3] {
			c.segment(s)
		}
		for range 3 {
			if c.err == nil {
				c.err = c.w.WriteHeartbeat(mm.Heartbeat{Time: 1, LiveEdge: segs[2].Start})
			}
			c.flush()
		}
		for _, s := range segs[3:] {
			c.segment(s)
		}
		c.heartbeats()
	})
	r := startCapture(t, p, testKey, nil)
	expectInit(t, r.ev.next(t), in)
	for i, s := range segs {
		ev := r.ev.next(t)
		expectSegment(t, ev, s)
		if ev.Stats.Segments != uint64(i+1) {
			t.Fatalf("stats count %d segments, want %d", ev.Stats.Segments, i+1)
		}
	}
	r.stop(t)
	r.ev.none(t)
	if n := p.conns.Load(); n != 1 {
		t.Fatalf("%d live connections, want 1", n)
	}
}

func TestCaptureReconnect(t *testing.T) {
	in := testInit(1)
	segs := make([]media.Segment, 9)
	for i := range segs {
		segs[i] = testSegment(in, i, 40_000)
	}
	p := newPeer(t, func(c *liveConn) {
		c.init(in)
		switch c.n {
		case 0:
			for _, s := range segs[:5] {
				c.segment(s)
			}
			f := segFrame(t, segs[5])
			c.raw(f[:len(f)/2])
			panic(http.ErrAbortHandler) // cut the connection mid-frame
		case 1:
			// The backlog (last 3 sent), then new segments.
			for _, s := range segs[2:8] {
				c.segment(s)
			}
			return // a clean end at a frame boundary
		default:
			for _, s := range segs[5:] {
				c.segment(s)
			}
			c.heartbeats()
		}
	})
	r := startCapture(t, p, testKey, nil)
	expectInit(t, r.ev.next(t), in)
	for _, s := range segs[:5] {
		expectSegment(t, r.ev.next(t), s)
	}
	expectInit(t, r.ev.next(t), in) // re-emitted after the reconnect
	for _, s := range segs[5:8] {
		expectSegment(t, r.ev.next(t), s)
	}
	expectInit(t, r.ev.next(t), in)
	expectSegment(t, r.ev.next(t), segs[8])
	r.stop(t)
	r.ev.none(t)
	if n := p.conns.Load(); n != 3 {
		t.Fatalf("%d live connections, want 3", n)
	}
	logs := r.logs.String()
	for _, want := range []string{"bad data from source", "source ended the stream", "stream=cam", "url=m4f://"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

// segHeader is the header of a segment frame announcing size bytes.
func segHeader(s media.Segment, size uint32) []byte {
	meta := fmt.Sprintf(`{"start":%d,"duration":%d,"init":%q,"checksum":"00000000"}`, s.Start, s.Duration, s.InitHash)
	b := []byte{mm.TypeSegment}
	b = binary.BigEndian.AppendUint16(b, uint16(len(meta)))
	b = append(b, meta...)
	return binary.BigEndian.AppendUint32(b, size)
}

func TestCaptureHostilePeer(t *testing.T) {
	in := testInit(3)
	segs := make([]media.Segment, 4)
	for i := range segs {
		segs[i] = testSegment(in, i, 100_000)
	}
	bad := segs[1]
	tests := []struct {
		name string
		bad  func(t *testing.T, c *liveConn) // after init and segs[0]
		tune func(*Ingest)
		log  string
	}{
		{"truncated frame", func(t *testing.T, c *liveConn) {
			f := segFrame(t, bad)
			c.raw(f[:len(f)-10])
		}, nil, "body ended inside segment data"},
		{"truncated header", func(t *testing.T, c *liveConn) {
			c.raw(segFrame(t, bad)[:2])
		}, nil, "inside a frame header"},
		{"garbled bytes", func(t *testing.T, c *liveConn) {
			c.raw([]byte("\x00\x13garbage that is no frame at all"))
			c.stall()
		}, nil, "unknown frame type"},
		{"garbled meta", func(t *testing.T, c *liveConn) {
			f := segFrame(t, bad)
			copy(f[3:], "[[[")
			c.raw(f)
			c.stall()
		}, nil, "bad segment meta"},
		{"bad checksum", func(t *testing.T, c *liveConn) {
			f := segFrame(t, bad)
			f[len(f)-1] ^= 0x55
			c.raw(f)
			c.stall()
		}, nil, "checksum"},
		{"oversized 1 GiB announced", func(t *testing.T, c *liveConn) {
			c.raw(segHeader(bad, 1<<30))
			c.raw(make([]byte, 1<<20))
			c.stall()
		}, nil, "exceeds the 67108864-byte cap"},
		{"over the ingest cap", func(t *testing.T, c *liveConn) {
			c.segment(testSegment(in, 1, 300_000))
			c.stall()
		}, func(in *Ingest) { in.MaxSegment = 200_000 }, "exceeds the 200000-byte cap"},
		{"segment never ends", func(t *testing.T, c *liveConn) {
			f := segFrame(t, bad)
			c.raw(f[:len(f)/2])
			c.stall()
		}, nil, "source stalled"},
		{"60 MiB announced, never sent", func(t *testing.T, c *liveConn) {
			c.raw(segHeader(bad, 60<<20))
			c.raw(make([]byte, 100_000))
			c.stall()
		}, nil, "sent no frame for 300ms"},
		{"silent after init", func(t *testing.T, c *liveConn) {
			c.stall()
		}, nil, "source stalled"},
		{"end frame with a reason", func(t *testing.T, c *liveConn) {
			if c.err == nil {
				c.err = c.w.WriteError("stream removed")
			}
		}, nil, "source ended the stream: stream removed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t, func(c *liveConn) {
				c.init(in)
				c.segment(segs[0])
				if c.n == 0 {
					tc.bad(t, c)
					return
				}
				for _, s := range segs[1:] {
					c.segment(s)
				}
				c.heartbeats()
			})
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := startCapture(t, p, testKey, tc.tune)
			expectInit(t, r.ev.next(t), in)
			expectSegment(t, r.ev.next(t), segs[0])
			expectInit(t, r.ev.next(t), in) // the second connection; segs[0] is replayed and skipped
			for _, s := range segs[1:] {
				expectSegment(t, r.ev.next(t), s)
			}
			r.stop(t)
			runtime.ReadMemStats(&after)
			r.ev.none(t)
			if n := p.conns.Load(); n != 2 {
				t.Fatalf("%d live connections, want 2", n)
			}
			if testing.Verbose() {
				t.Log(r.logs.String())
			}
			if logs := r.logs.String(); !strings.Contains(logs, tc.log) || !strings.Contains(logs, "level=WARN") {
				t.Fatalf("logs lack a warning with %q:\n%s", tc.log, logs)
			}
			// The segments sent weigh under 2 MiB in all; a hostile frame
			// must not make the client allocate what it announces.
			if grown := after.TotalAlloc - before.TotalAlloc; grown > 40<<20 {
				t.Fatalf("capture allocated %d MiB", grown>>20)
			}
		})
	}
}

func TestCaptureWrongKey(t *testing.T) {
	const wrongKey = "wrong-key-9876543210"
	p := newPeer(t, func(c *liveConn) {
		t.Error("a live stream was served to a wrong key")
	})
	r := startCapture(t, p, wrongKey, nil)
	poll(t, "a retry after the 403", func() bool { return p.refused.Load() >= 2 })
	r.stop(t)
	r.ev.none(t)
	logs := r.logs.String()
	if testing.Verbose() {
		t.Log(logs)
	}
	for _, want := range []string{"source refused our signature: check cluster_key", "403 forbidden", "bad signature from node", "retry_in=100ms", "stream=cam"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, wrongKey) || strings.Contains(logs, testKey) {
		t.Fatalf("logs hold a key:\n%s", logs)
	}
}

func TestCaptureBadRequest(t *testing.T) {
	tests := []struct {
		name string
		req  sdk.CaptureRequest
		msg  string
	}{
		{"bad url", sdk.CaptureRequest{Stream: "cam", URL: "udp://1.2.3.4:5/cam", Node: "n"}, "scheme must be m4f://"},
		{"no node", sdk.CaptureRequest{Stream: "cam", URL: "m4f://127.0.0.1:1/cam"}, "no node name"},
		{"key in url", sdk.CaptureRequest{Stream: "cam", URL: "m4f://127.0.0.1:1/cam?key=" + testKey, Node: "n"}, "key= must be removed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := New(nil).Capture(t.Context(), tc.req, func(sdk.Event) error { t.Fatal("emitted"); return nil })
			if err == nil || !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), testKey) {
				t.Fatalf("got %v, want an error with %q", err, tc.msg)
			}
		})
	}
}

// TestCaptureEmitFails checks that Capture returns when the host has gone.
func TestCaptureEmitFails(t *testing.T) {
	in := testInit(1)
	p := newPeer(t, func(c *liveConn) {
		c.init(in)
		c.segment(testSegment(in, 0, 1000))
		c.heartbeats()
	})
	req := sdk.CaptureRequest{Stream: "cam", URL: "m4f://" + p.addr() + "/cam", Node: testNode, Key: testKey}
	gone := fmt.Errorf("host gone")
	err := New(nil).Capture(t.Context(), req, func(sdk.Event) error { return gone })
	if err == nil || !strings.Contains(err.Error(), "host gone") {
		t.Fatalf("got %v, want emit's error", err)
	}
}

// TestCaptureSlowHost checks that time spent in a blocked emit is not taken
// for a stalled source.
func TestCaptureSlowHost(t *testing.T) {
	in := testInit(1)
	segs := []media.Segment{testSegment(in, 0, 1000), testSegment(in, 1, 1000)}
	var p *peer
	p = newPeer(t, func(c *liveConn) {
		c.init(in)
		c.segment(segs[0])
		c.segment(segs[1])
		c.heartbeats()
	})
	logs := &logBuffer{}
	ing := New(logs.logger())
	ing.IdleTimeout = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan sdk.Event, 10)
	done := make(chan error, 1)
	req := sdk.CaptureRequest{Stream: "cam", URL: "m4f://" + p.addr() + "/cam", Node: testNode, Key: testKey}
	go func() {
		done <- ing.Capture(ctx, req, func(ev sdk.Event) error {
			if ev.Segment != nil && ev.Segment.Start == segs[0].Start {
				// Block while the source sends heartbeats for 4 idle timeouts.
				for deadline := time.Now().Add(waitFor); p.beats.Load() < 20 && time.Now().Before(deadline); {
					time.Sleep(5 * time.Millisecond)
				}
			}
			got <- ev
			return nil
		})
	}()
	for range 3 {
		select {
		case <-got:
		case <-time.After(waitFor):
			t.Fatal("no event in time")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := p.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1; logs:\n%s", n, logs)
	}
}
