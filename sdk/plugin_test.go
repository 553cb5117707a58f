package sdk

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgedvr/edge/media"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// capture runs Capture until it has received n segments, then cancels it.
func capture(t *testing.T, ing Ingest, url string, n int) (media.Init, []media.Segment, media.Stats, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var (
		in    media.Init
		segs  []media.Segment
		stats media.Stats
	)
	err := ing.Capture(ctx, CaptureRequest{Stream: "cam1", URL: url, SegmentDuration: 2 * time.Second}, func(e Event) error {
		stats = e.Stats
		switch {
		case e.Init != nil:
			in = *e.Init
		case e.Segment != nil:
			if in.Hash == "" {
				t.Errorf("segment before init")
			}
			segs = append(segs, *e.Segment)
		}
		if len(segs) == n {
			cancel()
		}
		return nil
	})
	return in, segs, stats, err
}

// TestCaptureGracefulStop: when the host's ctx ends, the plugin still gets
// to send the segment it flushes, so a graceful stop loses nothing.
func TestCaptureGracefulStop(t *testing.T) {
	s := startSupervisor(t, &Supervisor{Name: "udp", Kind: KindIngest, Command: helperCommand("ingest")})
	ing, err := s.Ingest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_, segs, _, err := capture(t, ing, "test://flush?segments=2&size=10", 2)
	if err != nil {
		t.Fatalf("Capture: %v", err)
	}
	if len(segs) != 3 || string(segs[2].Data) != "flushed" {
		t.Fatalf("got %d segments, want 2 then the flushed one", len(segs))
	}
}

func TestCaptureRoundTrip(t *testing.T) {
	s := startSupervisor(t, &Supervisor{Name: "udp", Kind: KindIngest, Command: helperCommand("ingest")})
	ing, err := s.Ingest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{0, 1, 188 * 7, 1 << 20, 5<<20 + 3}
	for _, size := range sizes {
		in, segs, stats, err := capture(t, ing, "test://segments?segments=3&size="+itoa(size), 3)
		if err != nil {
			t.Fatalf("size %d: capture: %v", size, err)
		}
		want := testInit()
		if in.Hash != want.Hash || !bytes.Equal(in.Data, want.Data) || in.Codecs != want.Codecs || in.Width != 1280 || in.Height != 720 {
			t.Fatalf("size %d: init = %+v, want %+v", size, in, want)
		}
		if len(segs) != 3 {
			t.Fatalf("size %d: got %d segments, want 3", size, len(segs))
		}
		for i, seg := range segs {
			if !bytes.Equal(seg.Data, segmentData(i, size)) {
				t.Fatalf("size %d: segment %d bytes differ", size, i)
			}
			if seg.Start != 1_700_000_000_000+int64(i)*2000 || seg.Duration != 2000 || seg.InitHash != want.Hash {
				t.Fatalf("size %d: segment %d = start %d dur %d init %s", size, i, seg.Start, seg.Duration, seg.InitHash)
			}
		}
		if stats != (media.Stats{Packets: 7, CCErrors: 1, Segments: 3}) {
			t.Fatalf("size %d: stats = %+v", size, stats)
		}
	}
}

func TestCapturePluginError(t *testing.T) {
	s := startSupervisor(t, &Supervisor{Name: "udp", Kind: KindIngest, Command: helperCommand("ingest")})
	ing, err := s.Ingest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = capture(t, ing, "test://fail", 1)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "capture cam1: source not found") {
		t.Fatalf("capture error = %v, want one wrapping ErrNotFound with the plugin's message", err)
	}
	// emit's error ends Capture and comes back as is.
	stop := errors.New("host is done")
	err = ing.Capture(t.Context(), CaptureRequest{Stream: "cam1", URL: "test://repeat?size=10"}, func(Event) error { return stop })
	if err != stop {
		t.Fatalf("capture with failing emit = %v, want %v", err, stop)
	}
}

func TestCaptureOversize(t *testing.T) {
	s := startSupervisor(t, &Supervisor{Name: "udp", Kind: KindIngest, Command: helperCommand("ingest")})
	ing, err := s.Ingest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_, segs, _, err := capture(t, ing, "test://oversize", 1)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "sdk.MaxSegmentSize") {
		t.Fatalf("capture of oversized segment = %v, want an ErrTooLarge that names the limit", err)
	}
	if len(segs) != 0 {
		t.Fatalf("got %d segments, want none", len(segs))
	}
	if _, err := eventToPB(Event{Init: &media.Init{}, Segment: &media.Segment{}}); !errors.Is(err, errBadEvent) {
		t.Fatalf("event with init and segment: %v, want errBadEvent", err)
	}
	// A stats-only event crosses as one.
	pe, err := eventToPB(Event{Stats: media.Stats{GarbageBytes: 42}})
	if err != nil {
		t.Fatal(err)
	}
	back, err := eventFromPB(pe)
	if err != nil || back.Init != nil || back.Segment != nil || back.Stats.GarbageBytes != 42 {
		t.Fatalf("stats-only event came back as %+v, %v", back, err)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	var opened int
	s := &Supervisor{Name: "dvrstore", Kind: KindDVRStore, Command: helperCommand("both")}
	s.OnStart = func(ctx context.Context) error {
		st, err := s.Store(ctx)
		if err != nil {
			return err
		}
		opened++
		return st.OpenStream(ctx, StreamConfig{Stream: "cam1", Root: "/archive", Depth: time.Hour, MaxSize: 1 << 30})
	}
	startSupervisor(t, s)
	if opened != 1 {
		t.Fatalf("OnStart ran %d times, want 1", opened)
	}
	ctx := t.Context() // no deadline: the client adds DefaultCallTimeout
	st, err := s.Store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := testInit()
	if err := st.WriteInit(ctx, "cam1", in); err != nil {
		t.Fatalf("write init: %v", err)
	}
	var infos []SegmentInfo
	for i := range 3 {
		data := segmentData(i, 1000+i)
		info, err := st.WriteSegment(ctx, "cam1", media.Segment{Start: 10_000 + int64(i)*2000, Duration: 2000, InitHash: in.Hash, Data: data})
		if err != nil {
			t.Fatalf("write segment %d: %v", i, err)
		}
		want := SegmentInfo{Start: 10_000 + int64(i)*2000, Duration: 2000, Size: int64(len(data)), InitHash: in.Hash, Checksum: media.Checksum(data), Path: "/archive/cam1/" + itoa(10_000+i*2000) + ".m4s"}
		if info != want {
			t.Fatalf("segment %d info = %+v, want %+v", i, info, want)
		}
		infos = append(infos, info)
	}
	if _, err := st.WriteSegment(ctx, "cam1", media.Segment{Start: 0, Duration: 1}); err == nil || !strings.Contains(err.Error(), "before the end of the last one") {
		t.Fatalf("out-of-order write = %v, want the plugin's error", err)
	}

	tests := []struct {
		name string
		call func() (any, error)
		want any
	}{
		{"ranges all", func() (any, error) { return st.Ranges(ctx, "cam1", 0, 1e6) }, []Range{{10_000, 16_000}}},
		{"ranges none", func() (any, error) { return st.Ranges(ctx, "cam1", 0, 1000) }, []Range(nil)},
		{"segments middle", func() (any, error) { return st.Segments(ctx, "cam1", 12_000, 14_000) }, infos[1:2]},
		{"segments none", func() (any, error) { return st.Segments(ctx, "cam1", 0, 1) }, []SegmentInfo(nil)},
		{"streams", func() (any, error) { return st.Streams(ctx) }, []string{"cam1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call()
			if err != nil {
				t.Fatal(err)
			}
			if !equalAny(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}

	gotInit, err := st.ReadInit(ctx, "cam1", in.Hash)
	if err != nil || gotInit.Hash != in.Hash || !bytes.Equal(gotInit.Data, in.Data) || gotInit.Codecs != in.Codecs || gotInit.Width != in.Width {
		t.Fatalf("read init = %+v, %v", gotInit, err)
	}
	data, err := st.ReadSegment(ctx, "cam1", 12_000)
	if err != nil || !bytes.Equal(data, segmentData(1, 1001)) {
		t.Fatalf("read segment: %v (bytes equal: %v)", err, bytes.Equal(data, segmentData(1, 1001)))
	}

	notFound := []struct {
		name string
		call func() error
		msg  string
	}{
		{"init", func() error { _, err := st.ReadInit(ctx, "cam1", "nope"); return err }, "read init cam1/nope: not found"},
		{"segment", func() error { _, err := st.ReadSegment(ctx, "cam1", 1); return err }, "read segment cam1/1: not found"},
	}
	for _, tt := range notFound {
		err := tt.call()
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tt.msg) {
			t.Fatalf("%s: err = %v, want ErrNotFound with %q", tt.name, err, tt.msg)
		}
	}
	// An error that is not a sentinel keeps its message and is not ErrNotFound.
	if err := st.WriteInit(ctx, "other", in); err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "stream other: not opened") {
		t.Fatalf("write init to unopened stream = %v", err)
	}
}

func TestStoreOversize(t *testing.T) {
	s := startSupervisor(t, &Supervisor{Name: "dvrstore", Kind: KindDVRStore, Command: helperCommand("both")})
	st, err := s.Store(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := st.OpenStream(ctx, StreamConfig{Stream: "cam1", Root: "/a"}); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, MaxSegmentSize+1)
	if _, err := st.WriteSegment(ctx, "cam1", media.Segment{Start: 1, Duration: 1, Data: big}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("write of oversized segment = %v, want ErrTooLarge", err)
	}
	if err := st.WriteInit(ctx, "cam1", media.Init{Hash: "x", Data: big}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("write of oversized init = %v, want ErrTooLarge", err)
	}
	// The largest allowed segment goes through.
	max := make([]byte, MaxSegmentSize)
	max[len(max)-1] = 7
	if _, err := st.WriteSegment(ctx, "cam1", media.Segment{Start: 1, Duration: 1, Data: max}); err != nil {
		t.Fatalf("write of a MaxSegmentSize segment: %v", err)
	}
	got, err := st.ReadSegment(ctx, "cam1", 1)
	if err != nil || !bytes.Equal(got, max) {
		t.Fatalf("read back MaxSegmentSize segment: %v", err)
	}
	// A plugin that returns too much is refused on its own side.
	if _, err := st.ReadSegment(ctx, "cam1", -1); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "sdk.MaxSegmentSize") {
		t.Fatalf("read of oversized segment = %v, want ErrTooLarge", err)
	}
}

func TestCallContext(t *testing.T) {
	ctx, cancel := callContext(context.Background())
	defer cancel()
	dl, ok := ctx.Deadline()
	if !ok || time.Until(dl) > DefaultCallTimeout || time.Until(dl) < DefaultCallTimeout/2 {
		t.Fatalf("default deadline = %v, %v; want about %v from now", dl, ok, DefaultCallTimeout)
	}
	want := time.Now().Add(time.Minute)
	parent, cancel2 := context.WithDeadline(context.Background(), want)
	defer cancel2()
	ctx, cancel3 := callContext(parent)
	defer cancel3()
	if dl, _ := ctx.Deadline(); !dl.Equal(want) {
		t.Fatalf("caller's deadline changed to %v, want %v", dl, want)
	}
}

func TestVersionMismatch(t *testing.T) {
	s := &Supervisor{Name: "old", Kind: KindIngest, Command: helperCommand("v99")}
	err := s.Start(t.Context())
	defer s.Close()
	if !errors.Is(err, ErrVersionMismatch) || !strings.Contains(err.Error(), "Plugin version: 99") || !strings.Contains(err.Error(), "host speaks version 1") {
		t.Fatalf("start = %v, want ErrVersionMismatch naming both versions", err)
	}
	if _, err := s.Ingest(t.Context()); err == nil {
		t.Fatal("Ingest after a failed start succeeded")
	}
}

func TestWrongKind(t *testing.T) {
	s := startSupervisor(t, &Supervisor{Name: "udp", Kind: KindDVRStore, Command: helperCommand("ingest")})
	st, err := s.Store(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Streams(t.Context()); err == nil || !strings.Contains(err.Error(), "does not implement") {
		t.Fatalf("store call on an ingest-only plugin = %v", err)
	}
	if _, err := s.Ingest(t.Context()); err == nil {
		t.Fatal("Ingest on a store supervisor succeeded")
	}
}

func TestServedWithoutHost(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = []string{helperEnv + "=ingest"}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "This binary is a plugin") {
		t.Fatalf("plugin run by hand: err %v, output %q", err, out)
	}
	if err := Serve(ServeConfig{}); err == nil {
		t.Fatal("Serve with nothing to serve succeeded")
	}
}

func TestRestartAfterKill(t *testing.T) {
	var mu sync.Mutex
	var onStart, onRestart int
	s := &Supervisor{Name: "dvrstore", Kind: KindDVRStore, Command: helperCommand("both")}
	s.OnStart = func(ctx context.Context) error {
		mu.Lock()
		onStart++
		mu.Unlock()
		st, err := s.Store(ctx)
		if err != nil {
			return err
		}
		return st.OpenStream(ctx, StreamConfig{Stream: "cam1", Root: "/a"})
	}
	s.OnRestart = func() { mu.Lock(); onRestart++; mu.Unlock() }
	startSupervisor(t, s)
	old, err := s.Store(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	pid := s.Pid()
	if pid <= 0 {
		t.Fatalf("pid = %d", pid)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// A call on the dead process fails promptly, as unavailable.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	waitFor(t, "a call on the killed process to fail", 10*time.Second, func() bool {
		_, err := old.Streams(ctx)
		if err != nil && !errors.Is(err, ErrUnavailable) {
			t.Fatalf("call on killed process = %v, want ErrUnavailable", err)
		}
		return err != nil
	})
	waitFor(t, "the restart", 20*time.Second, func() bool { return s.Restarts() == 1 && s.Pid() != 0 })
	if s.Pid() == pid {
		t.Fatal("pid did not change")
	}
	mu.Lock()
	if onStart != 2 || onRestart != 1 {
		t.Fatalf("OnStart ran %d times, OnRestart %d; want 2 and 1", onStart, onRestart)
	}
	mu.Unlock()
	st, err := s.Store(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// OnStart re-opened the stream on the new process.
	if _, err := st.Ranges(t.Context(), "cam1", 0, 1); err != nil {
		t.Fatalf("call on the restarted process: %v", err)
	}
}

func TestIngestRestartAndLogs(t *testing.T) {
	var logs syncBuffer
	s := startSupervisor(t, &Supervisor{Name: "udp", Kind: KindIngest, Command: helperCommand("ingest"),
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	ing, err := s.Ingest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Kill the process in the middle of a Capture: the Capture ends with
	// ErrUnavailable, and a new Capture on the new process succeeds.
	pid := s.Pid()
	done := make(chan error, 1)
	go func() {
		done <- ing.Capture(t.Context(), CaptureRequest{Stream: "cam1", URL: "test://segments?segments=1&size=10"}, func(e Event) error {
			if e.Segment != nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			return nil
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("capture on a killed process = %v, want ErrUnavailable", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("capture did not end after its process was killed")
	}
	waitFor(t, "the restart", 20*time.Second, func() bool { return s.Restarts() == 1 })
	wctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	ing, err = s.Ingest(wctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, segs, _, err := capture(t, ing, "test://segments?segments=2&size=100", 2); err != nil || len(segs) != 2 {
		t.Fatalf("capture after restart: %d segments, %v", len(segs), err)
	}
	// The plugin's slog line came through the host's logger with its
	// attributes, tagged with the plugin name; the restart was logged.
	waitFor(t, "the plugin's log line", 10*time.Second, func() bool {
		l := logs.String()
		return strings.Contains(l, `"msg":"capture started","plugin":"udp"`) && strings.Contains(l, `"stream":"cam1"`) &&
			strings.Contains(l, `"msg":"plugin restarted","plugin":"udp"`)
	})
}

func TestCloseWhileWaiting(t *testing.T) {
	s := &Supervisor{Name: "udp", Kind: KindIngest, Command: helperCommand("ingest")}
	if _, err := s.Ingest(t.Context()); err == nil {
		t.Fatal("Ingest before Start succeeded")
	}
	startSupervisor(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ingest(t.Context()); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Ingest after Close = %v", err)
	}
	if s.Pid() != 0 {
		t.Fatalf("pid after Close = %d", s.Pid())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
