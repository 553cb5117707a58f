package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/media"
	mm "github.com/edgedvr/edge/media/m4f"
)

// TestFutureSegmentFromPeer runs a real node that restreams and records a
// stream from a peer (the peer is this test, speaking M4F over HTTP with the
// cluster key checked). The peer sends one segment dated two hours ahead,
// then segments dated by the wall clock, as a peer whose clock was fixed
// would. The node must go on taking and recording those: before, the
// capture skipped them as "older than those already captured", and the
// stream dropped them as overlapping, until the clock reached the future
// segment.
func TestFutureSegmentFromPeer(t *testing.T) {
	const key = "clock-test-key"
	initData := []byte("ftyp+moov of the clock test stream")
	init := media.Init{Hash: media.InitHash(initData), Data: initData, Codecs: "avc1.64001f", Width: 320, Height: 240}
	segment := func(start, dur int64) media.Segment {
		data := make([]byte, 2000)
		r := rand.New(rand.NewPCG(uint64(start), 1))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		return media.Segment{Start: start, Duration: dur, InitHash: init.Hash, Data: data}
	}
	var conns atomic.Int32
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := (cluster.Verifier{Key: key}).Verify(r.Method, r.RequestURI, r.Header.Get); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		route, err := mm.ParsePath(r.URL.Path, func(string) error { return nil })
		if err != nil || route.Endpoint != mm.EndpointLive {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		n := conns.Add(1)
		w.Header().Set("Content-Type", mm.ContentType)
		bw := bufio.NewWriter(w)
		mw := mm.NewWriter(bw)
		send := func(f func() error) bool {
			if f() != nil || bw.Flush() != nil {
				return false
			}
			w.(http.Flusher).Flush()
			return true
		}
		if !send(func() error { return mw.WriteInit(init) }) {
			return
		}
		const dur = 500
		next := time.Now().UnixMilli() - dur
		if n == 1 {
			// Dated by the clock, then one from two hours ahead.
			send(func() error { return mw.WriteSegment(segment(next-dur, dur)) })
			send(func() error { return mw.WriteSegment(segment(next+2*3600_000, dur)) })
			// The peer's timeline is back on the clock: its next segment
			// goes back, which ends this connection (the reader refuses it).
		}
		for {
			if !send(func() error { return mw.WriteSegment(segment(next, dur)) }) {
				return
			}
			next += dur
			select {
			case <-r.Context().Done():
				return
			case <-time.After(time.Until(time.UnixMilli(next + dur))):
			}
		}
	}))
	t.Cleanup(peer.Close)

	tp := testkit.NewTopology(t, key)
	tp.Node(t, "edge", testkit.StreamBlock("cam", []string{"m4f://" + strings.TrimPrefix(peer.URL, "http://") + "/cam"},
		`dvr = { root = "dvr", depth = "1d" }`))
	n := tp.Start(t, tp.Write(t), "edge")

	written := func() float64 { return testkit.Metric(t, n.URL, "edge_dvr_segments_written_total", "stream=cam") }
	testkit.Eventually(t, 20*time.Second, "the future segment recorded", func() bool { return written() >= 2 })
	// Segments dated by the clock keep coming in after it: at 2 a second,
	// 10 more within a few seconds (none at all before the fix).
	testkit.Eventually(t, 20*time.Second, "segments recorded after the future one", func() bool { return written() >= 12 })

	// The archive holds them: a range that ends within seconds of now, and
	// the future one apart.
	var rs []struct {
		Ranges []struct{ From, Duration int64 } `json:"ranges"`
	}
	now := time.Now().Unix()
	if !testkit.JSON(fmt.Sprintf("%s/cam/recording_status.json?from=%d&to=%d", n.URL, now-600, now+3*3600), &rs) || len(rs) != 1 {
		t.Fatalf("recording_status.json: %+v", rs)
	}
	near, ahead := false, false
	for _, r := range rs[0].Ranges {
		end := r.From + r.Duration
		near = near || (end >= now-5 && end <= now+5 && r.Duration >= 4)
		ahead = ahead || r.From >= now+3600
	}
	if !near || !ahead {
		t.Fatalf("ranges %+v at %d: want one ending now (recorded after the future segment) and the future one", rs[0].Ranges, now)
	}
	// Live viewers get the current segments too.
	code, body := testkit.Get(t, n.URL+"/cam/index.m3u8")
	if code != 200 || !strings.Contains(string(body), "#EXTINF") {
		t.Fatalf("live playlist: %d\n%s", code, body)
	}
	if !strings.Contains(n.Output(), "recorded timeline is ahead of the wall clock") {
		t.Error("the node did not log the restart of its timeline")
	}
	if c := conns.Load(); c < 2 {
		t.Errorf("%d live connections, want at least 2 (the reader ends the first)", c)
	}
}
