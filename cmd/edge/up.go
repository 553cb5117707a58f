package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/edgedvr/edge/config"
	"github.com/edgedvr/edge/examples/topologies"
	"github.com/edgedvr/edge/plugins/s3store"
)

// quickstartDir is where `edge up` with no file writes the embedded
// quickstart topology, its sample stream and its archive.
func quickstartDir() string {
	if d := os.Getenv("EDGE_QUICKSTART_DIR"); d != "" {
		return d
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "edge", "quickstart")
}

// cmdUp runs every node of a topology as its own `edge run` process, prints
// the URLs to open, and stops them all on SIGINT or SIGTERM.
func cmdUp(args []string, stdout, stderr io.Writer) int {
	if len(args) > 1 {
		fmt.Fprintln(stderr, "usage: edge up [FILE]")
		return 2
	}
	var path string
	if len(args) == 1 {
		path = args[0]
	} else {
		p, err := topologies.WriteQuickstart(quickstartDir())
		if err != nil {
			fmt.Fprintln(stderr, "edge up:", err)
			return 1
		}
		path = p
		fmt.Fprintf(stdout, "quickstart topology written to %s\n", path)
	}
	topo, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "edge up:", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var wg sync.WaitGroup
	var mu sync.Mutex // serialises the prefixed log lines
	procs := make([]*exec.Cmd, 0, len(topo.Nodes))
	exited := make(chan string, len(topo.Nodes))
	for _, n := range topo.Nodes {
		cmd := exec.Command(exe, "run", path, "--node", n.Name)
		// The node stops gracefully if `edge up` itself dies.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
		out, err := cmd.StderrPipe()
		if err != nil {
			fmt.Fprintln(stderr, "edge up:", err)
			return 1
		}
		cmd.Stdout = cmd.Stderr
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(stderr, "edge up: start node %s: %v\n", n.Name, err)
			return 1
		}
		procs = append(procs, cmd)
		wg.Add(1)
		go func(name string, r io.Reader) {
			defer wg.Done()
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				mu.Lock()
				fmt.Fprintf(stderr, "%-8s| %s\n", name, sc.Text())
				mu.Unlock()
			}
			_ = cmd.Wait()
			exited <- name
		}(n.Name, out)
	}

	printURLs(stdout, topo)

	remaining := len(procs)
	select {
	case <-ctx.Done():
	case name := <-exited:
		remaining--
		fmt.Fprintf(stderr, "edge up: node %s exited; stopping the others\n", name)
	}
	for _, p := range procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(stopTimeout + 5*time.Second)
	for remaining > 0 {
		select {
		case <-exited:
			remaining--
		case <-deadline:
			for _, p := range procs {
				_ = p.Process.Kill()
			}
			remaining = 0
		}
	}
	wg.Wait()
	return 0
}

// printURLs tells a person what to open.
func printURLs(w io.Writer, topo *config.Topology) {
	fmt.Fprintln(w, "")
	for _, n := range topo.Nodes {
		fmt.Fprintf(w, "open in a browser: %s/   (web overview of node %s: streams, DVR timeline, player)\n", n.PublicURL, n.Name)
	}
	fmt.Fprintln(w, "")
	for _, n := range topo.Nodes {
		base := n.PublicURL
		fmt.Fprintf(w, "node %s: %s  (API %s/api/v1/streams, metrics %s/metrics)\n", n.Name, base, base, base)
		for _, s := range n.Streams {
			fmt.Fprintf(w, "  live:     ffplay %s/%s/index.m3u8\n", base, s.Name)
			fmt.Fprintf(w, "  rewind:   %s/%s/rewind-60.m3u8\n", base, s.Name)
			fmt.Fprintf(w, "  archive:  %s/%s/recording_status.json, then %s/%s/archive-FROM-DUR.m3u8 or .mp4\n", base, s.Name, base, s.Name)
			if s.DVR != nil {
				where := filepath.Join(topo.ResolvePath(s.DVR.Root), s.Name)
				if s3store.IsRoot(s.DVR.Root) {
					where = s.DVR.Root + " (stream " + s.Name + ")"
				}
				fmt.Fprintf(w, "  recording into %s\n", where)
			}
		}
	}
	fmt.Fprintln(w, "")
	fmt.Fprintln(w, "press Ctrl-C to stop")
}
