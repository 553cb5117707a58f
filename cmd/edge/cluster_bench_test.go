package main

import (
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
)

// BenchmarkClusterFailover measures, with three real peers and six
// recorded cluster-ingest streams (fetch_timeout 500ms, stale_timeout 2s),
// the time from the SIGKILL of a peer to the first segment of one of its
// streams recorded on another peer, and to the last of them. Run it with
// -benchtime 1x (each iteration starts a group):
//
//	go test ./cmd/edge -run XXX -bench ClusterFailover -benchtime 3x
func BenchmarkClusterFailover(b *testing.B) {
	var first, last time.Duration
	for b.Loop() {
		g := startGroup(b, 3, 6, nil, "", nil)
		var caps map[string][]string
		testkit.Eventually(b, 15*time.Second, "6 streams captured once", func() bool {
			caps = g.captures()
			ok, _ := placedOnce(caps, 6, g.names, 2, 2)
			return ok
		})
		var victims []string
		for s, at := range caps {
			if at[0] == "s03" {
				victims = append(victims, s)
			}
		}
		written := func(s string) float64 {
			return testkit.Metric(b, g.tp.URL("s01"), "edge_dvr_segments_written_total", "stream="+s) +
				testkit.Metric(b, g.tp.URL("s02"), "edge_dvr_segments_written_total", "stream="+s)
		}
		before := map[string]float64{}
		for _, s := range victims {
			before[s] = written(s)
		}
		g.node("s03").Kill()
		killed := time.Now()
		var firstAt time.Duration
		testkit.Eventually(b, 15*time.Second, "s03's streams recorded elsewhere", func() bool {
			n := 0
			for _, s := range victims {
				if written(s) > before[s] {
					n++
				}
			}
			if n > 0 && firstAt == 0 {
				firstAt = time.Since(killed)
			}
			return n == len(victims)
		})
		first += firstAt
		last += time.Since(killed)
		for _, n := range g.names[:2] {
			g.node(n).Term(10 * time.Second)
		}
	}
	b.ReportMetric(float64(first.Milliseconds())/float64(b.N), "ms-to-first-recording")
	b.ReportMetric(float64(last.Milliseconds())/float64(b.N), "ms-to-all-recording")
	b.ReportMetric(float64(clusterStale.Milliseconds()), "stale_timeout-ms")
}
