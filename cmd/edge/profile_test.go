package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
)

// TestPluginGCPercent runs a real node with a udp stream and an archive and
// reads, from the runtime metrics each process writes for
// EDGE_HEAPPROFILE, the collector's GOGC in each: the udp plugin's own
// default where the environment sets none, the environment's in every
// process where it does.
func TestPluginGCPercent(t *testing.T) {
	for _, tc := range []struct {
		gogc string
		want map[string]int // by command: run, plugin-udp, plugin-dvrstore
	}{
		{"", map[string]int{"run": 100, "plugin-udp": 25, "plugin-dvrstore": 100}},
		{"70", map[string]int{"run": 70, "plugin-udp": 70, "plugin-dvrstore": 70}},
	} {
		t.Run("GOGC="+tc.gogc, func(t *testing.T) {
			tp := newTopo(t)
			tp.stream("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", testkit.FreeUDPPort(t))}, tp.dvr(""))
			dir := t.TempDir()
			testkit.StartNodeEnv(t, tp.write(t), "origin", tp.listen, map[string]string{
				"GOGC": tc.gogc, "EDGE_HEAPPROFILE": dir + ":1",
			})
			got := map[string]int{}
			testkit.Eventually(t, 20*time.Second, "each process's runtime metrics", func() bool {
				for cmd := range tc.want {
					if _, ok := got[cmd]; ok {
						continue
					}
					paths, _ := filepath.Glob(filepath.Join(dir, cmd+"-*.metrics"))
					for _, p := range paths {
						if v, ok := readMetric(p, "/gc/gogc:percent"); ok {
							got[cmd] = v
						}
					}
				}
				return len(got) == len(tc.want)
			})
			for cmd, want := range tc.want {
				if got[cmd] != want {
					t.Errorf("%s: GOGC %d, want %d", cmd, got[cmd], want)
				}
			}
		})
	}
}

// readMetric reads one "name value" line of a metrics file.
func readMetric(path, name string) (int, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == name {
			n, err := strconv.Atoi(v)
			return n, err == nil
		}
	}
	return 0, false
}
