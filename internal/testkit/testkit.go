// Package testkit starts real edge nodes, ffmpeg senders and ffprobe clients for end-to-end tests.
package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Edge builds the edge binary once per test process and returns its path.
func Edge(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "edge-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "edge")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/edge")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/edge: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Need fails the test with a clear message when a tool is missing.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found in PATH: install it (apt-get install -y ffmpeg); .ci/run does", tool)
		}
	}
}

// Test ports come from below the kernel's ephemeral range (32768 and up
// on Linux), so an outgoing connection or an ffmpeg sender of a test
// running in parallel cannot take a port between our check and its use.
const portLow, portHigh = 20000, 32000

// FreePort returns a TCP (and UDP) port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 1000 {
		p := portLow + rand.IntN(portHigh-portLow)
		if PortFree(p) {
			return p
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func FreeUDPPort(t testing.TB) int { return FreePort(t) }

// PortFree reports whether TCP port p can be bound on 127.0.0.1 and UDP
// port p on every address.
func PortFree(p int) bool {
	addr := fmt.Sprintf("127.0.0.1:%d", p)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer ln.Close()
	// UDP on every address: a port another process holds on the wildcard
	// address refuses a bind to a multicast group too.
	c, err := net.ListenPacket("udp4", fmt.Sprintf(":%d", p))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Proc is a child process whose output is kept for the test log.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start runs a command and kills it (SIGKILL) when the test ends, logging
// its output if the test failed.
func Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	return startEnv(t, nil, name, args...)
}

// startEnv is Start with env added to the test process's environment.
func startEnv(t testing.TB, env map[string]string, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Name: filepath.Base(name), Cmd: exec.Command(name, args...), out: &syncBuffer{}, done: make(chan struct{})}
	if env != nil {
		p.Cmd.Env = os.Environ()
		for k, v := range env {
			p.Cmd.Env = append(p.Cmd.Env, k+"="+v)
		}
	}
	p.Cmd.Stdout = p.out
	p.Cmd.Stderr = p.out
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.Cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- output of %s %s:\n%s", p.Name, strings.Join(args, " "), tail(p.Output(), 8000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

// Output is what the process printed so far.
func (p *Proc) Output() string { return p.out.String() }

// Kill sends SIGKILL and waits for the process to end.
func (p *Proc) Kill() {
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Term sends SIGTERM and waits up to d for the process to end; it reports
// whether it ended.
func (p *Proc) Term(d time.Duration) bool {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Eventually polls cond every 100 ms until it returns true or d passes.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WriteFile writes a file in dir and returns its path.
func WriteFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Node is a running `edge run` process.
type Node struct {
	*Proc
	URL string // http://127.0.0.1:PORT
}

// StartNode runs `edge run FILE --node NAME` and waits until it answers HTTP.
func StartNode(t testing.TB, topology, name, listen string) *Node {
	t.Helper()
	return StartNodeEnv(t, topology, name, listen, nil)
}

// StartNodeEnv is StartNode with env added to the node's environment (and
// so its plugins'), for tests that run in parallel with others.
func StartNodeEnv(t testing.TB, topology, name, listen string, env map[string]string) *Node {
	t.Helper()
	p := startEnv(t, env, Edge(t), "run", topology, "--node", name)
	n := &Node{Proc: p, URL: "http://" + listen}
	Eventually(t, 20*time.Second, "node "+name+" to answer HTTP", func() bool {
		if p.Exited() {
			t.Fatalf("node %s exited:\n%s", name, tail(p.Output(), 4000))
		}
		resp, err := http.Get(n.URL + "/api/v1/streams")
		if err != nil {
			return false
		}
		resp.Body.Close()
		// 401: the topology has an admin_key; the node answers all the same.
		return resp.StatusCode == 200 || resp.StatusCode == 401
	})
	return n
}

// Get fetches a URL and returns status and body.
func Get(t testing.TB, url string) (int, []byte) {
	t.Helper()
	resp, body := Do(t, "GET", url)
	return resp.StatusCode, body
}

// Do sends a request with the given header name/value pairs and returns
// the answer (its body already read and closed) and its body.
func Do(t testing.TB, method, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp, body
}

// JSON fetches a URL and decodes its JSON body into v; it returns false on
// any error (the node may not be ready).
func JSON(url string, v any) bool {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return false
	}
	return json.NewDecoder(resp.Body).Decode(v) == nil
}

// Metric returns the sum of the samples of a Prometheus metric whose label
// set contains every given "k=v" pair, from a node's /metrics.
func Metric(t testing.TB, base, name string, labels ...string) float64 {
	t.Helper()
	_, body := Get(t, base+"/metrics")
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name) || strings.HasPrefix(line, "#") {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		ok := true
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			if !strings.Contains(rest, k+`="`+v+`"`) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		var f float64
		fields := strings.Fields(rest)
		if _, err := fmt.Sscanf(fields[len(fields)-1], "%g", &f); err == nil {
			sum += f
		}
	}
	return sum
}
