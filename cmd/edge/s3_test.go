package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/plugins/s3store"
	"github.com/edgedvr/edge/sdk"
)

// openS3Archive opens a stream of an s3:// root as a node does, with the
// S3 settings of srv, and returns its segments and ranges.
func openS3Archive(t *testing.T, srv *testkit.S3, root, stream string) ([]sdk.SegmentInfo, []sdk.Range, *s3store.Store) {
	t.Helper()
	st := s3store.New(slog.New(slog.DiscardHandler))
	env := srv.Env()
	st.Env = func(k string) string { return env[k] }
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if err := st.OpenStream(ctx, sdk.StreamConfig{Stream: stream, Root: root}); err != nil {
		t.Fatal(err)
	}
	segs, err := st.Segments(ctx, stream, 0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	ranges, err := st.Ranges(ctx, stream, 0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	return segs, ranges, st
}

// TestRecordIntoS3 records 60 s of a live stream (1 s segments, so that
// the versitygw restart below falls between many writes) into versitygw
// through the built-in dvrstore plugin, with the endpoint, region and
// credentials taken from the standard AWS environment variables. The S3
// server is killed and restarted in the middle: the node keeps the
// segments it could not write and writes them when it is back. Live and
// archive are served from the node, each archive segment is fetched from
// S3 once however many viewers ask, and the stored archive is one gap-free
// range that ffmpeg decodes.
func TestRecordIntoS3(t *testing.T) {
	testkit.Need(t, "ffmpeg", "ffprobe")
	srv := testkit.StartS3(t, "edge-node")
	srv.Setenv(t) // not parallel: the node and its plugins inherit the environment
	tp := newTopo(t)
	port := testkit.FreeUDPPort(t)
	root := srv.Root("site1")
	tp.stream("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)}, `segment_duration = "1s"`,
		fmt.Sprintf("dvr = { root = %q, depth = \"1h\" }", root),
		fmt.Sprintf("cache = { root = %q }", tp.dir+"/cache"))
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)
	const seconds = 60
	sender := testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{Seconds: seconds})

	written := func() float64 { return testkit.Metric(t, node.URL, "edge_dvr_segments_written_total", "stream=cam") }
	testkit.Eventually(t, 20*time.Second, "10 segments in S3", func() bool { return written() >= 10 })
	// Live is served while recording.
	if code, body := testkit.Get(t, node.URL+"/cam/index.m3u8"); code != 200 || !strings.Contains(string(body), "#EXTINF") {
		t.Fatalf("live playlist: %d\n%s", code, body)
	}
	if codec, w, h, _ := testkit.FFprobe(t, node.URL+"/cam/index.m3u8").Video(); codec != "h264" || w != 320 || h != 240 {
		t.Errorf("ffprobe reads live video %s %dx%d, want h264 320x240", codec, w, h)
	}
	testkit.Eventually(t, 20*time.Second, "20 segments in S3", func() bool { return written() >= 20 })
	before := written()
	srv.Restart(func() {
		testkit.Eventually(t, 20*time.Second, "a failed write while S3 is down", func() bool {
			return testkit.Metric(t, node.URL, "edge_dvr_write_errors_total", "stream=cam") > 0
		})
	})
	testkit.Eventually(t, 30*time.Second, "recording to resume after the S3 restart", func() bool { return written() >= before+5 })
	testkit.Eventually(t, 2*seconds*time.Second, "the sender to finish", sender.Exited)

	var rs []struct {
		Ranges []struct{ From, Duration int64 } `json:"ranges"`
	}
	testkit.Eventually(t, 30*time.Second, "about 60 s in the archive", func() bool {
		if !testkit.JSON(node.URL+"/cam/recording_status.json", &rs) || len(rs) != 1 || len(rs[0].Ranges) == 0 {
			return false
		}
		var d int64
		for _, r := range rs[0].Ranges {
			d += r.Duration
		}
		if d < seconds-3 { // seconds
			t.Logf("archive so far: %+v", rs)
			return false
		}
		return true
	})
	if len(rs[0].Ranges) != 1 {
		t.Fatalf("recording_status: %d ranges %+v, want 1: nothing may be lost over the S3 restart", len(rs[0].Ranges), rs[0].Ranges)
	}
	r := rs[0].Ranges[0]
	pl := fmt.Sprintf("%s/cam/archive-%d-%d.m3u8", node.URL, r.From, r.Duration)
	code, body := testkit.Get(t, pl)
	if code != 200 {
		t.Fatalf("archive playlist %s: %d %s", pl, code, body)
	}
	p, err := testkit.ParsePlaylist(string(body))
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, s := range p.Segments {
		uris = append(uris, s.URI)
	}
	if len(uris) < seconds-5 {
		t.Fatalf("archive playlist has %d segments", len(uris))
	}
	// 50 viewers fetch every segment of the range at once.
	const viewers = 50
	base := node.URL + "/cam/"
	want := make([][]byte, len(uris))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for v := 0; v < viewers; v++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, u := range uris {
				code, b := testkit.Get(t, base+u)
				mu.Lock()
				if code != 200 {
					t.Errorf("viewer: %s: %d", u, code)
				} else if want[i] == nil {
					want[i] = b
				} else if !bytes.Equal(want[i], b) {
					t.Errorf("viewers got different bytes for %s", u)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if d := testkit.FFprobe(t, pl).Duration(); d < seconds-5 {
		t.Errorf("ffprobe reads %.1f s from the archive playlist", d)
	}
	// Each segment was fetched from S3 at most once by the node (the live
	// window serves the newest ones itself), and most of them once.
	fetched := 0
	for _, u := range uris {
		n := srv.Requests("GET", "/"+strings.TrimSuffix(strings.TrimPrefix(u, "s-"), ".m4s")+"_")
		if n > 1 {
			t.Errorf("segment %s was fetched from S3 %d times", u, n)
		}
		fetched += n
	}
	if fetched < len(uris)/2 {
		t.Errorf("only %d of %d segments were read from S3", fetched, len(uris))
	}
	t.Logf("%d segments, %d read from S3 for %d viewers", len(uris), fetched, viewers)
	if !node.Term(20 * time.Second) {
		t.Fatal("node did not stop within 20 s of SIGTERM")
	}

	segs, ranges, st := openS3Archive(t, srv, root, "cam")
	if len(ranges) != 1 {
		t.Fatalf("%d ranges %v in S3, want 1", len(ranges), ranges)
	}
	if got := secs(totalDuration(segs)); got < seconds-3 || got > seconds+1 {
		t.Errorf("recorded %.1f s, want about %d s", got, seconds)
	}
	checkTimeline(t, segs)
	checkPlayable(t, st, "cam", segs, 320, 240, 25)
}
