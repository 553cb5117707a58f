package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// testMedia is real fMP4 made by ffmpeg: one init and 2 s segments (25 fps,
// GOP 50, H.264 + AAC), with decode times starting at 0.
type testMedia struct {
	init   []byte
	frags  [][]byte // moof+mdat, decode times from 0
	scales map[uint32]uint32
}

var (
	mediaOnce sync.Once
	mediaVal  *testMedia
	mediaErr  error
)

const testSegMs = 2000

// loadMedia makes the test media once per test binary.
func loadMedia(t testing.TB) *testMedia {
	t.Helper()
	mediaOnce.Do(func() { mediaVal, mediaErr = makeMedia() })
	if mediaErr != nil {
		t.Fatal(mediaErr)
	}
	return mediaVal
}

func makeMedia() (*testMedia, error) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, errors.New("ffmpeg not found in PATH: install it (apt-get install -y ffmpeg) to run the proxy tests")
	}
	dir, err := os.MkdirTemp("", "proxytest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "t.mp4")
	cmd := exec.Command(ffmpeg, "-v", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "100", "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
		"-c:a", "aac", "-b:a", "64k",
		"-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %v: %s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	f, err := mp4.DecodeFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("decode ffmpeg output: %w", err)
	}
	var ib bytes.Buffer
	if err := f.Init.Encode(&ib); err != nil {
		return nil, err
	}
	m := &testMedia{init: ib.Bytes()}
	for _, s := range f.Segments {
		for _, fr := range s.Fragments {
			var b bytes.Buffer
			if err := fr.Encode(&b); err != nil {
				return nil, err
			}
			m.frags = append(m.frags, b.Bytes())
		}
	}
	if m.scales, err = trackTimescales(m.init); err != nil {
		return nil, err
	}
	if len(m.frags) < 45 {
		return nil, fmt.Errorf("ffmpeg made %d fragments, want >= 45", len(m.frags))
	}
	return m, nil
}

// segment returns fragment i as a segment on the UTC timeline starting at
// base ms: decode times are moved so that tfdt = UTC_ms * timescale / 1000.
func (m *testMedia) segment(i int, baseMs int64) media.Segment {
	b := append([]byte(nil), m.frags[i]...)
	err := fragmentTimes(b, func(track uint32, t uint64) uint64 {
		return t + uint64(baseMs)*uint64(m.scales[track])/1000
	})
	if err != nil {
		panic(err)
	}
	return media.Segment{Start: baseMs + int64(i)*testSegMs, Duration: testSegMs, InitHash: media.InitHash(m.init), Data: b}
}

func (m *testMedia) mediaInit() media.Init {
	return media.Init{Hash: media.InitHash(m.init), Data: m.init, Codecs: "avc1.42c00d,mp4a.40.2", Width: 320, Height: 240}
}

// testArchive is an in-memory Archive; segments with files are on disk.
type testArchive struct {
	mu          sync.Mutex
	inits       map[string]media.Init
	segs        []sdk.SegmentInfo
	data        map[int64][]byte // segments without a file
	unavailable bool
	reads       int // ReadSegment calls
}

func newTestArchive() *testArchive {
	return &testArchive{inits: map[string]media.Init{}, data: map[int64][]byte{}}
}

// add stores seg; in a file under dir when dir is not "".
func (a *testArchive) add(t testing.TB, dir string, in media.Init, seg media.Segment) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inits[in.Hash] = in
	si := sdk.SegmentInfo{Start: seg.Start, Duration: seg.Duration, Size: int64(len(seg.Data)), InitHash: seg.InitHash,
		Checksum: media.Checksum(seg.Data)}
	if dir != "" {
		si.Path = filepath.Join(dir, fmt.Sprintf("%d.m4s", seg.Start))
		if err := os.WriteFile(si.Path, seg.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		a.data[seg.Start] = seg.Data
	}
	a.segs = append(a.segs, si)
	sort.Slice(a.segs, func(i, j int) bool { return a.segs[i].Start < a.segs[j].Start })
}

func (a *testArchive) check() error {
	if a.unavailable {
		return fmt.Errorf("test store restarting: %w", ErrUnavailable)
	}
	return nil
}

func (a *testArchive) Ranges(ctx context.Context, from, to int64) ([]sdk.Range, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.check(); err != nil {
		return nil, err
	}
	var out []sdk.Range
	for _, s := range a.segs {
		if s.End() <= from || s.Start >= to {
			continue
		}
		if n := len(out); n > 0 && s.Start-out[n-1].To <= cache.GapTolerance(s.Duration) {
			out[n-1].To = s.End()
			continue
		}
		out = append(out, sdk.Range{From: s.Start, To: s.End()})
	}
	return out, nil
}

func (a *testArchive) Segments(ctx context.Context, from, to int64) ([]sdk.SegmentInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.check(); err != nil {
		return nil, err
	}
	var out []sdk.SegmentInfo
	for _, s := range a.segs {
		if s.Start >= from && s.Start < to {
			out = append(out, s)
		}
	}
	return out, nil
}

func (a *testArchive) ReadInit(ctx context.Context, hash string) (media.Init, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.check(); err != nil {
		return media.Init{}, err
	}
	in, ok := a.inits[hash]
	if !ok {
		return media.Init{}, sdk.ErrNotFound
	}
	return in, nil
}

func (a *testArchive) ReadSegment(ctx context.Context, start int64) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.check(); err != nil {
		return nil, err
	}
	a.reads++
	if b, ok := a.data[start]; ok {
		return b, nil
	}
	for _, s := range a.segs {
		if s.Start == start && s.Path != "" {
			return os.ReadFile(s.Path)
		}
	}
	return nil, sdk.ErrNotFound
}

type testStream struct {
	name    string
	live    *cache.Live
	archive *testArchive
	status  StreamStatus
}

func (s *testStream) Name() string      { return s.name }
func (s *testStream) Live() *cache.Live { return s.live }
func (s *testStream) Archive() Archive {
	if s.archive == nil {
		return nil
	}
	return s.archive
}
func (s *testStream) Status() StreamStatus { return s.status }

type testBackend struct {
	streams map[string]*testStream
	peers   map[string]string
}

func (b *testBackend) Stream(name string) (Stream, bool) {
	s, ok := b.streams[name]
	return s, ok
}

func (b *testBackend) StreamNames() []string {
	var n []string
	for k := range b.streams {
		n = append(n, k)
	}
	return n
}

func (b *testBackend) Redirect(name string) (string, bool) {
	u, ok := b.peers[name]
	return u, ok
}

// startServer serves cfg on a real 127.0.0.1 listener and returns its base URL.
func startServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s, "http://" + ln.Addr().String()
}

// get fetches url with optional headers (name, value pairs).
func get(t testing.TB, method, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, b
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func newRequest(method, url string) (*http.Request, error) { return http.NewRequest(method, url, nil) }
