package testkit

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

// LoopbackMulticast makes sure the loopback interface carries multicast,
// which tests that send to a 239.x group bound to 127.0.0.1 need. It turns
// the MULTICAST flag on when it is off (as root).
func LoopbackMulticast(t testing.TB) {
	t.Helper()
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatalf("loopback interface: %v", err)
	}
	if lo.Flags&net.FlagMulticast != 0 {
		return
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "multicast", "on").CombinedOutput(); err != nil {
		t.Fatalf("turn on multicast on lo (needs root and iproute2): %v\n%s", err, out)
	}
}
