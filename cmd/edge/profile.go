package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
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
//     SECONDS after start, in DIR/<command>-<pid>.heap.
func startProfile(cmd string) {
	if dir, n, ok := profileEnv("EDGE_CPUPROFILE"); ok {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.prof", cmd, os.Getpid())))
		if err == nil {
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
			} else {
				time.AfterFunc(n, func() {
					pprof.StopCPUProfile()
					f.Close()
				})
			}
		}
	}
	if dir, n, ok := profileEnv("EDGE_HEAPPROFILE"); ok {
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.heap", cmd, os.Getpid()))
		time.AfterFunc(n, func() {
			f, err := os.Create(path)
			if err != nil {
				return
			}
			defer f.Close()
			runtime.GC()
			_ = pprof.Lookup("heap").WriteTo(f, 0)
		})
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
