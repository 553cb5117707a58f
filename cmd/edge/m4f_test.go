package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
)

// The tests in this file run several real `edge run` processes that
// restream each other over M4F, fed by real ffmpeg senders and read by
// ffprobe.

// liveSeg is one entry of a live playlist.
type liveSeg struct {
	start int64 // UTC ms, from the s-{start}.m4s URI
	dur   int64 // ms, from EXTINF
}

var segURI = regexp.MustCompile(`^s-(\d+)\.m4s$`)

// livePlaylist fetches a live playlist and parses its segments; ok is false
// unless it answered 200.
// playlistRules checks every playlist livePlaylist reads.
var playlistRules testkit.PlaylistChecker

func livePlaylist(t *testing.T, url string) (segs []liveSeg, ok bool) {
	t.Helper()
	code, body := testkit.Get(t, url)
	if code != 200 {
		return nil, false
	}
	// Every live playlist these tests read keeps the rules of RFC 8216
	// across its reloads.
	if err := playlistRules.Check(t.Name(), url, string(body)); err != nil {
		t.Error(err)
	}
	var dur int64
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		if v, found := strings.CutPrefix(line, "#EXTINF:"); found {
			f, err := strconv.ParseFloat(strings.TrimSuffix(v, ","), 64)
			if err != nil {
				t.Fatalf("%s: bad EXTINF %q", url, line)
			}
			dur = int64(f*1000 + 0.5)
			continue
		}
		if m := segURI.FindStringSubmatch(line); m != nil {
			start, _ := strconv.ParseInt(m[1], 10, 64)
			segs = append(segs, liveSeg{start: start, dur: dur})
		}
	}
	return segs, true
}

// checkLiveTimeline asserts that a live playlist's starts strictly increase
// and that no segment starts before the previous one ends.
func checkLiveTimeline(t *testing.T, what string, segs []liveSeg) {
	t.Helper()
	for i := 1; i < len(segs); i++ {
		if segs[i].start <= segs[i-1].start || segs[i].start < segs[i-1].start+segs[i-1].dur {
			t.Fatalf("%s: segment %d starts at %d, previous starts at %d and lasts %d ms (overlap)",
				what, i, segs[i].start, segs[i-1].start, segs[i-1].dur)
		}
	}
}

// streamStatus is the part of /api/v1/streams/{name} these tests read.
type streamStatus struct {
	ActiveInput string `json:"active_input"`
	Inputs      []struct {
		URL   string `json:"url"`
		State string `json:"state"`
	} `json:"inputs"`
}

func activeInput(base, stream string) string {
	var st streamStatus
	if !testkit.JSON(base+"/api/v1/streams/"+stream, &st) {
		return ""
	}
	return st.ActiveInput
}

func TestThreeTierChain(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	port := testkit.FreeUDPPort(t)
	mt := testkit.NewTopology(t, "three-tier-secret")
	mt.Node(t, "origin", testkit.StreamBlock("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)},
		`segment_duration = "1s"`, fmt.Sprintf("dvr = { root = %q }", mt.Dir+"/origin")))
	mt.Node(t, "cache", "\n  [[node.source]]\n  url = \"m4f://origin\"")
	mt.Node(t, "edge", "\n  [[node.source]]\n  url = \"m4f://cache\"")
	path := mt.Write(t)
	origin := mt.Start(t, path, "origin")
	cache := mt.Start(t, path, "cache")
	edge := mt.Start(t, path, "edge")
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{})

	// The edge learns of the stream through the cache (source polling) and
	// pulls it on demand when asked: keep asking until it has segments.
	edgePL := edge.URL + "/cam/index.m3u8"
	originPL := origin.URL + "/cam/index.m3u8"
	testkit.Eventually(t, 45*time.Second, "live segments on the edge", func() bool {
		segs, ok := livePlaylist(t, edgePL)
		return ok && len(segs) >= 2
	})

	// The video goes through the cache tier: it streams live to the edge.
	if n := testkit.Metric(t, cache.URL, "edge_m4f_live_clients"); n < 1 {
		t.Errorf("cache tier has %v live M4F clients, want the edge", n)
	}
	pr := testkit.FFprobe(t, edgePL)
	if codec, w, h, _ := pr.Video(); codec != "h264" || w != 320 || h != 240 || !pr.HasAudio("aac") {
		t.Fatalf("edge live: ffprobe sees %+v, want h264 320x240 and aac", pr.Streams)
	}

	// The same segment URL gives the same bytes on the edge and the origin.
	var compared int64
	testkit.Eventually(t, 20*time.Second, "a segment held by both edge and origin", func() bool {
		es, ok := livePlaylist(t, edgePL)
		if !ok || len(es) == 0 {
			return false
		}
		ors, ok := livePlaylist(t, originPL)
		if !ok {
			return false
		}
		have := map[int64]bool{}
		for _, s := range ors {
			have[s.start] = true
		}
		for i := len(es) - 1; i >= 0; i-- {
			s := es[i]
			if !have[s.start] {
				continue
			}
			uri := fmt.Sprintf("/cam/s-%d.m4s", s.start)
			ec, eb := testkit.Get(t, edge.URL+uri)
			oc, ob := testkit.Get(t, origin.URL+uri)
			if ec != 200 || oc != 200 {
				t.Logf("%s: edge %d, origin %d; retrying", uri, ec, oc)
				return false
			}
			if !bytes.Equal(eb, ob) {
				t.Fatalf("%s: edge body (%d bytes) differs from origin body (%d bytes)", uri, len(eb), len(ob))
			}
			if len(eb) == 0 {
				t.Fatalf("%s: empty body", uri)
			}
			compared = s.start
			return true
		}
		return false
	})
	t.Logf("segment s-%d.m4s is byte-identical on edge and origin", compared)

	// The edge's live output lags the origin's by at most one segment. The
	// origin is read first, so a segment that closes between the two reads
	// can only make the edge look newer, never older.
	for i := 0; i < 5; i++ {
		ors, ok1 := livePlaylist(t, originPL)
		es, ok2 := livePlaylist(t, edgePL)
		if !ok1 || !ok2 || len(ors) == 0 || len(es) == 0 {
			t.Fatalf("live playlists: origin ok=%v (%d segments), edge ok=%v (%d segments)", ok1, len(ors), ok2, len(es))
		}
		on, en := ors[len(ors)-1], es[len(es)-1]
		t.Logf("newest segment: origin %d, edge %d (edge behind by %d ms)", on.start, en.start, on.start-en.start)
		if en.start < on.start-on.dur {
			t.Errorf("edge newest segment %d lags origin newest %d by %d ms, more than one segment (%d ms)",
				en.start, on.start, on.start-en.start, on.dur)
		}
		checkLiveTimeline(t, "edge live playlist", es)
		time.Sleep(700 * time.Millisecond) // spread the samples over a few segments
	}
}

func TestFailoverBetweenOrigins(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	p1, p2 := testkit.FreeUDPPort(t), testkit.FreeUDPPort(t)
	mt := testkit.NewTopology(t, "failover-secret")
	for i, p := range []int{p1, p2} {
		mt.Node(t, fmt.Sprintf("o%d", i+1), testkit.StreamBlock("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", p)}, `segment_duration = "1s"`))
	}
	const sourceTimeout = 3 * time.Second
	mt.Node(t, "edge", testkit.StreamBlock("cam", []string{"m4f://o1/cam", "m4f://o2/cam"},
		`source_timeout = "3s"`))
	path := mt.Write(t)
	o1 := mt.Start(t, path, "o1")
	mt.Start(t, path, "o2")
	edge := mt.Start(t, path, "edge")
	// One ffmpeg feeds both origins the same encoded stream.
	testkit.Need(t, "ffmpeg")
	testkit.Start(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-map", "0:v", "-map", "1:a", "-f", "tee",
		fmt.Sprintf("[f=mpegts]udp://127.0.0.1:%d?pkt_size=1316|[f=mpegts]udp://127.0.0.1:%d?pkt_size=1316", p1, p2))

	edgePL := edge.URL + "/cam/index.m3u8"
	testkit.Eventually(t, 30*time.Second, "the edge to play from o1", func() bool {
		segs, ok := livePlaylist(t, edgePL)
		return activeInput(edge.URL, "cam") == "m4f://o1/cam" && ok && len(segs) >= 2
	})

	switches := testkit.Metric(t, edge.URL, "edge_ingest_input_switches_total", "stream=cam")
	killed := time.Now()
	o1.Kill()
	testkit.Eventually(t, 20*time.Second, "the edge to switch to o2", func() bool {
		return activeInput(edge.URL, "cam") == "m4f://o2/cam"
	})
	took := time.Since(killed)
	t.Logf("switch to the second input %.2f s after o1 was killed (source_timeout %v)", took.Seconds(), sourceTimeout)
	// Bound: source_timeout, plus one segment, plus a margin for the status
	// poll, the first segment of o2 and a loaded machine.
	if bound := sourceTimeout + time.Second + 3*time.Second; took > bound {
		t.Errorf("the switch took %v, want at most %v (source_timeout + one segment + margin)", took, bound)
	}
	if got := testkit.Metric(t, edge.URL, "edge_ingest_input_switches_total", "stream=cam"); got <= switches {
		t.Errorf("edge_ingest_input_switches_total %v, was %v before the kill", got, switches)
	}

	// Viewers keep playing: the live playlist gains new segments after the
	// switch and ffprobe reads it.
	before, _ := livePlaylist(t, edgePL)
	var newest int64
	if len(before) > 0 {
		newest = before[len(before)-1].start
	}
	testkit.Eventually(t, 15*time.Second, "new live segments after the switch", func() bool {
		segs, ok := livePlaylist(t, edgePL)
		n := 0
		for _, s := range segs {
			if s.start > newest {
				n++
			}
		}
		return ok && n >= 2
	})
	pr := testkit.FFprobe(t, edgePL)
	if codec, w, h, _ := pr.Video(); codec != "h264" || w != 320 || h != 240 || !pr.HasAudio("aac") {
		t.Fatalf("edge live after the switch: ffprobe sees %+v", pr.Streams)
	}

	// o1 comes back: the edge returns to its first input.
	back := time.Now()
	mt.Start(t, path, "o1")
	testkit.Eventually(t, 30*time.Second, "the edge to return to o1", func() bool {
		return activeInput(edge.URL, "cam") == "m4f://o1/cam"
	})
	t.Logf("back on the first input %.2f s after o1 was restarted", time.Since(back).Seconds())

	// Let a few segments from o1 arrive, then check the live timeline.
	testkit.Eventually(t, 15*time.Second, "live segments after the return", func() bool {
		segs, ok := livePlaylist(t, edgePL)
		return ok && len(segs) >= 3
	})
	segs, _ := livePlaylist(t, edgePL)
	checkLiveTimeline(t, "edge live playlist after two switches", segs)
	if d := testkit.FFprobe(t, edgePL); len(d.Streams) == 0 {
		t.Errorf("ffprobe reads nothing from the edge after the return")
	}
}

func TestWrongClusterKey(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg")
	port := testkit.FreeUDPPort(t)
	om := testkit.NewTopology(t, "right")
	oaddr := om.Node(t, "origin", testkit.StreamBlock("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)}, `segment_duration = "1s"`))
	origin := om.Start(t, om.Write(t), "origin")

	em := testkit.NewTopology(t, "elsewhere")
	em.Node(t, "edge", testkit.StreamBlock("cam", []string{fmt.Sprintf("m4f://%s/cam?key=wrong", oaddr)}))
	edge := em.Start(t, em.Write(t), "edge")
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{})

	// The origin itself works.
	testkit.Eventually(t, 20*time.Second, "origin live segments", func() bool {
		segs, ok := livePlaylist(t, origin.URL+"/cam/index.m3u8")
		return ok && len(segs) > 0
	})
	testkit.Eventually(t, 20*time.Second, "the origin to refuse the edge", func() bool {
		return testkit.Metric(t, origin.URL, "edge_m4f_auth_failures_total") > 0
	})
	if n := testkit.Metric(t, origin.URL, "edge_m4f_auth_failures_total", "reason=bad_signature"); n == 0 {
		t.Errorf("edge_m4f_auth_failures_total{reason=\"bad_signature\"} is 0; all refusals: %v",
			testkit.Metric(t, origin.URL, "edge_m4f_auth_failures_total"))
	}
	testkit.Eventually(t, 10*time.Second, "a refusal line in the origin's log", func() bool {
		for _, l := range strings.Split(origin.Output(), "\n") {
			if strings.Contains(l, "refused") && strings.Contains(l, "bad signature") && strings.Contains(l, "edge") {
				return true
			}
		}
		return false
	})
	testkit.Eventually(t, 10*time.Second, "a cluster_key hint in the edge's log", func() bool {
		return strings.Contains(edge.Output(), "cluster_key")
	})

	// No stream data flows to the edge.
	code, body := testkit.Get(t, edge.URL+"/cam/index.m3u8")
	if code == 200 && strings.Contains(string(body), ".m4s") {
		t.Errorf("edge serves live segments despite the wrong key:\n%s", body)
	}
	if n := testkit.Metric(t, edge.URL, "edge_ingest_segments_total", "stream=cam"); n != 0 {
		t.Errorf("edge_ingest_segments_total on the edge is %v, want 0", n)
	}
	var st streamStatus
	if testkit.JSON(edge.URL+"/api/v1/streams/cam", &st) {
		if st.ActiveInput != "" {
			t.Errorf("edge reports active input %q despite the wrong key", st.ActiveInput)
		}
		for _, in := range st.Inputs {
			if strings.Contains(in.URL, "wrong") {
				t.Errorf("the API shows the input's key: %q", in.URL)
			}
		}
	}

	// Neither the keys nor anything derived from them shows in the output.
	leak := regexp.MustCompile(`(?i)key[=:" ]+\\?"?(right|wrong)\b|"(right|wrong)"|=(right|wrong)\b`)
	for name, out := range map[string]string{"origin": origin.Output(), "edge": edge.Output()} {
		for _, l := range strings.Split(out, "\n") {
			if leak.MatchString(l) {
				t.Errorf("%s output shows a key: %s", name, l)
			}
		}
	}
}

func TestSourceBlockFollowsStreams(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	pa, pb := testkit.FreeUDPPort(t), testkit.FreeUDPPort(t)
	mt := testkit.NewTopology(t, "source-secret")
	mt.Node(t, "origin",
		testkit.StreamBlock("a", []string{fmt.Sprintf("udp://127.0.0.1:%d", pa)}, `segment_duration = "1s"`),
		testkit.StreamBlock("b", []string{fmt.Sprintf("udp://127.0.0.1:%d", pb)}, `segment_duration = "1s"`))
	mt.Node(t, "edge", "\n  [[node.source]]\n  url = \"m4f://origin\"\n  only = [\"a\"]")
	path := mt.Write(t)
	origin := mt.Start(t, path, "origin")
	edge := mt.Start(t, path, "edge")
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", pa), testkit.SenderOptions{})
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", pb), testkit.SenderOptions{Size: "352x288"})

	for _, s := range []string{"a", "b"} {
		testkit.Eventually(t, 20*time.Second, "origin live segments of "+s, func() bool {
			segs, ok := livePlaylist(t, origin.URL+"/"+s+"/index.m3u8")
			return ok && len(segs) > 0
		})
	}
	// Nobody watches yet: the on-demand stream pulls nothing.
	testkit.Eventually(t, 15*time.Second, "the edge to list stream a", func() bool {
		var st streamStatus
		return testkit.JSON(edge.URL+"/api/v1/streams/a", &st)
	})
	if n := testkit.Metric(t, edge.URL, "edge_ingest_segments_total", "stream=a"); n != 0 {
		t.Errorf("edge took %v segments of a before anyone watched (on demand)", n)
	}
	testkit.Eventually(t, 30*time.Second, "the edge to serve a", func() bool {
		segs, ok := livePlaylist(t, edge.URL+"/a/index.m3u8")
		return ok && len(segs) >= 1
	})
	pr := testkit.FFprobe(t, edge.URL+"/a/index.m3u8")
	if codec, w, h, _ := pr.Video(); codec != "h264" || w != 320 || h != 240 {
		t.Errorf("edge a: ffprobe sees %+v, want h264 320x240", pr.Streams)
	}
	if code, body := testkit.Get(t, edge.URL+"/b/index.m3u8"); code != 404 {
		t.Errorf("edge /b/index.m3u8: %d %s, want 404 (b is not in only)", code, body)
	}
	if code, _ := testkit.Get(t, edge.URL+"/api/v1/streams/b"); code != 404 {
		t.Errorf("edge /api/v1/streams/b: %d, want 404", code)
	}
}
