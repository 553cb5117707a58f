package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// startProfile writes a CPU profile of this process when EDGE_CPUPROFILE is
// set to DIR:SECONDS (a debugging aid for the benchmarks): the profile
// covers the first SECONDS after start and lands in DIR/<command>-<pid>.prof.
// Plugin processes inherit the variable, so each one profiles itself.
func startProfile(cmd string) {
	v := os.Getenv("EDGE_CPUPROFILE")
	if v == "" {
		return
	}
	dir, secs, _ := strings.Cut(v, ":")
	n, err := strconv.Atoi(secs)
	if err != nil || n <= 0 {
		n = 30
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.prof", cmd, os.Getpid())))
	if err != nil {
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return
	}
	time.AfterFunc(time.Duration(n)*time.Second, func() {
		pprof.StopCPUProfile()
		f.Close()
	})
}
