package node

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgedvr/edge/config"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// The end-to-end tests in cmd/edge run failover with real processes and
// ffmpeg; these pin the stream's state machine down in-process, with ingest
// plugins the test drives segment by segment.

// fakeSource is a fake input: while on, it emits its init and then a segment
// each time the test calls tick.
type fakeSource struct {
	mu   sync.Mutex
	on   bool
	init media.Init
	next int64 // start of its next segment, UTC ms
	subs []chan media.Segment
}

func newSource(name string, start int64) *fakeSource {
	data := []byte("init of " + name)
	return &fakeSource{init: media.Init{Hash: media.InitHash(data), Data: data}, next: start}
}

// tick emits one 1 s segment to the running captures, if the source is on.
func (s *fakeSource) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	seg := media.Segment{Start: s.next, Duration: 1000, InitHash: s.init.Hash, Data: []byte{byte(s.next)}}
	s.next += 1000
	if !s.on {
		return
	}
	for _, c := range s.subs {
		c <- seg
	}
}

func (s *fakeSource) set(on bool) { s.mu.Lock(); s.on = on; s.mu.Unlock() }

// ingest serves every source by URL.
type ingest map[string]*fakeSource

func (in ingest) Capture(ctx context.Context, req sdk.CaptureRequest, emit func(sdk.Event) error) error {
	src := in[req.URL]
	c := make(chan media.Segment, 16)
	src.mu.Lock()
	src.subs = append(src.subs, c)
	init := src.init
	src.mu.Unlock()
	defer func() {
		src.mu.Lock()
		for i, x := range src.subs {
			if x == c {
				src.subs = append(src.subs[:i], src.subs[i+1:]...)
				break
			}
		}
		src.mu.Unlock()
	}()
	if err := emit(sdk.Event{Init: &init}); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case seg := <-c:
			if err := emit(sdk.Event{Segment: &seg}); err != nil {
				return err
			}
		}
	}
}

func newTestStream(t *testing.T, timeout time.Duration, srcs ingest, urls ...string) *Stream {
	t.Helper()
	topo := &config.Topology{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n := &Node{log: log, cfg: Config{
		Topology:   topo,
		Node:       &config.Node{Name: "test"},
		Logger:     log,
		Metrics:    NewMetrics(prometheus.NewRegistry()),
		LiveWindow: 100,
		Plugins: Plugins{Ingest: func(context.Context, string) (sdk.Ingest, error) {
			return srcs, nil
		}},
	}}
	s, err := n.newStream(&config.Stream{Name: "cam", Inputs: urls, SourceTimeout: config.Duration(timeout)}, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFailoverAndBack(t *testing.T) {
	// Both sources run on the same clock; the fallback's timeline is its own.
	primary, backup := newSource("primary", 1_000_000), newSource("backup", 1_000_000)
	srcs := ingest{"udp://127.0.0.1:1": primary, "udp://127.0.0.1:2": backup}
	s := newTestStream(t, 600*time.Millisecond, srcs, "udp://127.0.0.1:1", "udp://127.0.0.1:2")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	live := func() []media.Segment {
		var out []media.Segment
		for _, ls := range s.live.Snapshot().Segments {
			out = append(out, ls.Segment)
		}
		return out
	}
	tickBoth := func(n int) {
		for range n {
			primary.tick()
			backup.tick()
			time.Sleep(20 * time.Millisecond)
		}
	}

	primary.set(true)
	backup.set(true)
	waitFor(t, "the primary's capture", func() bool { primary.mu.Lock(); defer primary.mu.Unlock(); return len(primary.subs) == 1 })
	tickBoth(3)
	waitFor(t, "3 segments from the primary", func() bool { return len(live()) == 3 })
	backup.mu.Lock()
	captured := len(backup.subs) > 0
	backup.mu.Unlock()
	if captured {
		t.Fatal("the fallback is captured while the primary is healthy")
	}

	// The primary goes quiet: after source_timeout the fallback takes over.
	primary.set(false)
	waitFor(t, "the switch to the fallback", func() bool { return s.ActiveInput() == 1 })
	waitFor(t, "the fallback's capture", func() bool { backup.mu.Lock(); defer backup.mu.Unlock(); return len(backup.subs) == 1 })
	tickBoth(3)
	waitFor(t, "segments from the fallback", func() bool {
		l := live()
		return l[len(l)-1].InitHash == backup.init.Hash
	})

	// The primary is back: it takes over on its next segment, and the
	// fallback's capture stops.
	primary.set(true)
	tickBoth(3)
	waitFor(t, "the switch back", func() bool { return s.ActiveInput() == 0 })
	waitFor(t, "the fallback's capture to stop", func() bool { backup.mu.Lock(); defer backup.mu.Unlock(); return len(backup.subs) == 0 })
	tickBoth(2)
	waitFor(t, "the primary's segments again", func() bool {
		l := live()
		return l[len(l)-1].InitHash == primary.init.Hash
	})

	// The recorded timeline never overlaps and strictly increases.
	l := live()
	for i := 1; i < len(l); i++ {
		if l[i].Start < l[i-1].End() {
			t.Fatalf("segment %d starts at %d, before the previous ends at %d", i, l[i].Start, l[i-1].End())
		}
	}
	runs := []string{l[0].InitHash}
	for _, seg := range l[1:] {
		if seg.InitHash != runs[len(runs)-1] {
			runs = append(runs, seg.InitHash)
		}
	}
	if len(runs) != 3 || runs[0] != primary.init.Hash || runs[1] != backup.init.Hash || runs[2] != primary.init.Hash {
		t.Fatalf("recorded runs of inputs %v, want primary, fallback, primary", runs)
	}
}

func TestRedactKey(t *testing.T) {
	for in, want := range map[string]string{
		"m4f://o1/cam":                          "m4f://o1/cam",
		"m4f://o1/cam?key=secret":               "m4f://o1/cam?key=REDACTED",
		"m4f://o1/cam?remote_dvr=chain&key=abc": "m4f://o1/cam?key=REDACTED&remote_dvr=chain",
		"udp://239.1.2.3:1234?iface=eth0":       "udp://239.1.2.3:1234?iface=eth0",
	} {
		if got := redactKey(in); got != want {
			t.Errorf("redactKey(%q) = %q, want %q", in, got, want)
		}
	}
}
