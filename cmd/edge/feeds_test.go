package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
)

// broadcastFeed is a live feed as DVB and IPTV headends send them: random
// access points that are not IDR pictures, MPEG-1 Layer II or (E-)AC-3
// audio.
type broadcastFeed struct {
	name         string
	video, audio []string // ffmpeg encoder arguments
	acodec       string   // the audio codec ffprobe names in the MP4 export
	tsCodec      string   // and in the MPEG-TS export
	browser      bool     // hls.js in Chromium can play it (H.264 + AAC)
}

var (
	feedOpenGOP      = []string{"-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", "-x264-params", "open-gop=1:keyint=25:min-keyint=25:scenecut=0"}
	feedIntraRefresh = []string{"-c:v", "libx264", "-preset", "ultrafast", "-x264-params", "intra-refresh=1:keyint=25"}
)

// sendFeed starts ffmpeg sending seconds of a 320x240 25 fps feed over UDP.
func sendFeed(t *testing.T, port, seconds int, f broadcastFeed) *testkit.Proc {
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", fmt.Sprint(seconds), "-pix_fmt", "yuv420p"}
	args = append(args, f.video...)
	args = append(args, f.audio...)
	args = append(args, "-f", "mpegts", fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port))
	return testkit.Start(t, "ffmpeg", args...)
}

// TestBroadcastFeeds: real feeds from ffmpeg over UDP whose random access
// points are not IDR pictures (x264 open GOP; x264 intra refresh, which
// sends no I-picture after the first) and whose audio is MP2, AC-3 or
// E-AC-3 record in segments of about the target duration; the MP4 export
// and the MPEG-TS export hold both tracks with the right codec for
// ffprobe, the HLS archive playlist probes, and the H.264 + AAC feeds play
// in hls.js.
func TestBroadcastFeeds(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	aac := []string{"-c:a", "aac", "-b:a", "64k"}
	feeds := []broadcastFeed{
		{"open-gop-mp2", feedOpenGOP, []string{"-c:a", "mp2", "-b:a", "128k"}, "mp3", "mp2", false}, // ffprobe names MP4's MPEG audio mp3, in ffmpeg's own MP4 too
		{"intra-refresh-ac3", feedIntraRefresh, []string{"-c:a", "ac3", "-b:a", "128k"}, "ac3", "ac3", false},
		{"open-gop-eac3-dvb", feedOpenGOP, []string{"-c:a", "eac3", "-b:a", "128k", "-mpegts_flags", "system_b"}, "eac3", "eac3", false},
		{"open-gop-aac", feedOpenGOP, aac, "aac", "aac", true},
		{"intra-refresh-aac", feedIntraRefresh, aac, "aac", "aac", true},
	}
	tp := newTopo(t)
	ports := map[string]int{}
	for _, f := range feeds {
		ports[f.name] = testkit.FreeUDPPort(t)
		tp.stream(f.name, []string{fmt.Sprintf("udp://127.0.0.1:%d", ports[f.name])}, `segment_duration = "1s"`, tp.dvr(""))
	}
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)
	const seconds = 10
	for _, f := range feeds {
		sendFeed(t, ports[f.name], seconds, f)
	}
	for _, f := range feeds {
		t.Run(f.name, func(t *testing.T) {
			base := fmt.Sprintf("%s/%s/", node.URL, f.name)
			var from, dur int64
			testkit.Eventually(t, 60*time.Second, "7 s recorded", func() bool {
				var rs []struct {
					Ranges []struct{ From, Duration int64 } `json:"ranges"`
				}
				if !testkit.JSON(base+"recording_status.json", &rs) || len(rs) != 1 || len(rs[0].Ranges) == 0 {
					return false
				}
				r := rs[0].Ranges[0]
				from, dur = r.From, r.Duration
				return dur >= 7
			})
			pl := fmt.Sprintf("%sarchive-%d-%d.m3u8", base, from, dur)
			code, body := testkit.Get(t, pl)
			if code != 200 {
				t.Fatalf("GET %s: %d %s", pl, code, body)
			}
			list, err := testkit.ParsePlaylist(string(body))
			if err != nil {
				t.Fatal(err)
			}
			segs := list.Segments
			if len(segs) < 6 {
				t.Errorf("%d segments for %d s: cut on the random access points every second, want at least 6", len(segs), dur)
			}
			for i, sg := range segs[:max(len(segs)-1, 0)] {
				if sg.Duration > 1.5 {
					t.Errorf("segment %d lasts %.3f s: not cut at a random access point", i, sg.Duration)
				}
			}
			probe := func(url string, acodec string) {
				t.Helper()
				p := testkit.FFprobe(t, url)
				if c, w, h, _ := p.Video(); c != "h264" || w != 320 || h != 240 {
					t.Errorf("%s: video %s %dx%d, want h264 320x240", url, c, w, h)
				}
				if !p.HasAudio(acodec) {
					t.Errorf("%s: streams %+v, want %s audio", url, p.Streams, acodec)
				}
			}
			mp4 := fmt.Sprintf("%sarchive-%d-%d.mp4", base, from, dur)
			probe(mp4, f.acodec)
			testkit.Decode(t, mp4)
			probe(fmt.Sprintf("%sarchive-%d-%d.ts", base, from, dur), f.tsCodec)
			probe(pl, f.acodec)
			if f.browser {
				r := testkit.Play(t, pl, testkit.PlayOptions{Advance: 3})
				if !r.OK || r.Fatal != nil || r.Width != 320 || r.Height != 240 {
					t.Errorf("hls.js in Chromium did not play: %s", r)
				}
			}
		})
	}
	if out := node.Output(); strings.Contains(out, "panic") {
		t.Errorf("node log shows a panic:\n%s", out)
	}
}

// TestTrackNotRecordedCounted: a feed with a second audio track (another
// language, as DVB sends) records its video and first audio, and the track
// it cannot carry is counted in edge_ingest_errors_total{kind="unsupported"}
// and logged once for the stream, not with every PMT.
func TestTrackNotRecordedCounted(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	tp := newTopo(t)
	port := testkit.FreeUDPPort(t)
	tp.stream("two-audio", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)}, `segment_duration = "1s"`, tp.dvr(""))
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)
	testkit.Start(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "8", "-map", "0:v", "-map", "1:a", "-map", "1:a", "-pix_fmt", "yuv420p",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a:0", "mp2", "-c:a:1", "ac3",
		"-f", "mpegts", fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port))
	testkit.Eventually(t, 60*time.Second, "3 segments written", func() bool {
		return testkit.Metric(t, node.URL, "edge_dvr_segments_written_total", "stream=two-audio") >= 3
	})
	if n := testkit.Metric(t, node.URL, "edge_ingest_errors_total", "stream=two-audio", "kind=unsupported"); n != 1 {
		t.Errorf("unsupported counted %v times, want 1 (the AC-3 track)", n)
	}
	var lines int
	for _, l := range strings.Split(node.Output(), "\n") {
		if strings.Contains(l, "tracks not recorded") {
			lines++
			if !strings.Contains(l, "stream=two-audio") || !strings.Contains(l, "AC3") {
				t.Errorf("log line without the stream or the track: %s", l)
			}
		}
	}
	if lines != 1 {
		t.Errorf("%d log lines about the track not recorded, want 1", lines)
	}
	// The first audio track (MP2) is the one recorded.
	var rs []struct {
		Ranges []struct{ From, Duration int64 } `json:"ranges"`
	}
	base := node.URL + "/two-audio/"
	if !testkit.JSON(base+"recording_status.json", &rs) || len(rs) != 1 || len(rs[0].Ranges) == 0 {
		t.Fatal("no recording status")
	}
	r := rs[0].Ranges[0]
	p := testkit.FFprobe(t, fmt.Sprintf("%sarchive-%d-%d.ts", base, r.From, max(r.Duration, 1)))
	if !p.HasAudio("mp2") || p.HasAudio("ac3") {
		t.Errorf("TS export streams %+v, want the mp2 track only", p.Streams)
	}
}
