package main

import (
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
)

// playlistDuration sums the EXTINF durations of a media playlist.
func playlistDuration(t *testing.T, body string) float64 {
	t.Helper()
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "#EXTINF:"); ok {
			f, err := strconv.ParseFloat(strings.TrimSuffix(v, ","), 64)
			if err != nil {
				t.Fatalf("bad EXTINF %q", line)
			}
			sum += f
		}
	}
	return sum
}

// TestPlaybackFromNode records a looping file on a real node for a little
// over a minute and plays it back with ffprobe and ffmpeg as the clients:
// live HLS, a 60 s archive playlist and a 60 s MP4 export, then bad
// requests.
func TestPlaybackFromNode(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	tp := newTopo(t)
	sample, err := filepath.Abs("../../examples/topologies/sample.ts")
	if err != nil {
		t.Fatal(err)
	}
	tp.stream("sample", []string{"file://" + sample}, tp.dvr(""))
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)
	base := node.URL + "/sample/"

	// Live: ffprobe reads the live playlist.
	testkit.Eventually(t, 30*time.Second, "a live segment", func() bool {
		code, body := testkit.Get(t, base+"index.m3u8")
		return code == 200 && strings.Contains(string(body), "s-")
	})
	pr := testkit.FFprobe(t, base+"index.m3u8")
	if codec, w, h, _ := pr.Video(); codec != "h264" || w != 480 || h != 270 || !pr.HasAudio("aac") {
		t.Fatalf("live: ffprobe sees %+v", pr.Streams)
	}

	// Wait until the archive holds 60 s after its first full second.
	var from int64
	testkit.Eventually(t, 120*time.Second, "66 s of archive", func() bool {
		var rs []struct {
			Ranges []struct{ From, Duration int64 } `json:"ranges"`
		}
		if !testkit.JSON(base+"recording_status.json", &rs) || len(rs) != 1 || len(rs[0].Ranges) == 0 {
			return false
		}
		r := rs[0].Ranges[0]
		from = r.From + 1
		return r.Duration >= 66
	})

	// Archive playlist: 60 s give or take a segment, readable by ffprobe.
	pl := fmt.Sprintf("%sarchive-%d-60.m3u8", base, from)
	code, body := testkit.Get(t, pl)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", pl, code, body)
	}
	if d := playlistDuration(t, string(body)); math.Abs(d-60) > 3 {
		t.Errorf("archive playlist lasts %.2f s, want 60 ± 3", d)
	}
	if !strings.Contains(string(body), "#EXT-X-ENDLIST") || !strings.Contains(string(body), "#EXT-X-PROGRAM-DATE-TIME") {
		t.Errorf("archive playlist lacks ENDLIST or PROGRAM-DATE-TIME:\n%s", body)
	}
	if d := testkit.FFprobe(t, pl).Duration(); math.Abs(d-60) > 3 {
		t.Errorf("ffprobe: archive playlist lasts %.2f s, want 60 ± 3", d)
	}
	if code, alias := testkit.Get(t, fmt.Sprintf("%sindex-%d-60.m3u8", base, from)); code != 200 || string(alias) != string(body) {
		t.Errorf("legacy alias index-FROM-DUR.m3u8: %d, same body %v", code, string(alias) == string(body))
	}

	// MP4 export: probes with that duration and decodes without errors.
	mp4 := fmt.Sprintf("%sarchive-%d-60.mp4", base, from)
	resp, err := http.Head(mp4)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength <= 0 || !strings.Contains(resp.Header.Get("Content-Disposition"), "sample-") {
		t.Errorf("HEAD %s: %d, length %d, disposition %q", mp4, resp.StatusCode, resp.ContentLength, resp.Header.Get("Content-Disposition"))
	}
	if d := testkit.FFprobe(t, mp4).Duration(); math.Abs(d-60) > 3 {
		t.Errorf("ffprobe: mp4 export lasts %.2f s, want 60 ± 3", d)
	}
	if out := testkit.Decode(t, mp4); strings.TrimSpace(out) != "" {
		t.Errorf("ffmpeg decode of the mp4 export reports errors:\n%s", out)
	}

	// Bad requests: a 400 or 404 with a one-line reason, never a 200.
	future := time.Now().Unix() + 3600
	for _, path := range []string{
		fmt.Sprintf("/sample/archive-%d--5.m3u8", from),
		fmt.Sprintf("/sample/archive-%d-0.m3u8", from),
		fmt.Sprintf("/sample/archive-%d-99999999.mp4", from),
		fmt.Sprintf("/sample/archive-%d-60.m3u8", future),
		"/sample/archive-abc-60.m3u8",
		"/sample/rewind-x.m3u8",
		"/nosuch/index.m3u8",
		"/../etc/passwd",
		"/sample/..%2f..%2fetc%2fpasswd",
		"/sa%2fmple/index.m3u8",
		"/sample/s-abc.m4s",
		"/sample/init-../../x.mp4",
	} {
		code, body := testkit.Get(t, node.URL+path)
		if code != 400 && code != 404 {
			t.Errorf("GET %s: %d, want 400 or 404", path, code)
		}
		if reason := strings.TrimSpace(string(body)); reason == "" || strings.Contains(reason, "\n") || strings.Contains(reason, "root:") {
			t.Errorf("GET %s: reason %q, want one line", path, reason)
		}
	}
}
