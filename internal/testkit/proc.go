package testkit

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ChildPID returns the pid of the child of parent whose command line ends
// with args (e.g. "plugin", "udp"), failing after 10 s.
func ChildPID(t testing.TB, parent int, args ...string) int {
	t.Helper()
	want := strings.Join(args, "\x00")
	var found int
	Eventually(t, 10*time.Second, "child process "+strings.Join(args, " "), func() bool {
		stats, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, p := range stats {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			// pid (comm) state ppid ...
			i := bytes.LastIndexByte(b, ')')
			if i < 0 {
				continue
			}
			f := strings.Fields(string(b[i+1:]))
			if len(f) < 2 || f[1] != strconv.Itoa(parent) {
				continue
			}
			dir := filepath.Dir(p)
			cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
			if err != nil || !strings.HasSuffix(strings.TrimRight(string(cmdline), "\x00"), want) {
				continue
			}
			found, _ = strconv.Atoi(filepath.Base(dir))
			return true
		}
		return false
	})
	return found
}

// KillPID sends SIGKILL to pid.
func KillPID(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
}

// Relay forwards UDP datagrams from a local port to addr and can drop them
// for a while: a network outage between a sender that keeps running and
// the node. It stops when the test ends.
type Relay struct {
	Port int
	drop atomic.Int64 // unix ns until which datagrams are dropped

	mu          sync.Mutex
	last        time.Time // when the last datagram was forwarded
	silence     time.Duration
	silenceFrom time.Time
}

// LongestSilence is the longest time between two forwarded datagrams so far.
func (r *Relay) LongestSilence() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.silence
}

// StartRelay listens on a free 127.0.0.1 port and forwards to addr.
func StartRelay(t testing.TB, addr string) *Relay {
	t.Helper()
	in, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out, err := net.Dial("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{Port: in.LocalAddr().(*net.UDPAddr).Port}
	t.Cleanup(func() { in.Close(); out.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := in.ReadFrom(buf)
			if err != nil {
				return
			}
			now := time.Now()
			if now.UnixNano() < r.drop.Load() {
				continue
			}
			_, _ = out.Write(buf[:n])
			r.mu.Lock()
			if !r.last.IsZero() && now.Sub(r.last) > r.silence {
				r.silence, r.silenceFrom = now.Sub(r.last), r.last
			}
			r.last = now
			r.mu.Unlock()
		}
	}()
	return r
}

// Outage drops every datagram for d, starting now.
func (r *Relay) Outage(d time.Duration) { r.drop.Store(time.Now().Add(d).UnixNano()) }
