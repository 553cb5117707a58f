package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/edgedvr/edge/media"
)

// The tests run this test binary itself as the plugin process: with
// helperEnv set, TestMain serves a test plugin instead of running tests.
const helperEnv = "EDGE_SDK_TEST_PLUGIN"

func TestMain(m *testing.M) {
	switch mode := os.Getenv(helperEnv); mode {
	case "":
		os.Exit(m.Run())
	case "both":
		serveOrExit(ServeConfig{Ingest: testIngest{}, Store: newMapStore()}, Handshake)
	case "ingest":
		serveOrExit(ServeConfig{Ingest: testIngest{}}, Handshake)
	case "balancer":
		serveOrExit(ServeConfig{Balancer: testBalancer{}}, Handshake)
	case "viewer-balancer":
		serveOrExit(ServeConfig{Balancer: viewerBalancer{}}, Handshake)
	case "closer":
		serveOrExit(ServeConfig{Store: closingStore{Store: newMapStore(), marker: os.Getenv(closedEnv)}}, Handshake)
	case "v99":
		hs := Handshake
		hs.ProtocolVersion = 99
		serveOrExit(ServeConfig{Ingest: testIngest{}, Store: newMapStore()}, hs)
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", helperEnv, mode)
		os.Exit(2)
	}
}

func serveOrExit(cfg ServeConfig, hs plugin.HandshakeConfig) {
	if err := serve(cfg, hs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// helperCommand returns a Command factory that runs the test binary as the
// plugin in mode.
func helperCommand(mode string) func() *exec.Cmd {
	return func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = []string{helperEnv + "=" + mode}
		return cmd
	}
}

// segmentData is the deterministic content of segment i of size n; host
// and plugin compute it independently.
func segmentData(i, n int) []byte {
	var seed [32]byte
	seed[0], seed[1] = byte(i), byte(i>>8)
	r := rand.NewChaCha8(seed)
	b := make([]byte, n)
	_, _ = r.Read(b)
	return b
}

// testInit is the init the test ingest emits.
func testInit() media.Init {
	data := segmentData(9999, 700)
	return media.Init{Hash: media.InitHash(data), Data: data, Codecs: "avc1.64001f,mp4a.40.2", Width: 1280, Height: 720}
}

// testIngest captures URLs of the form test://NAME?segments=N&size=B:
//
//	test://segments  emits the init, then N segments of B bytes, then waits
//	test://repeat    emits the init, then the same B-byte segment until ctx ends
//	test://oversize  emits the init, then a segment of MaxSegmentSize+1 bytes
//	test://fail      returns an error wrapping ErrNotFound at once
//	test://flush     like segments, then on stop emits one more ("flushed") segment
type testIngest struct{}

func (testIngest) Capture(ctx context.Context, req CaptureRequest, emit func(Event) error) error {
	u, err := url.Parse(req.URL)
	if err != nil {
		return err
	}
	q := u.Query()
	n, _ := strconv.Atoi(q.Get("segments"))
	size, _ := strconv.Atoi(q.Get("size"))
	slog.Info("capture started", "stream", req.Stream, "url", req.URL)
	if u.Host == "fail" {
		return fmt.Errorf("capture %s: source %w", req.Stream, ErrNotFound)
	}
	in := testInit()
	stats := media.Stats{Packets: 7, CCErrors: 1}
	if err := emit(Event{Init: &in, Stats: stats}); err != nil {
		return err
	}
	seg := func(i int, data []byte) error {
		stats.Segments++
		return emit(Event{Segment: &media.Segment{Start: 1_700_000_000_000 + int64(i)*2000, Duration: 2000, InitHash: in.Hash, Data: data}, Stats: stats})
	}
	switch u.Host {
	case "segments":
		for i := range n {
			if err := seg(i, segmentData(i, size)); err != nil {
				return err
			}
		}
	case "repeat":
		data := segmentData(0, size)
		for i := 0; ctx.Err() == nil; i++ {
			if err := seg(i, data); err != nil {
				return err
			}
		}
	case "flush":
		for i := range n {
			if err := seg(i, segmentData(i, size)); err != nil {
				return err
			}
		}
		<-ctx.Done()
		return seg(n, []byte("flushed"))
	case "oversize":
		if err := seg(0, make([]byte, MaxSegmentSize+1)); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// mapStore is a Store over maps. Every call checks that it got a deadline
// and that the stream was opened (as after a restart the host must).
type mapStore struct {
	mu    sync.Mutex
	open  map[string]StreamConfig
	inits map[string]media.Init
	segs  map[string][]media.Segment
}

func newMapStore() *mapStore {
	return &mapStore{open: map[string]StreamConfig{}, inits: map[string]media.Init{}, segs: map[string][]media.Segment{}}
}

var _ Store = (*mapStore)(nil)

// noSpaceStart is the segment start at which mapStore answers ENOSPC.
const noSpaceStart = 999_000

func (s *mapStore) check(ctx context.Context, stream string) error {
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("call without a deadline")
	}
	if _, ok := s.open[stream]; !ok {
		return fmt.Errorf("stream %s: not opened", stream)
	}
	return nil
}

func (s *mapStore) OpenStream(ctx context.Context, cfg StreamConfig) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := CheckStreamName(cfg.Stream); err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	s.open[cfg.Stream] = cfg
	return nil
}

func (s *mapStore) WriteInit(ctx context.Context, stream string, in media.Init) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, stream); err != nil {
		return err
	}
	s.inits[stream+"/"+in.Hash] = in
	return nil
}

func (s *mapStore) WriteSegment(ctx context.Context, stream string, seg media.Segment) (SegmentInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, stream); err != nil {
		return SegmentInfo{}, err
	}
	switch {
	case seg.Duration <= 0:
		return SegmentInfo{}, fmt.Errorf("write segment %s at %d: duration %d: %w", stream, seg.Start, seg.Duration, ErrRefused)
	case seg.Start == noSpaceStart: // a full disk, as the OS reports it
		return SegmentInfo{}, fmt.Errorf("write segment %s at %d: %w", stream, seg.Start, syscall.ENOSPC)
	}
	segs := s.segs[stream]
	if n := len(segs); n > 0 && seg.Start < segs[n-1].End() {
		return SegmentInfo{}, fmt.Errorf("write segment %s at %d: before the end of the last one: %w", stream, seg.Start, ErrRefused)
	}
	s.segs[stream] = append(segs, seg)
	return s.info(stream, seg), nil
}

func (s *mapStore) info(stream string, seg media.Segment) SegmentInfo {
	return SegmentInfo{
		Start: seg.Start, Duration: seg.Duration, Size: int64(len(seg.Data)), InitHash: seg.InitHash,
		Checksum: media.Checksum(seg.Data),
		Path:     fmt.Sprintf("%s/%s/%d.m4s", s.open[stream].Root, stream, seg.Start),
	}
}

func (s *mapStore) Ranges(ctx context.Context, stream string, from, to int64) ([]Range, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, stream); err != nil {
		return nil, err
	}
	var out []Range
	for _, seg := range s.segs[stream] {
		if seg.End() <= from || seg.Start >= to {
			continue
		}
		if n := len(out); n > 0 && seg.Start-out[n-1].To <= 10 {
			out[n-1].To = seg.End()
			continue
		}
		out = append(out, Range{From: seg.Start, To: seg.End()})
	}
	return out, nil
}

func (s *mapStore) Segments(ctx context.Context, stream string, from, to int64) ([]SegmentInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, stream); err != nil {
		return nil, err
	}
	var out []SegmentInfo
	for _, seg := range s.segs[stream] {
		if seg.Start >= from && seg.Start < to {
			out = append(out, s.info(stream, seg))
		}
	}
	return out, nil
}

func (s *mapStore) ReadInit(ctx context.Context, stream, hash string) (media.Init, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, stream); err != nil {
		return media.Init{}, err
	}
	in, ok := s.inits[stream+"/"+hash]
	if !ok {
		return media.Init{}, fmt.Errorf("read init %s/%s: %w", stream, hash, ErrNotFound)
	}
	return in, nil
}

func (s *mapStore) ReadSegment(ctx context.Context, stream string, start int64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, stream); err != nil {
		return nil, err
	}
	if start == -1 { // a store that misbehaves
		return make([]byte, MaxSegmentSize+1), nil
	}
	for _, seg := range s.segs[stream] {
		if seg.Start == start {
			return seg.Data, nil
		}
	}
	return nil, fmt.Errorf("read segment %s/%d: %w", stream, start, ErrNotFound)
}

func (s *mapStore) Streams(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name := range s.segs {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// startSupervisor starts a Supervisor over the helper plugin and closes it
// at the end of the test.
func startSupervisor(t testing.TB, s *Supervisor) *Supervisor {
	t.Helper()
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("start supervisor: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
