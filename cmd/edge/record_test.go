package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// The tests in this file run real `edge run` processes (with their plugin
// processes) fed by real ffmpeg senders, and check the archive on disk.

type topo struct {
	dir    string
	listen string
	root   string
	body   strings.Builder
}

func newTopo(t *testing.T) *topo {
	dir := t.TempDir()
	tp := &topo{dir: dir, listen: fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)), root: filepath.Join(dir, "archive")}
	fmt.Fprintf(&tp.body, "[[node]]\nname = \"origin\"\nlisten = %q\n", tp.listen)
	return tp
}

// stream adds a stream; extra is more TOML lines for it.
func (tp *topo) stream(name string, inputs []string, extra ...string) {
	q := make([]string, len(inputs))
	for i, in := range inputs {
		q[i] = fmt.Sprintf("%q", in)
	}
	fmt.Fprintf(&tp.body, "\n  [[node.stream]]\n  name = %q\n  inputs = [%s]\n", name, strings.Join(q, ", "))
	for _, e := range extra {
		fmt.Fprintf(&tp.body, "  %s\n", e)
	}
}

func (tp *topo) write(t *testing.T) string {
	return testkit.WriteFile(t, tp.dir, "topology.toml", tp.body.String())
}

func (tp *topo) dvr(extra string) string {
	if extra != "" {
		extra = ", " + extra
	}
	return fmt.Sprintf("dvr = { root = %q%s }", tp.root, extra)
}

func secs(ms int64) float64 { return float64(ms) / 1000 }

func totalDuration(segs []sdk.SegmentInfo) int64 {
	var d int64
	for _, s := range segs {
		d += s.Duration
	}
	return d
}

// checkTimeline asserts that segment starts strictly increase with no overlap.
func checkTimeline(t *testing.T, segs []sdk.SegmentInfo) {
	t.Helper()
	for i := 1; i < len(segs); i++ {
		if segs[i].Start < segs[i-1].End() {
			t.Fatalf("segment %d starts at %d, before the previous one ends at %d", i, segs[i].Start, segs[i-1].End())
		}
	}
}

// checkPlayable concatenates init + segments and checks what ffprobe and
// ffmpeg say of it.
func checkPlayable(t *testing.T, st sdk.Store, stream string, segs []sdk.SegmentInfo, w, h int, fps float64) {
	t.Helper()
	for _, p := range testkit.Concat(t, st, stream, segs) {
		pr := testkit.FFprobe(t, p)
		codec, gw, gh, gfps := pr.Video()
		if codec != "h264" || gw != w || gh != h || math.Abs(gfps-fps) > 0.01 {
			t.Errorf("%s: video %s %dx%d %.2f fps, want h264 %dx%d %.2f fps", stream, codec, gw, gh, gfps, w, h, fps)
		}
		if !pr.HasAudio("aac") {
			t.Errorf("%s: no aac audio in %+v", stream, pr.Streams)
		}
		if out := testkit.Decode(t, p); strings.TrimSpace(out) != "" {
			t.Errorf("%s: ffmpeg decode errors:\n%s", stream, out)
		}
		for _, kind := range []string{"v", "a"} {
			ts := testkit.PacketTimes(t, p, kind)
			if len(ts) == 0 {
				t.Errorf("%s: no %s packets", stream, kind)
			}
			for i := 1; i < len(ts); i++ {
				if ts[i] < ts[i-1] {
					t.Fatalf("%s: %s timestamp goes backwards at packet %d: %.3f after %.3f", stream, kind, i, ts[i], ts[i-1])
				}
			}
		}
	}
}

func TestRecordUDPUnicastAndMulticast(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	tp := newTopo(t)
	uni := testkit.FreeUDPPort(t)
	multi := testkit.FreeUDPPort(t)
	group := "239.255.42.17"
	tp.stream("uni", []string{fmt.Sprintf("udp://127.0.0.1:%d", uni)}, `segment_duration = "2s"`, tp.dvr(""))
	tp.stream("multi", []string{fmt.Sprintf("udp://%s:%d?iface=lo", group, multi)}, `segment_duration = "2s"`, tp.dvr(""))
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)

	const seconds = 12
	a := testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", uni), testkit.SenderOptions{Seconds: seconds})
	b := testkit.Send(t, fmt.Sprintf("udp://%s:%d?pkt_size=1316&localaddr=127.0.0.1&ttl=1", group, multi), testkit.SenderOptions{Seconds: seconds, Size: "352x288"})
	testkit.Eventually(t, 40*time.Second, "senders to finish", func() bool { return a.Exited() && b.Exited() })
	time.Sleep(2 * time.Second) // the plugin flushes the last segment after 1 s of silence
	if !node.Term(20 * time.Second) {
		t.Fatal("node did not stop within 20 s of SIGTERM")
	}

	for _, c := range []struct {
		stream string
		w, h   int
	}{{"uni", 320, 240}, {"multi", 352, 288}} {
		segs, ranges, st := testkit.Archive(t, tp.root, c.stream)
		if len(ranges) != 1 {
			t.Fatalf("%s: %d ranges %v, want 1", c.stream, len(ranges), ranges)
		}
		got := secs(totalDuration(segs))
		if got < seconds-3 || got > seconds+1 {
			t.Errorf("%s: recorded %.1f s, want about %d s", c.stream, got, seconds)
		}
		checkTimeline(t, segs)
		checkPlayable(t, st, c.stream, segs, c.w, c.h, 25)
	}
}

func TestGapAndFailover(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	tp := newTopo(t)
	gapPort := testkit.FreeUDPPort(t)
	netPort := testkit.FreeUDPPort(t)
	foPort := testkit.FreeUDPPort(t)
	sample, err := filepath.Abs("../../examples/topologies/sample.ts")
	if err != nil {
		t.Fatal(err)
	}
	tp.stream("gap", []string{fmt.Sprintf("udp://127.0.0.1:%d", gapPort)}, `source_timeout = "2s"`, `segment_duration = "2s"`, tp.dvr(""))
	tp.stream("net", []string{fmt.Sprintf("udp://127.0.0.1:%d", netPort)}, `source_timeout = "2s"`, `segment_duration = "2s"`, tp.dvr(""))
	tp.stream("fo", []string{fmt.Sprintf("udp://127.0.0.1:%d", foPort), "file://" + sample}, `source_timeout = "2s"`, `segment_duration = "2s"`, tp.dvr(""))
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)

	send := func(port, secs int) *testkit.Sender {
		return testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{Seconds: secs})
	}
	// "gap": the sender stops and a new one starts later. "net": the sender
	// keeps running and the network between it and the node drops
	// everything for a while. Relays time what the node really missed.
	// "fo": the primary's sender stops, and a new one starts later and runs
	// to the end.
	gapRelay := testkit.StartRelay(t, fmt.Sprintf("127.0.0.1:%d", gapPort))
	netRelay := testkit.StartRelay(t, fmt.Sprintf("127.0.0.1:%d", netPort))
	send(netRelay.Port, 0)
	first := []*testkit.Sender{send(gapRelay.Port, 8), send(foPort, 8)}
	testkit.Eventually(t, 30*time.Second, "the first senders to finish", func() bool { return first[0].Exited() && first[1].Exited() })
	const outage = 7 * time.Second
	netRelay.Outage(outage)
	time.Sleep(outage)
	send(gapRelay.Port, 0)
	send(foPort, 0)
	time.Sleep(10 * time.Second)
	// The archive playlist over the gap marks it with a discontinuity, and
	// ffprobe still reads it.
	var rs []struct {
		Ranges []struct{ From, Duration int64 } `json:"ranges"`
	}
	if !testkit.JSON(node.URL+"/gap/recording_status.json", &rs) || len(rs) != 1 || len(rs[0].Ranges) < 2 {
		t.Fatalf("gap: recording_status.json: %+v", rs)
	}
	r0, rN := rs[0].Ranges[0], rs[0].Ranges[len(rs[0].Ranges)-1]
	pl := fmt.Sprintf("%s/gap/archive-%d-%d.m3u8", node.URL, r0.From, rN.From+rN.Duration-r0.From)
	if code, body := testkit.Get(t, pl); code != 200 || !strings.Contains(string(body), "#EXT-X-DISCONTINUITY") {
		t.Errorf("gap: archive playlist %s: %d, want 200 with a discontinuity:\n%s", pl, code, body)
	}
	if d := testkit.FFprobe(t, pl).Duration(); d <= 0 {
		t.Errorf("gap: ffprobe reads no duration from %s", pl)
	}

	if !node.Term(20 * time.Second) {
		t.Fatal("node did not stop within 20 s of SIGTERM")
	}

	// A stopped sender, or a network outage, leaves two ranges with a gap
	// of about the time the node received nothing.
	for _, c := range []struct {
		stream string
		relay  *testkit.Relay
	}{{"gap", gapRelay}, {"net", netRelay}} {
		segs, ranges, _ := testkit.Archive(t, tp.root, c.stream)
		checkTimeline(t, segs)
		if len(ranges) != 2 {
			t.Errorf("%s: %d ranges %v, want 2", c.stream, len(ranges), ranges)
			continue
		}
		hole := secs(ranges[1].From - ranges[0].To)
		// Segments start on keyframes (1 s apart here): the hole may grow
		// by up to a GOP on each side.
		if want := c.relay.LongestSilence().Seconds(); hole < want-0.5 || hole > want+2 {
			t.Errorf("%s: hole of %.1f s between ranges, the node received nothing for %.1f s", c.stream, hole, want)
		}
	}

	// The primary's outage is covered by the file fallback, and the primary
	// takes over again when it returns: three runs of inits, 320 wide (udp),
	// 480 (the sample file), 320 again.
	segs, _, st := testkit.Archive(t, tp.root, "fo")
	checkTimeline(t, segs)
	var widths []int
	for _, p := range testkit.Concat(t, st, "fo", segs) {
		_, w, _, _ := testkit.FFprobe(t, p).Video()
		widths = append(widths, w)
	}
	if fmt.Sprint(widths) != "[320 480 320]" {
		t.Fatalf("fo: widths of the recorded runs %v, want [320 480 320] (udp, file fallback, udp)", widths)
	}
}

func TestNodeKilledMidRecording(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	tp := newTopo(t)
	port := testkit.FreeUDPPort(t)
	// A high bitrate makes the kill land inside a segment write more often.
	tp.stream("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)}, `segment_duration = "1s"`, tp.dvr(""))
	path := tp.write(t)
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{Bitrate: "4M", GOP: 10})

	node := testkit.StartNode(t, path, "origin", tp.listen)
	testkit.Eventually(t, 20*time.Second, "segments to be written", func() bool {
		return testkit.Metric(t, node.URL, "edge_dvr_segments_written_total") >= 5
	})
	node.Kill()

	segs, _, st := testkit.Archive(t, tp.root, "cam")
	if len(segs) < 5 {
		t.Fatalf("%d segments after the kill, want at least 5", len(segs))
	}
	checkSegmentsIntact(t, tp.root, "cam", segs)
	before := segs[len(segs)-1].End()
	_ = st.Close()

	node = testkit.StartNode(t, path, "origin", tp.listen)
	testkit.Eventually(t, 20*time.Second, "recording to resume after restart", func() bool {
		return testkit.Metric(t, node.URL, "edge_dvr_segments_written_total") >= 3
	})
	if !node.Term(20 * time.Second) {
		t.Fatal("node did not stop within 20 s of SIGTERM")
	}
	segs, _, _ = testkit.Archive(t, tp.root, "cam")
	checkTimeline(t, segs)
	checkSegmentsIntact(t, tp.root, "cam", segs)
	if last := segs[len(segs)-1]; last.Start < before {
		t.Fatalf("no segment recorded after the restart (last starts %d, archive ended %d before)", last.Start, before)
	}
}

// checkSegmentsIntact asserts that every listed segment's bytes match its
// size and checksum, and that no segment file is visible on disk that the
// archive does not list.
func checkSegmentsIntact(t *testing.T, root, stream string, segs []sdk.SegmentInfo) {
	t.Helper()
	listed := map[string]bool{}
	for _, s := range segs {
		data, err := os.ReadFile(s.Path)
		if err != nil {
			t.Fatalf("segment %d: %v", s.Start, err)
		}
		if int64(len(data)) != s.Size || media.Checksum(data) != s.Checksum {
			t.Fatalf("segment %d at %s is torn: %d bytes (listed %d), checksum %s (listed %s)",
				s.Start, s.Path, len(data), s.Size, media.Checksum(data), s.Checksum)
		}
		listed[s.Path] = true
	}
	err := filepath.Walk(filepath.Join(root, stream), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".m4s") && !strings.Contains(p, string(filepath.Separator)+".tmp") && !listed[p] {
			t.Errorf("segment file %s is on disk but not in the archive", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestIngestPluginKilled(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	tp := newTopo(t)
	port := testkit.FreeUDPPort(t)
	tp.stream("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)}, `segment_duration = "1s"`, tp.dvr(""))
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{})
	testkit.Eventually(t, 20*time.Second, "segments to be written", func() bool {
		return testkit.Metric(t, node.URL, "edge_dvr_segments_written_total") >= 3
	})

	pid := testkit.ChildPID(t, node.Cmd.Process.Pid, "plugin", "udp")
	testkit.KillPID(t, pid)
	testkit.Eventually(t, 20*time.Second, "the udp plugin to be restarted", func() bool {
		return testkit.Metric(t, node.URL, "edge_plugin_restarts_total", "plugin=udp") == 1
	})
	written := testkit.Metric(t, node.URL, "edge_dvr_segments_written_total")
	testkit.Eventually(t, 20*time.Second, "recording to resume", func() bool {
		return testkit.Metric(t, node.URL, "edge_dvr_segments_written_total") >= written+3
	})
	if np := testkit.ChildPID(t, node.Cmd.Process.Pid, "plugin", "udp"); np == pid {
		t.Fatalf("udp plugin pid still %d after SIGKILL", pid)
	}
	if !node.Term(20 * time.Second) {
		t.Fatal("node did not stop within 20 s of SIGTERM")
	}
	segs, _, _ := testkit.Archive(t, tp.root, "cam")
	checkTimeline(t, segs)
	var worst int64
	for i := 1; i < len(segs); i++ {
		worst = max(worst, segs[i].Start-segs[i-1].End())
	}
	if worst > 5000 {
		t.Fatalf("largest gap after the plugin was killed is %.1f s, want a few seconds at most", secs(worst))
	}
	t.Logf("largest gap across the plugin restart: %.2f s", secs(worst))
}

func TestRetentionByDepth(t *testing.T) {
	t.Parallel()
	tp := newTopo(t)
	sample, err := filepath.Abs("../../examples/topologies/sample.ts")
	if err != nil {
		t.Fatal(err)
	}
	// cam1 keeps 4 s; cam10 shares the root and a name prefix and keeps everything.
	tp.stream("cam1", []string{"file://" + sample}, `segment_duration = "1s"`, tp.dvr(`depth = "4s"`))
	tp.stream("cam10", []string{"file://" + sample}, `segment_duration = "1s"`, tp.dvr(""))
	start := time.Now()
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)
	testkit.Eventually(t, 40*time.Second, "recording", func() bool {
		return testkit.Metric(t, node.URL, "edge_dvr_segments_written_total", "stream=cam1") >= 3
	})
	// The store cleans every 10 s; wait for well over the depth plus that.
	time.Sleep(16 * time.Second)
	type rng struct{ from, dur float64 }
	ranges := func(stream string) []rng {
		var rs []struct {
			Ranges []struct {
				From     float64 `json:"from"`
				Duration float64 `json:"duration"`
			} `json:"ranges"`
		}
		if !testkit.JSON(node.URL+"/"+stream+"/recording_status.json", &rs) || len(rs) != 1 || len(rs[0].Ranges) == 0 {
			t.Fatalf("recording_status.json of %s unreadable or empty", stream)
		}
		var out []rng
		for _, r := range rs[0].Ranges {
			out = append(out, rng{r.From, r.Duration})
		}
		return out
	}
	now := float64(time.Now().Unix())
	// cam1 keeps 4 s, plus up to the cleaner's 10 s interval and a segment.
	if first := ranges("cam1")[0].from; first < now-(4+10+2) {
		t.Errorf("cam1 (depth 4s) still holds video from %.0f s ago", now-first)
	}
	// cam10 shares the root and the name prefix and was never cleaned: it
	// still begins when recording began.
	if first := ranges("cam10")[0].from; first > float64(start.Unix())+8 {
		t.Errorf("cam10 (no depth) begins %.0f s after the node started: retention of cam1 touched it", first-float64(start.Unix()))
	}
}

// TestGracefulStopFlushes: SIGTERM finishes the open segment and writes it,
// so the archive reaches up to the moment of the stop.
func TestGracefulStopFlushes(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg")
	tp := newTopo(t)
	port := testkit.FreeUDPPort(t)
	// Long segments: without the flush, the archive would end seconds early.
	tp.stream("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)}, `segment_duration = "8s"`, tp.dvr(""))
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{})
	testkit.Eventually(t, 30*time.Second, "a first segment", func() bool {
		return testkit.Metric(t, node.URL, "edge_dvr_segments_written_total") >= 1
	})
	time.Sleep(4 * time.Second) // mid-segment
	stop := time.Now().UnixMilli()
	if !node.Term(20 * time.Second) {
		t.Fatal("node did not stop within 20 s of SIGTERM")
	}
	segs, _, _ := testkit.Archive(t, tp.root, "cam")
	if len(segs) < 2 {
		t.Fatalf("%d segments: the open one was not written at the stop", len(segs))
	}
	if end := segs[len(segs)-1].End(); end < stop-1500 {
		t.Fatalf("archive ends %.1f s before the stop: the open segment was lost", secs(stop-end))
	}
}

// TestBadInputCounted: garbage datagrams, truncated TS and a PMT that lists
// only an unsupported codec are counted in the node's metrics, nothing
// crashes, and a good source afterwards records as usual.
func TestBadInputCounted(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg")
	tp := newTopo(t)
	port := testkit.FreeUDPPort(t)
	tp.stream("bad", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)}, `segment_duration = "1s"`, tp.dvr(""))
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)

	conn, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ts, err := os.ReadFile("../../examples/topologies/sample.ts")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		garbage := make([]byte, 1316)
		for j := range garbage {
			garbage[j] = byte(rng.Uint32())
		}
		conn.Write(garbage)
		conn.Write(ts[i*1316 : i*1316+100]) // a truncated TS packet
	}
	metric := func(kind string) float64 {
		return testkit.Metric(t, node.URL, "edge_ingest_errors_total", "stream=bad", "kind="+kind)
	}
	testkit.Eventually(t, 15*time.Second, "garbage to be counted", func() bool { return metric("garbage_bytes") > 0 })

	// A TS whose only program carries MPEG-2 video, which we do not take.
	mpeg2 := testkit.Start(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "3", "-c:v", "mpeg2video",
		"-f", "mpegts", fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port))
	testkit.Eventually(t, 30*time.Second, "the unsupported codec to be counted", func() bool { return metric("unsupported") > 0 })
	testkit.Eventually(t, 20*time.Second, "the mpeg-2 sender to finish", mpeg2.Exited)
	if node.Exited() {
		t.Fatal("node died on bad input")
	}

	// A good source records.
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{})
	testkit.Eventually(t, 30*time.Second, "recording after bad input", func() bool {
		return testkit.Metric(t, node.URL, "edge_dvr_segments_written_total", "stream=bad") >= 2
	})
	if !strings.Contains(node.Output(), "bad input") {
		t.Error("no log line about the bad input")
	}
}
