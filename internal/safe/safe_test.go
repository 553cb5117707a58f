package safe

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// syncBuffer is a bytes.Buffer a logger on another goroutine may write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestCall(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	before := testutil.ToFloat64(Counter("test_call"))
	tests := []struct {
		name    string
		fn      func() error
		wantErr string
		panics  float64
	}{
		{"returns nil", func() error { return nil }, "", 0},
		{"returns an error", func() error { return errors.New("plain") }, "plain", 0},
		{"nil map write", func() error { var m map[string]int; m["x"] = 1; return nil }, "panic in test_call: assignment to entry in nil map", 1},
		{"index out of range", func() error { var b []byte; _ = b[3]; return nil }, "panic in test_call: runtime error: index out of range", 1},
		{"panic with a value", func() error { panic("boom") }, "panic in test_call: boom", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := testutil.ToFloat64(Counter("test_call"))
			err := Call(log, "test_call", tc.fn)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("err %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
			}
			if got := testutil.ToFloat64(Counter("test_call")) - n; got != tc.panics {
				t.Fatalf("panics counted %v, want %v", got, tc.panics)
			}
		})
	}
	if got := testutil.ToFloat64(Counter("test_call")) - before; got != 3 {
		t.Fatalf("total panics %v, want 3", got)
	}
	out := logs.String()
	for _, want := range []string{`"msg":"panic recovered"`, `"where":"test_call"`, `"panic":"boom"`, "runtime/debug.Stack", "safe.TestCall"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

func TestGo(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	got := make(chan error, 1)
	Go(log, "test_go", func() { panic("in a goroutine") }, func(err error) { got <- err })
	if err := <-got; err == nil || !strings.Contains(err.Error(), "panic in test_go: in a goroutine") {
		t.Fatalf("onPanic got %v", err)
	}
	done := make(chan struct{})
	Go(log, "test_go", func() { close(done) }, func(err error) { t.Errorf("onPanic called without a panic: %v", err) })
	<-done
	if n := testutil.ToFloat64(Counter("test_go")); n != 1 {
		t.Fatalf("counted %v, want 1", n)
	}
	if !strings.Contains(logs.String(), "in a goroutine") {
		t.Fatalf("not logged: %s", logs.String())
	}
}

func TestRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	for i := 0; i < 2; i++ {
		if err := Register(reg); err != nil {
			t.Fatalf("register %d: %v", i, err)
		}
	}
	Counter("test_register").Inc()
	n, err := testutil.GatherAndCount(reg, "edge_panics_total")
	if err != nil || n == 0 {
		t.Fatalf("gathered %d edge_panics_total series, err %v", n, err)
	}
}
