package proxy

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/media/m4f"
)

const (
	benchOriginEnv = "EDGE_M4F_BENCH_ORIGIN"
	benchSegSize   = 3 << 19 // 1.5 MiB
	benchClients   = 20
)

// TestM4FBenchOrigin is not a test: it is the origin process of
// BenchmarkM4FLive20Clients, which runs the test binary again with
// EDGE_M4F_BENCH_ORIGIN=1 so that the origin's CPU time (getrusage of its
// own process) does not include the clients'. It reads commands on stdin:
// "push" pushes a 1.5 MiB segment stamped with the wall clock of the push,
// "rusage" prints the process's user+system CPU in ns.
func TestM4FBenchOrigin(t *testing.T) {
	if os.Getenv(benchOriginEnv) != "1" {
		t.Skip("the origin process of BenchmarkM4FLive20Clients; runs only under it")
	}
	in := media.Init{Data: []byte("bench init: ftyp+moov would be here")}
	in.Hash = media.InitHash(in.Data)
	l := cache.NewLive(4)
	be := &testBackend{streams: map[string]*testStream{"bench": {name: "bench", live: l}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Backend: be, ClusterKey: testClusterKey, Node: "origin", Logger: slog.New(slog.DiscardHandler)})
	go s.Serve(ln)
	defer s.Shutdown(context.Background())
	// Rotating buffers: the window keeps 4 and the clients are in lockstep.
	var bufs [16][]byte
	for i := range bufs {
		bufs[i] = make([]byte, benchSegSize)
		for j := range bufs[i] {
			bufs[i][j] = byte(j * 7)
		}
	}
	start := int64(1_700_000_000_000)
	n := 0
	push := func() {
		b := bufs[n%len(bufs)]
		binary.BigEndian.PutUint64(b, uint64(time.Now().UnixNano()))
		l.Push(in, media.Segment{Start: start + int64(n)*3000, Duration: 3000, InitHash: in.Hash, Data: b})
		n++
	}
	push()
	fmt.Printf("addr %s\n", ln.Addr())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "push":
			push()
		case "rusage":
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
				t.Fatal(err)
			}
			fmt.Printf("rusage %d\n", ru.Utime.Nano()+ru.Stime.Nano())
		case "quit":
			return
		}
	}
}

// BenchmarkM4FLive20Clients runs an origin process with one live stream
// and 20 live M4F clients in this process, over loopback. Each iteration
// pushes one 1.5 MiB segment and waits until every client has received and
// checked it. It reports the origin's CPU time per connection per segment
// (getrusage of the origin process around the run) and the delay from
// Push to a client's receipt of the whole segment (p50, p99).
//
//	go test ./proxy -run '^$' -bench BenchmarkM4FLive20Clients -benchtime=300x
func BenchmarkM4FLive20Clients(b *testing.B) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestM4FBenchOrigin$")
	cmd.Env = append(os.Environ(), benchOriginEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		io.WriteString(stdin, "quit\n")
		stdin.Close()
		cmd.Wait()
	}()
	out := bufio.NewScanner(stdout)
	line := func(prefix string) string {
		for out.Scan() {
			if v, ok := strings.CutPrefix(out.Text(), prefix+" "); ok {
				return v
			}
		}
		b.Fatalf("origin process: no %q line: %v", prefix, out.Err())
		return ""
	}
	base := "http://" + line("addr")
	cpu := func() time.Duration {
		io.WriteString(stdin, "rusage\n")
		var ns int64
		fmt.Sscan(line("rusage"), &ns)
		return time.Duration(ns)
	}

	var (
		mu     sync.Mutex
		delays []time.Duration
		got    = make(chan struct{}, benchClients*4)
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	signer := cluster.Signer{Node: "edge1", Key: testClusterKey}
	tr := &http.Transport{MaxIdleConnsPerHost: benchClients}
	var wg sync.WaitGroup
	for c := 0; c < benchClients; c++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+m4f.LivePath("bench"), nil)
		signer.SignRequest(req)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != 200 {
			b.Fatalf("live: %d", resp.StatusCode)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer resp.Body.Close()
			r := m4f.NewReader(resp.Body, m4f.Limits{})
			first := true
			for {
				f, err := r.Next()
				if err != nil {
					return
				}
				if f.Type != m4f.TypeSegment {
					continue
				}
				d := time.Since(time.Unix(0, int64(binary.BigEndian.Uint64(f.Segment.Data))))
				if !first { // the backlog segment was pushed before the client came
					mu.Lock()
					delays = append(delays, d)
					mu.Unlock()
				}
				first = false
				got <- struct{}{}
			}
		}()
	}
	for c := 0; c < benchClients; c++ { // the backlog
		<-got
	}
	b.ResetTimer()
	cpu0 := cpu()
	for i := 0; i < b.N; i++ {
		io.WriteString(stdin, "push\n")
		for c := 0; c < benchClients; c++ {
			<-got
		}
	}
	cpuUsed := cpu() - cpu0
	b.StopTimer()
	cancel()
	wg.Wait()

	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	pct := func(p float64) time.Duration { return delays[int(p*float64(len(delays)-1))] }
	perConnSeg := cpuUsed / time.Duration(benchClients*b.N)
	b.ReportMetric(float64(perConnSeg.Microseconds()), "origin-cpu-µs/conn/seg")
	b.ReportMetric(float64(pct(0.50).Microseconds()), "p50-delay-µs")
	b.ReportMetric(float64(pct(0.99).Microseconds()), "p99-delay-µs")
	b.ReportMetric(float64(cpuUsed.Milliseconds()), "origin-cpu-ms-total")
}
