package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"
)

// startProfile writes profiles of this process (debugging aids for the
// benchmarks). Plugin processes inherit the variables, so each one profiles
// itself:
//   - EDGE_CPUPROFILE=DIR:SECONDS: a CPU profile of the first SECONDS after
//     start, in DIR/<command>-<pid>.prof;
//   - EDGE_HEAPPROFILE=DIR:SECONDS: a heap profile (in use after a GC) taken
//     SECONDS after start, in DIR/<command>-<pid>.heap, with the runtime's
//     memory classes and GC figures (runtime/metrics) at that moment in
//     DIR/<command>-<pid>.metrics;
//   - EDGE_TRACE=DIR:SECONDS: an execution trace (runtime/trace: where
//     goroutines waited, for latency) of the first SECONDS after start, in
//     DIR/<command>-<pid>.trace, read with `go tool trace`.
func startProfile(cmd string) {
	recordFirst("EDGE_TRACE", cmd, "trace", trace.Start, trace.Stop)
	recordFirst("EDGE_CPUPROFILE", cmd, "prof", pprof.StartCPUProfile, pprof.StopCPUProfile)
	if dir, n, ok := profileEnv("EDGE_HEAPPROFILE"); ok {
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.heap", cmd, os.Getpid()))
		time.AfterFunc(n, func() {
			f, err := os.Create(path)
			if err != nil {
				return
			}
			defer f.Close()
			writeMetrics(strings.TrimSuffix(path, ".heap") + ".metrics")
			runtime.GC()
			_ = pprof.Lookup("heap").WriteTo(f, 0)
		})
	}
}

// recordFirst runs a recorder (a CPU profile, an execution trace) into
// DIR/<cmd>-<pid>.EXT for the first SECONDS after start, when the variable
// env is set to DIR:SECONDS.
func recordFirst(env, cmd, ext string, start func(io.Writer) error, stop func()) {
	dir, n, ok := profileEnv(env)
	if !ok {
		return
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.%s", cmd, os.Getpid(), ext)))
	if err != nil {
		return
	}
	if err := start(f); err != nil {
		f.Close()
		return
	}
	time.AfterFunc(n, func() {
		stop()
		f.Close()
	})
}

// writeMetrics writes every scalar runtime/metrics sample of the process
// whose name is about memory, the GC or goroutines, one "name value" a line.
func writeMetrics(path string) {
	var samples []metrics.Sample
	for _, d := range metrics.All() {
		if d.Kind == metrics.KindFloat64Histogram || d.Kind == metrics.KindBad {
			continue
		}
		if strings.HasPrefix(d.Name, "/memory/") || strings.HasPrefix(d.Name, "/gc/") ||
			strings.HasPrefix(d.Name, "/sched/goroutines") || strings.HasPrefix(d.Name, "/cpu/classes/") {
			samples = append(samples, metrics.Sample{Name: d.Name})
		}
	}
	metrics.Read(samples)
	var b strings.Builder
	for _, s := range samples {
		switch s.Value.Kind() {
		case metrics.KindUint64:
			fmt.Fprintf(&b, "%s %d\n", s.Name, s.Value.Uint64())
		case metrics.KindFloat64:
			fmt.Fprintf(&b, "%s %g\n", s.Name, s.Value.Float64())
		}
	}
	// Whole or not at all, for whoever watches for it.
	if os.WriteFile(path+".tmp", []byte(b.String()), 0o644) == nil {
		_ = os.Rename(path+".tmp", path)
	}
}

// profileEnv parses DIR:SECONDS (SECONDS defaults to 30).
func profileEnv(name string) (dir string, after time.Duration, ok bool) {
	v := os.Getenv(name)
	if v == "" {
		return "", 0, false
	}
	dir, secs, _ := strings.Cut(v, ":")
	n, err := strconv.Atoi(secs)
	if err != nil || n <= 0 {
		n = 30
	}
	return dir, time.Duration(n) * time.Second, true
}
