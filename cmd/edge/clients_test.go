package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
)

// Picture of examples/topologies/sample.ts, as ffprobe reports it on the
// file itself.
const sampleWidth, sampleHeight = 480, 270

// TestClients plays one recorded stream with the clients real viewers use,
// from an origin and from two edges that restream it: hls.js in headless
// Chromium (live from the origin and an edge, an archive playlist with a
// seek into its middle, an EVENT playlist), ffprobe and ffmpeg on every
// catch-up URL form of clients.md and on the MPEG-TS outputs. All the
// while, a checker reloads every kind of playlist from all three nodes and
// asserts the rules of RFC 8216 that players rely on.
func TestClients(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	testkit.NeedBrowser(t)
	sample, err := filepath.Abs("../../examples/topologies/sample.ts")
	if err != nil {
		t.Fatal(err)
	}
	tp := testkit.NewTopology(t, "clients-secret")
	tp.Node(t, "origin", testkit.StreamBlock("sample", []string{"file://" + sample},
		fmt.Sprintf("dvr = { root = %q }", tp.Dir+"/origin")))
	tp.Node(t, "edge1", testkit.SourceBlock("m4f://origin"))
	tp.Node(t, "edge2", testkit.SourceBlock("m4f://origin"))
	path := tp.Write(t)
	nodes := map[string]*testkit.Node{}
	for _, n := range []string{"origin", "edge1", "edge2"} {
		nodes[n] = tp.Start(t, path, n)
	}
	origin := nodes["origin"].URL + "/sample/"
	edge1 := nodes["edge1"].URL + "/sample/"

	testkit.Eventually(t, 30*time.Second, "a live segment on the origin", func() bool {
		code, body := testkit.Get(t, origin+"index.m3u8")
		return code == 200 && strings.Contains(string(body), "s-")
	})
	t0 := firstRecorded(t, origin)

	// The checker: every playlist kind from every node, once a second,
	// for the whole test.
	checker := &testkit.PlaylistChecker{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var checkMu sync.Mutex
	var checkErrs []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := http.Client{Timeout: 5 * time.Second}
		paths := []string{
			"index.m3u8", "rewind-30.m3u8", "timeshift_rel-10.m3u8", "index.ts.m3u8",
			fmt.Sprintf("archive-%d-now.m3u8", t0),
			fmt.Sprintf("archive-%d-40.m3u8", t0), // EVENT until the stream passes t0+40, then VOD
			fmt.Sprintf("timeshift_abs-%d.m3u8", t0),
		}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			for _, n := range []string{"origin", "edge1", "edge2"} {
				for _, p := range paths {
					resp, err := client.Get(nodes[n].URL + "/sample/" + p)
					if err != nil {
						continue // a node busy for a moment is not a playlist rule
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						continue // e.g. timeshift_rel before 10 s are recorded
					}
					if err := checker.Check(n, p, string(body)); err != nil {
						checkMu.Lock()
						checkErrs = append(checkErrs, err.Error())
						checkMu.Unlock()
					}
				}
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
		if len(checkErrs) > 0 {
			t.Errorf("playlist rules broken (%d of %d reloads):\n%s", len(checkErrs), checker.Reloads, strings.Join(checkErrs[:min(5, len(checkErrs))], "\n---\n"))
		}
		if checker.Reloads < 200 {
			t.Errorf("the checker saw only %d playlists", checker.Reloads)
		}
	}()

	// Live in the browser, from the origin and from an edge.
	for _, base := range []string{origin, edge1} {
		r := testkit.Play(t, base+"index.m3u8", testkit.PlayOptions{})
		assertPlayed(t, "live "+base, r)
	}

	// Wait for 70 s of archive after t0.
	testkit.Eventually(t, 150*time.Second, "70 s of archive", func() bool {
		return recordedSince(t, origin, t0) >= 70
	})

	// Archive in the browser: a 60 s VOD playlist with a seek into its
	// middle, from the edge (chained lookup); an EVENT playlist from the
	// origin.
	vod := fmt.Sprintf("archive-%d-60.m3u8", t0)
	r := testkit.Play(t, edge1+vod, testkit.PlayOptions{Seek: 30})
	assertPlayed(t, "archive with seek", r)
	if r.Start == nil || *r.Start < 29 || *r.Start > 40 {
		t.Errorf("archive: playback after the seek to 30 s started at %v", r.Start)
	}
	if r.Live == nil || *r.Live || r.Duration == nil || math.Abs(*r.Duration-60) > 3 {
		t.Errorf("archive: hls.js sees live=%v duration=%v, want a 60 s VOD", r.Live, r.Duration)
	}
	r = testkit.Play(t, origin+fmt.Sprintf("archive-%d-now.m3u8", t0), testkit.PlayOptions{})
	assertPlayed(t, "EVENT", r)
	if r.Start == nil || *r.Start > 15 {
		t.Errorf("EVENT: playback started at %v, want its first segments (EXT-X-START)", r.Start)
	}

	// Every catch-up form, on the edge (and so through its chained lookup).
	from := t0 + 2
	for _, c := range []struct {
		file string
		dur  float64 // expected duration; 0: a live-style playlist
	}{
		{fmt.Sprintf("video-%d-60.m3u8", from), 60},
		{fmt.Sprintf("mono-%d-60.m3u8", from), 60},
		{fmt.Sprintf("index-%d-60.m3u8", from), 60},
		{fmt.Sprintf("index-%d-60.fmp4.m3u8", from), 60},
		{fmt.Sprintf("archive-%d-60.ts.m3u8", from), 60},
		{fmt.Sprintf("archive-%d-60.m3u8?token=abc&ch_id=7&osd_title=x", from), 60},
		{"video.m3u8", 0}, {"mono.m3u8", 0}, {"index.fmp4.m3u8", 0}, {"index.ts.m3u8", 0},
		{"timeshift_rel-30.m3u8", 0}, {"video-timeshift_rel-30.m3u8", 0},
		{fmt.Sprintf("index-%d-now.m3u8", from), -1}, {fmt.Sprintf("timeshift_abs-%d.m3u8", from), -1},
	} {
		url := edge1 + c.file
		fetched := time.Now() // the node's "now" for this playlist is no earlier
		code, body := testkit.Get(t, url)
		if code != 200 {
			t.Errorf("%s: %d %s", c.file, code, body)
			continue
		}
		pl, err := testkit.ParsePlaylist(string(body))
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		switch {
		case c.dur > 0:
			if math.Abs(pl.Duration()-c.dur) > 3 || pl.Type != "VOD" {
				t.Errorf("%s: %s playlist of %.2f s, want a VOD of %v s ± one segment", c.file, pl.Type, pl.Duration(), c.dur)
			}
			if p := testkit.FFprobe(t, url); math.Abs(p.Duration()-c.dur) > 3 {
				t.Errorf("%s: ffprobe reads %.2f s, want %v ± 3", c.file, p.Duration(), c.dur)
			}
		case c.dur < 0:
			// EVENT from `from`: its first segment holds `from`.
			if pl.Type != "EVENT" || pl.StartOffset == nil || len(pl.Segments) == 0 {
				t.Errorf("%s: type %q start %v: want an EVENT playlist played from its start", c.file, pl.Type, pl.StartOffset)
			} else if s := segStartSec(pl.Segments[0].URI); s < float64(from) || s > float64(from)+3.5 {
				t.Errorf("%s: first segment starts at %.3f, want the first at or after %d", c.file, s, from)
			}
		default:
			if pl.Type != "" || pl.EndList || len(pl.Segments) < 3 {
				t.Errorf("%s: want a live playlist, got type %q endlist %v, %d segments", c.file, pl.Type, pl.EndList, len(pl.Segments))
			}
			if strings.Contains(c.file, "timeshift_rel-30") {
				last := pl.Segments[len(pl.Segments)-1]
				end := segStartSec(last.URI) + last.Duration
				// The last segment listed starts before now-30 s.
				if lag := float64(fetched.UnixMilli())/1000 - end; lag < 30-3.5 || lag > 30+7 {
					t.Errorf("%s: ends %.1f s before now, want 30 minus at most a segment", c.file, lag)
				}
			}
		}
		p := testkit.FFprobe(t, url)
		if codec, w, h, _ := p.Video(); codec != "h264" || w != sampleWidth || h != sampleHeight || !p.HasAudio("aac") {
			t.Errorf("%s: ffprobe sees %+v", c.file, p.Streams)
		}
	}

	// MPEG-TS: finite ranges (and the legacy form), decoded with no error.
	for _, file := range []string{fmt.Sprintf("archive-%d-60.ts", from), fmt.Sprintf("archive/%d/60/mpegts", from)} {
		url := edge1 + file + "?token=x"
		p := testkit.FFprobe(t, url)
		if p.Format.FormatName != "mpegts" {
			t.Errorf("%s: format %q, want mpegts", file, p.Format.FormatName)
		}
		if codec, w, h, _ := p.Video(); codec != "h264" || w != sampleWidth || h != sampleHeight || !p.HasAudio("aac") {
			t.Errorf("%s: ffprobe sees %+v", file, p.Streams)
		}
		// A TS sent chunked has no length to seek to: ffprobe gives no
		// duration, so measure the span of the video packets.
		ts := testkit.PacketTimes(t, url, "v")
		if len(ts) == 0 {
			t.Errorf("%s: no video packets", file)
		} else if span := ts[len(ts)-1] - ts[0] + 0.04; math.Abs(span-60) > 3 {
			t.Errorf("%s: video spans %.2f s, want 60 ± 3", file, span)
		}
	}
	if out := testkit.Decode(t, fmt.Sprintf("%sarchive-%d-60.ts", origin, from)); strings.TrimSpace(out) != "" {
		t.Errorf("ffmpeg decoding archive-FROM-60.ts printed errors:\n%s", out)
	}
	// Live mpegts and the segments of the .ts HLS flavour.
	for _, file := range []string{"mpegts", "index.ts.m3u8"} {
		p := testkit.FFprobe(t, origin+file)
		if codec, w, h, _ := p.Video(); codec != "h264" || w != sampleWidth || h != sampleHeight || !p.HasAudio("aac") {
			t.Errorf("%s: ffprobe sees %+v", file, p.Streams)
		}
	}
	// timeshift_abs-FROM.ts plays from FROM and on into live: its first
	// video timestamp is FROM's (the TS carries UTC in 90 kHz, modulo
	// 2^33), and reading 30 s more than what was recorded at the start
	// takes it past the live edge.
	tsFrom := time.Now().Unix() - 20
	times := tsVideoTimes(t, fmt.Sprintf("%stimeshift_abs-%d.ts", edge1, tsFrom), 50)
	if len(times) == 0 {
		t.Fatal("timeshift_abs .ts: no video packets")
	}
	wantFirst := math.Mod(float64(tsFrom)*90000, 1<<33) / 90000
	if d := times[0] - wantFirst; d < -0.1 || d > 3.5 {
		t.Errorf("timeshift_abs .ts starts at %.3f, want the first segment at or after %d (%.3f)", times[0], tsFrom, wantFirst)
	}
	if span := times[len(times)-1] - times[0]; span < 45 {
		t.Errorf("timeshift_abs .ts spans %.1f s: it did not go on into live", span)
	}

	// recording_status.json filters ranges by from/to and stays an array.
	var rs []struct {
		Stream string `json:"stream"`
		Ranges []struct{ From, Duration int64 }
	}
	url := fmt.Sprintf("%srecording_status.json?from=%d&to=%d&token=x", origin, t0+10, t0+20)
	if !testkit.JSON(url, &rs) || len(rs) != 1 || len(rs[0].Ranges) != 1 {
		t.Fatalf("%s: %+v", url, rs)
	}
	if r := rs[0].Ranges[0]; r.From > t0+10 || r.From+r.Duration < t0+20 || r.From < t0-5 || r.From+r.Duration > t0+25 {
		t.Errorf("recording_status from/to: range %+v, want about [%d, %d)", r, t0+10, t0+20)
	}
}

// assertPlayed fails when hls.js did not play: currentTime did not advance,
// a fatal error, or a picture that is not the stream's.
func assertPlayed(t *testing.T, what string, r testkit.PlayResult) {
	t.Helper()
	if !r.OK || r.Fatal != nil || r.Width != sampleWidth || r.Height != sampleHeight {
		t.Errorf("%s: hls.js in Chromium did not play: %s", what, r)
	}
}

// firstRecorded returns the first whole second of the stream's archive.
func firstRecorded(t *testing.T, base string) int64 {
	t.Helper()
	var from int64
	testkit.Eventually(t, 30*time.Second, "a recorded range", func() bool {
		var rs []struct {
			Ranges []struct{ From, Duration int64 }
		}
		if !testkit.JSON(base+"recording_status.json", &rs) || len(rs) != 1 || len(rs[0].Ranges) == 0 {
			return false
		}
		from = rs[0].Ranges[0].From + 1
		return true
	})
	return from
}

// recordedSince returns how many seconds the first range holds after t0.
func recordedSince(t *testing.T, base string, t0 int64) int64 {
	var rs []struct {
		Ranges []struct{ From, Duration int64 }
	}
	if !testkit.JSON(base+"recording_status.json", &rs) || len(rs) != 1 || len(rs[0].Ranges) == 0 {
		return 0
	}
	r := rs[0].Ranges[0]
	return r.From + r.Duration - t0
}

// segStartSec is the UTC start in seconds that a segment URI encodes.
func segStartSec(uri string) float64 {
	v := strings.TrimPrefix(uri, "s-")
	v, _, _ = strings.Cut(v, ".")
	n, _ := strconv.ParseInt(v, 10, 64)
	return float64(n) / 1000
}

// tsVideoTimes reads an endless MPEG-TS URL with ffprobe until seconds of
// video have been read and returns the video packets' PTS in seconds.
func tsVideoTimes(t *testing.T, url string, seconds int) []float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+60)*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", "v", "-read_intervals",
		fmt.Sprintf("%%+%d", seconds), "-show_entries", "packet=pts_time", "-of", "json", url).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", url, err)
	}
	var p struct {
		Packets []struct {
			PTS string `json:"pts_time"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	var ts []float64
	for _, pk := range p.Packets {
		if f, err := strconv.ParseFloat(pk.PTS, 64); err == nil {
			ts = append(ts, f)
		}
	}
	return ts
}
