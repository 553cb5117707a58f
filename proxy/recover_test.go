package proxy

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/internal/safe"
)

// panicBackend is a backend with a bug: looking up the stream "bad"
// writes to a nil map, as a handler with a real bug would.
type panicBackend struct{ *testBackend }

func (b panicBackend) Stream(name string) (Stream, bool) {
	if name == "bad" {
		var seen map[string]int
		seen[name]++
	}
	return b.testBackend.Stream(name)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestRecoverPanickingHandler: a request whose handler panics answers 500,
// is counted in edge_panics_total{where="http"} (served by /metrics) and
// logged with its stack; the server answers the next requests, on the same
// and on other streams.
func TestRecoverPanickingHandler(t *testing.T) {
	m := loadMedia(t)
	live := cache.NewLive(10)
	for i := 0; i < 3; i++ {
		live.Push(m.mediaInit(), m.segment(i, 1_700_000_000_000))
	}
	be := panicBackend{&testBackend{streams: map[string]*testStream{"cam": {name: "cam", live: live}}}}
	var logs lockedBuffer
	reg := prometheus.NewRegistry()
	_, url := startServer(t, Config{Backend: be, Registry: reg, Node: "test",
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})

	before := testutil.ToFloat64(safe.Counter("http"))
	for i := 0; i < 3; i++ {
		resp, body := get(t, "GET", url+"/bad/index.m3u8")
		if resp.StatusCode != 500 || string(body) != "internal error\n" {
			t.Fatalf("panicking request %d: %d %q, want 500 \"internal error\"", i, resp.StatusCode, body)
		}
		// The next request is answered.
		resp, body = get(t, "GET", url+"/cam/index.m3u8")
		if resp.StatusCode != 200 || !strings.Contains(string(body), "#EXTINF") {
			t.Fatalf("request after the panic: %d\n%s", resp.StatusCode, body)
		}
	}
	if got := testutil.ToFloat64(safe.Counter("http")) - before; got != 3 {
		t.Fatalf("edge_panics_total{where=\"http\"} grew by %v, want 3", got)
	}
	if n, err := testutil.GatherAndCount(reg, "edge_panics_total"); err != nil || n == 0 {
		t.Fatalf("edge_panics_total not in the server's registry: %d series, %v", n, err)
	}
	out := logs.String()
	for _, want := range []string{`"msg":"panic recovered"`, `"where":"http"`, `"path":"/bad/index.m3u8"`,
		"assignment to entry in nil map", "proxy.panicBackend.Stream"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

// TestRecoverTestPanicPath: the test-only hook of TestPanicPathEnv panics on
// exactly its path, and is off when the variable is not set.
func TestRecoverTestPanicPath(t *testing.T) {
	be := &testBackend{streams: map[string]*testStream{}}
	t.Run("unset", func(t *testing.T) {
		t.Setenv(TestPanicPathEnv, "")
		_, url := startServer(t, Config{Backend: be, Logger: slog.New(slog.DiscardHandler)})
		if resp, _ := get(t, "GET", url+"/debug/test-panic"); resp.StatusCode == 500 {
			t.Fatalf("hook on without %s", TestPanicPathEnv)
		}
	})
	t.Run("set", func(t *testing.T) {
		t.Setenv(TestPanicPathEnv, "/debug/test-panic")
		_, url := startServer(t, Config{Backend: be, Logger: slog.New(slog.DiscardHandler)})
		before := testutil.ToFloat64(safe.Counter("http"))
		if resp, _ := get(t, "GET", url+"/debug/test-panic"); resp.StatusCode != 500 {
			t.Fatalf("hook path: %d, want 500", resp.StatusCode)
		}
		if resp, _ := get(t, "GET", url+"/debug/test-panic/x"); resp.StatusCode == 500 {
			t.Fatal("hook panicked on another path")
		}
		if got := testutil.ToFloat64(safe.Counter("http")) - before; got != 1 {
			t.Fatalf("counted %v, want 1", got)
		}
	})
}
