package udp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/sdk"
)

// Multicast on loopback: a sender bound to 127.0.0.1 (ffmpeg's localaddr)
// routes multicast out of lo even without the MULTICAST flag on lo, and a
// receiver that joins on lo gets it, so these tests change nothing on the host.

func TestCaptureUDP(t *testing.T) {
	t.Parallel()
	ffmpegPath(t)
	const secs = 4.0
	tests := []struct {
		name  string
		group string // multicast group, or "" for unicast on 127.0.0.1
		opts  string
		want  bool // segments expected
	}{
		{name: "unicast", want: true},
		{name: "unicast iface", opts: "iface=lo", want: true},
		{name: "unicast source", opts: "source=127.0.0.1", want: true},
		{name: "unicast other source", opts: "source=127.0.0.2", want: false},
		{name: "multicast", group: "239.255.42.1", opts: "iface=lo", want: true},
		{name: "multicast ssm", group: "239.255.42.2", opts: "iface=lo&source=127.0.0.1", want: true},
		{name: "multicast ssm other source", group: "239.255.42.3", opts: "iface=lo&source=127.0.0.2", want: false},
	}
	// One encoder feeds every case at once (ffmpeg's tee muxer), so the
	// cases share one few seconds of real time.
	captures := make([]*capture, len(tests))
	var outs []string
	for i, tt := range tests {
		port := freeUDPPort(t)
		host, out := "127.0.0.1", fmt.Sprintf("[f=mpegts]udp://127.0.0.1:%d?pkt_size=1316", port)
		if tt.group != "" {
			host = tt.group
			out = fmt.Sprintf("[f=mpegts]udp://%s:%d?pkt_size=1316&localaddr=127.0.0.1&ttl=1", tt.group, port)
		}
		url := fmt.Sprintf("udp://%s:%d", host, port)
		if tt.opts != "" {
			url += "?" + tt.opts
		}
		captures[i] = startCapture(t, url, time.Second)
		outs = append(outs, out)
	}
	args := ffmpegSource(secs, true, strings.Join(outs, "|"))
	args = append(args[:len(args)-4], "-map", "0:v", "-map", "1:a", "-f", "tee", "-y", args[len(args)-1])
	before := make([]uint64, len(tests))
	runFFmpeg(t, args...)
	for i, c := range captures {
		before[i] = c.waitStats(t, "stats", func(Stats) bool { return true }).Silences
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := captures[i]
			if tt.want {
				// The second of silence after the sender flushes the last segment.
				c.waitStats(t, "silence after the sender", func(st Stats) bool { return st.Silences > before[i] })
			}
			evs := c.stop(t)
			checkOrder(t, evs)
			segs := segments(evs)
			if !tt.want {
				if len(evs) != 0 {
					t.Fatalf("got %d events from a filtered sender, want none", len(evs))
				}
				return
			}
			if len(segs) < 2 || evs[0].Init == nil {
				t.Fatalf("got %d events, %d segments; want an init first and segments", len(evs), len(segs))
			}
			got := totalDuration(segs)
			if d := got - secs*time.Second; d < -time.Second || d > time.Second {
				t.Fatalf("segments last %v in all, want %v within one segment (1s)", got, secs*time.Second)
			}
			last := evs[len(evs)-1].Stats
			if last.Segments == 0 || last.Packets == 0 || last.Frames == 0 {
				t.Fatalf("stats of the last event do not count what was seen: %+v", last)
			}
		})
	}
}

func TestCaptureUDPSourceFilterCounts(t *testing.T) {
	t.Parallel()
	port := freeUDPPort(t)
	c := startCapture(t, fmt.Sprintf("udp://127.0.0.1:%d?source=127.0.0.2", port), time.Second)
	conn, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pkt := make([]byte, 1316)
	for i := 0; i < 100; i++ {
		if _, err := conn.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	st := c.waitStats(t, "foreign datagrams", func(st Stats) bool { return st.Foreign >= 100 })
	if st.Bytes != 100*1316 || st.Packets != 0 {
		t.Fatalf("stats %+v: want 100 datagrams of 1316 bytes dropped before the segmenter", st)
	}
	if evs := c.stop(t); len(evs) != 0 {
		t.Fatalf("got %d events, want none", len(evs))
	}
}

func TestCaptureUDPSilence(t *testing.T) {
	t.Parallel()
	ffmpegPath(t)
	port := freeUDPPort(t)
	c := startCapture(t, fmt.Sprintf("udp://127.0.0.1:%d", port), time.Second)
	out := fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port)
	const outage = 3 * time.Second

	sendTS(t, 3, out)
	firstDone := time.Now()
	sentFirst := c.waitStats(t, "data", func(st Stats) bool { return st.Datagrams > 0 })
	c.waitStats(t, "silence after the first sender", func(st Stats) bool { return st.Silences > sentFirst.Silences })
	before := len(segments(c.snapshot()))
	time.Sleep(outage - time.Second) // the outage itself; one second of it has passed
	secondStart := time.Now()
	sendTS(t, 3, out)
	secondDone := time.Now()
	sentSecond := c.waitStats(t, "stats", func(Stats) bool { return true })
	c.waitStats(t, "silence after the second sender", func(st Stats) bool { return st.Silences > sentSecond.Silences })
	evs := c.stop(t)
	checkOrder(t, evs)
	segs := segments(evs)
	if before == 0 || len(segs) <= before {
		t.Fatalf("got %d segments before the outage and %d in all; want some on both sides", before, len(segs))
	}
	// Exactly one gap, where the outage was.
	at, gap := 0, time.Duration(0)
	for i := 1; i < len(segs); i++ {
		d := time.Duration(segs[i].Start-segs[i-1].End()) * time.Millisecond
		if d > 50*time.Millisecond || d < -50*time.Millisecond {
			if at != 0 {
				t.Fatalf("gaps between segments %d and %d and between %d and %d, want one", at-1, at, i-1, i)
			}
			at, gap = i, d
		}
	}
	if at != before {
		t.Fatalf("the gap is before segment %d, want before %d (the first after the outage)", at, before)
	}
	// No gluing: the timeline after the outage is anchored to the wall
	// clock, so the gap is about the outage (plus ffmpeg's start-up).
	t.Logf("gap across the outage: %v; first sender ended %s, second ran %s to %s", gap,
		firstDone.Format("15:04:05.000"), secondStart.Format("15:04:05.000"), secondDone.Format("15:04:05.000"))
	// At most the time from the end of the first sender to the end of the
	// second one, whatever its start-up took.
	if gap < outage-time.Second || gap > secondDone.Sub(firstDone) {
		for _, s := range segs {
			t.Logf("segment %s + %d ms", time.UnixMilli(s.Start).Format("15:04:05.000"), s.Duration)
		}
		t.Fatalf("gap across the outage is %v, want about %v (first sender ended %s, second ran %s to %s)", gap, outage,
			firstDone.Format("15:04:05.000"), secondStart.Format("15:04:05.000"), secondDone.Format("15:04:05.000"))
	}
}

func TestCaptureUDPGarbage(t *testing.T) {
	t.Parallel()
	ffmpegPath(t)
	port := freeUDPPort(t)
	c := startCapture(t, fmt.Sprintf("udp://127.0.0.1:%d", port), time.Second)
	conn, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	garbageDone := make(chan error, 1)
	go func() {
		garbageDone <- sendGarbage(ctx, conn)
	}()
	sendTS(t, 3, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port))
	cancel()
	if err := <-garbageDone; err != nil {
		t.Fatal(err)
	}
	st := c.waitStats(t, "garbage counted", func(st Stats) bool { return st.GarbageBytes > 0 && st.Truncated > 0 })
	evs := c.stop(t)
	checkOrder(t, evs)
	if len(segments(evs)) == 0 {
		t.Fatalf("no segments from a stream with garbage mixed in; stats %+v", st)
	}
	if last := evs[len(evs)-1].Stats; last.GarbageBytes == 0 {
		t.Fatalf("events' stats do not count the garbage: %+v", last)
	}
}

// sendGarbage sends random datagrams, oversized ones and cut TS packets
// until ctx is done.
func sendGarbage(ctx context.Context, conn net.Conn) error {
	big := make([]byte, 3000)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var p []byte
		switch i % 3 {
		case 0:
			p = make([]byte, 1+i%1400)
			rand.Read(p)
		case 1:
			rand.Read(big)
			p = big
		case 2:
			p = make([]byte, 100) // a TS packet cut short
			p[0], p[1], p[2], p[3] = 0x47, 0x41, 0x00, 0x10
		}
		if _, err := conn.Write(p); err != nil {
			return fmt.Errorf("send garbage: %w", err)
		}
	}
}

func TestCaptureFileLoops(t *testing.T) {
	t.Parallel()
	ffmpegPath(t)
	path := filepath.Join(t.TempDir(), "four seconds.ts")
	runFFmpeg(t, ffmpegSource(4, false, path)...)

	start := time.Now()
	c := startCapture(t, "file://"+path, time.Second) // the path as written: the space is not escaped
	c.waitEvents(t, "10 s of segments", func(evs []sdk.Event) bool {
		return totalDuration(segments(evs)) >= 10*time.Second
	})
	elapsed := time.Since(start)
	st, _ := c.in.Stats(c.stream)
	evs := c.stop(t)
	checkOrder(t, evs)
	segs := segments(evs)
	total := totalDuration(segs)
	if st.Loops < 2 {
		t.Fatalf("file looped %d times, want at least 2 for %v of segments", st.Loops, total)
	}
	// Paced in real time, not read as fast as possible. (One-sided: a slow
	// machine only makes this more true.)
	if elapsed < total*7/10 {
		t.Fatalf("got %v of segments in %v of wall time: not paced", total, elapsed)
	}
	for i := 1; i < len(segs); i++ {
		if d := segs[i].Start - segs[i-1].End(); d < -1 || d > 45 {
			t.Fatalf("segments %d and %d are %d ms apart, want contiguous within a frame (40 ms)", i-1, i, d)
		}
	}
}

func TestCaptureFileErrors(t *testing.T) {
	dir := t.TempDir()
	noClock := filepath.Join(dir, "nulls.ts")
	null := make([]byte, 188*1000)
	for i := 0; i < len(null); i += 188 {
		null[i], null[i+1], null[i+2], null[i+3] = 0x47, 0x1f, 0xff, 0x10
	}
	empty := filepath.Join(dir, "empty.ts")
	for p, data := range map[string][]byte{noClock: null, empty: nil} {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		url, wantErr string
	}{
		{"file://" + filepath.Join(dir, "missing.ts"), "no such file"},
		{"file://" + dir, "is a directory"},
		{"file://" + noClock, "no PCR or PTS"},
		{"file://" + empty, "file is empty"},
		{"udp://127.0.0.1:1?iface=nosuchif0", "interface"},
		{"udp://127.0.0.1:1?bogus=1", "unknown parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := New(nil).Capture(ctx, sdk.CaptureRequest{Stream: "x", URL: tt.url, SegmentDuration: time.Second},
				func(sdk.Event) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Capture(%s) = %v, want an error containing %q", tt.url, err, tt.wantErr)
			}
			if ctx.Err() != nil {
				t.Fatalf("Capture(%s) took until the deadline to fail", tt.url)
			}
		})
	}
}

func TestCaptureEmitError(t *testing.T) {
	t.Parallel()
	ffmpegPath(t)
	path := filepath.Join(t.TempDir(), "a.ts")
	runFFmpeg(t, ffmpegSource(2, false, path)...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	gone := fmt.Errorf("host gone")
	calls := 0
	err := New(nil).Capture(ctx, sdk.CaptureRequest{Stream: "x", URL: "file://" + path, SegmentDuration: time.Second},
		func(sdk.Event) error { calls++; return gone })
	if !errors.Is(err, gone) || calls != 1 {
		t.Fatalf("Capture = %v after %d emits, want %v after 1", err, calls, gone)
	}
}
