package balancer

import (
	"fmt"
	"testing"

	"github.com/edgedvr/edge/sdk"
)

func request(streams, peers int) sdk.PlaceRequest {
	var req sdk.PlaceRequest
	for i := range streams {
		req.Streams = append(req.Streams, sdk.PlaceStream{Name: fmt.Sprintf("stream%05d", i)})
	}
	for i := range peers {
		req.Peers = append(req.Peers, sdk.PeerLoad{Name: fmt.Sprintf("s%02d", i+1)})
	}
	return req
}

func spread(owners map[string]string, peers []sdk.PeerLoad) (lo, hi int) {
	counts := map[string]int{}
	for _, p := range owners {
		counts[p]++
	}
	lo = int(^uint(0) >> 1)
	for _, p := range peers {
		lo, hi = min(lo, counts[p.Name]), max(hi, counts[p.Name])
	}
	return lo, hi
}

func moved(a, b map[string]string) int {
	n := 0
	for s, p := range a {
		if b[s] != p {
			n++
		}
	}
	return n
}

// BenchmarkPlace places 10,000 streams on 20 peers and reports the spread
// and how many streams move when one peer leaves (ideal: 1/20 = 500) and
// when it comes back.
func BenchmarkPlace(b *testing.B) {
	req := request(10_000, 20)
	var owners map[string]string
	for b.Loop() {
		owners = Place(req)
	}
	lo, hi := spread(owners, req.Peers)
	less := req
	less.Peers = append(append([]sdk.PeerLoad(nil), req.Peers[:7]...), req.Peers[8:]...)
	after := Place(less)
	back := Place(req)
	b.ReportMetric(float64(lo), "min/peer")
	b.ReportMetric(float64(hi), "max/peer")
	b.ReportMetric(float64(moved(owners, after)), "moved-on-leave")
	b.ReportMetric(float64(moved(after, back)), "moved-on-return")
	b.ReportMetric(float64(moved(owners, back)), "differ-after-return")
}
