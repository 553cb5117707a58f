package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/media"
)

// world is a server over real media: stream "cam" (archive in files + a
// live window), "gap" (archive in memory, 10 s missing, no live), and
// "vanish" (an unavailable archive).
type world struct {
	url    string
	baseMs int64 // start of the first segment of every stream
	from   int64 // first whole second at or after baseMs
	m      *testMedia
	cam    *testArchive
	gap    *testArchive
	live   *cache.Live
	mem    *cache.Memory
	reg    *prometheus.Registry
	srv    *Server
}

const (
	worldSegs = 45 // 90 s
	liveKeep  = 10
)

func newWorld(t *testing.T) *world {
	t.Helper()
	m := loadMedia(t)
	w := &world{m: m, cam: newTestArchive(), gap: newTestArchive(), live: cache.NewLive(liveKeep),
		mem: cache.NewMemory(64 << 20), reg: prometheus.NewRegistry()}
	w.baseMs = time.Now().UnixMilli() - worldSegs*testSegMs - 500
	if w.baseMs%1000 == 0 {
		w.baseMs-- // the tests rely on the first segment starting before from
	}
	w.from = (w.baseMs + 999) / 1000
	dir := t.TempDir()
	in := m.mediaInit()
	for i := 0; i < worldSegs; i++ {
		seg := m.segment(i, w.baseMs)
		w.cam.add(t, dir, in, seg)
		if i >= worldSegs-liveKeep {
			w.live.Push(in, seg)
		}
		if i < 10 || i >= 15 {
			w.gap.add(t, "", in, seg)
		}
	}
	// "switch": the init changes at segment 20 (same tracks, other bytes).
	sw := newTestArchive()
	in2 := otherInit(t, m)
	for i := 0; i < worldSegs; i++ {
		seg, init := m.segment(i, w.baseMs), in
		if i >= 20 {
			seg.InitHash, init = in2.Hash, in2
		}
		sw.add(t, "", init, seg)
	}
	vanish := newTestArchive()
	vanish.unavailable = true
	be := &testBackend{
		streams: map[string]*testStream{
			"cam": {name: "cam", live: w.live, archive: w.cam, status: StreamStatus{
				Inputs:      []InputStatus{{URL: "udp://239.0.0.1:1234", State: "active"}},
				ActiveInput: "udp://239.0.0.1:1234", Bitrate: 800_000, LastFrame: time.Now()}},
			"gap":    {name: "gap", archive: w.gap},
			"switch": {name: "switch", archive: sw},
			"vanish": {name: "vanish", archive: vanish},
		},
		peers: map[string]string{"elsewhere": "http://127.0.0.2:8080"},
	}
	w.srv, w.url = startServer(t, Config{Backend: be, Memory: w.mem, Registry: w.reg, Node: "test",
		Logger: slog.New(slog.DiscardHandler)})
	return w
}

func ffprobe(t *testing.T, args ...string) string {
	t.Helper()
	p, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Fatal("ffprobe not found in PATH: install ffmpeg (apt-get install -y ffmpeg) to run this test")
	}
	cmd := exec.Command(p, append([]string{"-v", "error"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %v: %v: %s", args, err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("ffprobe %v reported errors: %s", args, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func probeDuration(t *testing.T, url string) float64 {
	t.Helper()
	out := ffprobe(t, "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", url)
	d, err := strconv.ParseFloat(out, 64)
	if err != nil {
		t.Fatalf("ffprobe duration of %s: %q", url, out)
	}
	return d
}

func TestFFprobeLivePlaylist(t *testing.T) {
	w := newWorld(t)
	out := ffprobe(t, "-show_entries", "stream=codec_name", "-of", "csv=p=0", w.url+"/cam/index.m3u8")
	if !strings.Contains(out, "h264") || !strings.Contains(out, "aac") {
		t.Fatalf("live playlist streams = %q, want h264 and aac", out)
	}
	resp, body := get(t, "GET", w.url+"/cam/index.m3u8")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctypePlaylist || resp.Header.Get("Cache-Control") != cacheShort {
		t.Fatalf("live playlist: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	if n := strings.Count(string(body), "#EXTINF"); n != 6 {
		t.Errorf("live playlist has %d segments, want 6", n)
	}
	// The media sequence is the live window's number of the first listed segment.
	last, _ := w.live.Snapshot().Last()
	want := "#EXT-X-MEDIA-SEQUENCE:" + strconv.FormatInt(last.Seq-5, 10) + "\n"
	if !strings.Contains(string(body), want) {
		t.Errorf("live playlist lacks %q:\n%s", want, body)
	}
	if n := strings.Count(string(body), "#EXT-X-PROGRAM-DATE-TIME"); n != 6 {
		t.Errorf("live playlist has %d PROGRAM-DATE-TIME, want 6", n)
	}
}

func TestFFprobeArchivePlaylist(t *testing.T) {
	w := newWorld(t)
	url := fmt.Sprintf("%s/cam/archive-%d-60.m3u8", w.url, w.from)
	if d := probeDuration(t, url); math.Abs(d-60) > testSegMs/1000 {
		t.Errorf("archive playlist duration %.3f, want 60 ± %d", d, testSegMs/1000)
	}
	resp, body := get(t, "GET", url)
	if resp.Header.Get("Cache-Control") != cacheShort { // the range ends less than a minute ago... or not
		if resp.Header.Get("Cache-Control") != cacheImmutable {
			t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
		}
	}
	checkVOD(t, string(body), w.from*1000, w.from*1000+60_000)
	// The legacy alias answers the same.
	_, alias := get(t, "GET", fmt.Sprintf("%s/cam/index-%d-60.m3u8", w.url, w.from))
	if !bytes.Equal(alias, body) {
		t.Errorf("index-FROM-DUR.m3u8 differs from archive-FROM-DUR.m3u8")
	}
}

// checkVOD checks the structure of a VOD playlist and that its segments
// start in [from, to).
func checkVOD(t *testing.T, pl string, from, to int64) {
	t.Helper()
	for _, tag := range []string{"#EXTM3U\n", "#EXT-X-VERSION:7\n", "#EXT-X-PLAYLIST-TYPE:VOD\n", "#EXT-X-ENDLIST\n", "#EXT-X-MAP:URI=\"init-"} {
		if !strings.Contains(pl, tag) {
			t.Errorf("VOD playlist lacks %q", tag)
		}
	}
	for _, line := range strings.Split(pl, "\n") {
		if v, ok := strings.CutPrefix(line, "s-"); ok {
			start, err := strconv.ParseInt(strings.TrimSuffix(v, ".m4s"), 10, 64)
			if err != nil || start < from || start >= to {
				t.Errorf("segment %q outside [%d, %d)", line, from, to)
			}
		}
	}
}

func TestFFprobeGapPlaylist(t *testing.T) {
	w := newWorld(t)
	url := fmt.Sprintf("%s/gap/archive-%d-60.m3u8", w.url, w.from)
	_, body := get(t, "GET", url)
	if n := strings.Count(string(body), "#EXT-X-DISCONTINUITY\n"); n != 1 {
		t.Fatalf("gap playlist has %d discontinuities, want 1:\n%s", n, body)
	}
	out := ffprobe(t, "-show_entries", "stream=codec_name", "-of", "csv=p=0", url)
	if !strings.Contains(out, "h264") {
		t.Fatalf("gap playlist streams = %q", out)
	}
	// Segments of the gap stream come from Archive.ReadSegment, then from memory.
	start := w.baseMs + 20*testSegMs
	_, b1 := get(t, "GET", fmt.Sprintf("%s/gap/s-%d.m4s", w.url, start))
	reads := w.gap.reads
	_, b2 := get(t, "GET", fmt.Sprintf("%s/gap/s-%d.m4s", w.url, start))
	if !bytes.Equal(b1, b2) || w.gap.reads != reads {
		t.Errorf("second read of a ReadSegment segment did not come from memory (reads %d -> %d)", reads, w.gap.reads)
	}
	if st := w.mem.Stats(); st.Hits == 0 || st.Entries == 0 {
		t.Errorf("memory cache stats %+v", st)
	}
}

func TestFFprobeExport(t *testing.T) {
	w := newWorld(t)
	url := fmt.Sprintf("%s/cam/archive-%d-60.mp4", w.url, w.from)
	if d := probeDuration(t, url); math.Abs(d-60) > testSegMs/1000 {
		t.Errorf("export duration %.3f, want 60 ± %d", d, testSegMs/1000)
	}
	out := ffprobe(t, "-show_entries", "format=start_time", "-of", "default=nw=1:nk=1", url)
	if st, err := strconv.ParseFloat(out, 64); err != nil || st > 0.1 {
		t.Errorf("export start_time %q, want about 0", out)
	}
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", url, "-f", "null", "-")
	if b, err := cmd.CombinedOutput(); err != nil || len(b) > 0 {
		t.Errorf("ffmpeg decode of the export: %v: %s", err, b)
	}
	resp, body := get(t, "GET", url)
	wantName := fmt.Sprintf(`attachment; filename="cam-%s-60s.mp4"`, time.Unix(w.from, 0).UTC().Format("20060102-150405"))
	if cd := resp.Header.Get("Content-Disposition"); cd != wantName {
		t.Errorf("Content-Disposition %q, want %q", cd, wantName)
	}
	if resp.ContentLength != int64(len(body)) || resp.Header.Get("Content-Type") != ctypeMP4 {
		t.Errorf("Content-Length %d, body %d, type %q", resp.ContentLength, len(body), resp.Header.Get("Content-Type"))
	}
	head, hb := get(t, "HEAD", url)
	if head.ContentLength != int64(len(body)) || len(hb) != 0 {
		t.Errorf("HEAD Content-Length %d, want %d", head.ContentLength, len(body))
	}
	// The gap stream exports across its gap, from memory-only segments.
	gurl := fmt.Sprintf("%s/gap/archive-%d-60.mp4", w.url, w.from)
	cmd = exec.Command("ffmpeg", "-v", "error", "-i", gurl, "-f", "null", "-")
	if b, err := cmd.CombinedOutput(); err != nil || len(b) > 0 {
		t.Errorf("ffmpeg decode of the gap export: %v: %s", err, b)
	}
}

func TestByteRanges(t *testing.T) {
	w := newWorld(t)
	urls := []string{
		fmt.Sprintf("%s/cam/archive-%d-20.mp4", w.url, w.from),
		fmt.Sprintf("%s/cam/s-%d.m4s", w.url, w.baseMs+2*testSegMs),             // archive file: sendfile
		fmt.Sprintf("%s/cam/s-%d.m4s", w.url, w.baseMs+(worldSegs-1)*testSegMs), // live window
		fmt.Sprintf("%s/cam/init-%s.mp4", w.url, w.m.mediaInit().Hash),
	}
	defer func() {
		if w.cam.reads != 0 {
			t.Errorf("segments with files were read through ReadSegment %d times", w.cam.reads)
		}
	}()
	for _, url := range urls {
		resp, full := get(t, "GET", url)
		if resp.StatusCode != 200 || len(full) < 1000 {
			t.Fatalf("%s: %d, %d bytes", url, resp.StatusCode, len(full))
		}
		n := int64(len(full))
		tests := []struct {
			rng         string
			first, last int64 // -1: whole body with 200
			status      int
		}{
			{"bytes=0-99", 0, 99, 206},
			{"bytes=100-", 100, n - 1, 206},
			{"bytes=-500", n - 500, n - 1, 206},
			{fmt.Sprintf("bytes=%d-%d", n-10, n+1000), n - 10, n - 1, 206},
			{fmt.Sprintf("bytes=%d-", n/2), n / 2, n - 1, 206},
			{"bytes=5-5", 5, 5, 206},
			{fmt.Sprintf("bytes=-%d", n*2), 0, n - 1, 206},
			{fmt.Sprintf("bytes=%d-", n), 0, 0, 416},
			{"bytes=-0", 0, 0, 416},
			{"bytes=0-1,5-6", -1, -1, 200},
			{"bytes=9-3", -1, -1, 200},
			{"items=0-3", -1, -1, 200},
		}
		for _, tc := range tests {
			resp, b := get(t, "GET", url, "Range", tc.rng)
			if resp.StatusCode != tc.status {
				t.Errorf("%s Range %s: status %d, want %d", url, tc.rng, resp.StatusCode, tc.status)
				continue
			}
			switch tc.status {
			case 206:
				want := full[tc.first : tc.last+1]
				if !bytes.Equal(b, want) {
					t.Errorf("%s Range %s: %d bytes, not the slice [%d, %d]", url, tc.rng, len(b), tc.first, tc.last)
				}
				cr := fmt.Sprintf("bytes %d-%d/%d", tc.first, tc.last, n)
				if resp.Header.Get("Content-Range") != cr {
					t.Errorf("%s Range %s: Content-Range %q, want %q", url, tc.rng, resp.Header.Get("Content-Range"), cr)
				}
			case 416:
				if resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", n) {
					t.Errorf("%s Range %s: Content-Range %q", url, tc.rng, resp.Header.Get("Content-Range"))
				}
			case 200:
				if !bytes.Equal(b, full) {
					t.Errorf("%s Range %s: body differs from the full body", url, tc.rng)
				}
			}
		}
	}
}

func TestBadRequests(t *testing.T) {
	w := newWorld(t)
	future := time.Now().Unix() + 3600
	tests := []struct {
		path   string
		status int
	}{
		{"/cam/archive-0-60.m3u8", 400},
		{"/cam/archive-" + strconv.FormatInt(w.from, 10) + "-0.m3u8", 400},
		{"/cam/archive-" + strconv.FormatInt(w.from, 10) + "--5.m3u8", 400},
		{"/cam/archive-" + strconv.FormatInt(w.from, 10) + "-86401.m3u8", 400},
		{"/cam/archive-" + strconv.FormatInt(future, 10) + "-60.m3u8", 400},
		{"/cam/archive-abc-60.m3u8", 400},
		{"/cam/archive-" + strconv.FormatInt(w.from, 10) + "-6O.mp4", 400},
		{"/cam/archive-" + strconv.FormatInt(w.from, 10) + "-now.mp4", 400},
		{"/cam/archive-1-now.m3u8", 400},
		{"/cam/archive-0" + strconv.FormatInt(w.from, 10) + "-60.m3u8", 400},
		{"/cam/rewind-0.m3u8", 400},
		{"/cam/rewind-99999999999999999999.m3u8", 400},
		{"/cam/s-12x.m4s", 400},
		{"/cam/init-XYZ.mp4", 400},
		{"/cam/init-0123456789abcdeg.mp4", 400},
		{"/cam/../etc/passwd", 400},
		{"/cam/%2e%2e/x", 400},
		{"/ca%2fm/index.m3u8", 400},
		{"/c%61m/index.m3u8", 400},
		{"//cam/index.m3u8", 400},
		{"/.cam/index.m3u8", 400},
		{"/cam/./index.m3u8", 400},
		{"/ca*m/index.m3u8", 400},
		{"/cam/index.m3u8/", 400},
		{"/nosuch/index.m3u8", 404},
		{"/cam/nosuch.m3u8", 404},
		{"/cam/index.html", 404},
		{"/cam", 404},
		{"/assets/nosuch.js", 404},
		{"/a/b/c", 404},
		{"/cam/s-1.m4s", 404},
		{"/cam/init-0123456789abcdef.mp4", 404},
		{"/gap/index.m3u8", 404},
		{"/gap/rewind-60.m3u8", 404},
		{"/cam/archive-1000000000-60.m3u8", 404},
		{"/cam/archive-1000000000-60.mp4", 404},
		{"/api/v1/streams/nosuch", 404},
		{"/api/v1/streams/a/b", 404},
		{"/vanish/archive-" + strconv.FormatInt(w.from, 10) + "-60.m3u8", 503},
		{"/vanish/recording_status.json", 503},
		{"/cam/recording_status.json?from=x", 400},
		{"/cam/recording_status.json?from=20&to=10", 400},
	}
	for _, tc := range tests {
		resp, body := get(t, "GET", w.url+tc.path)
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: %d %q, want %d", tc.path, resp.StatusCode, body, tc.status)
		}
		if lines := strings.Count(string(body), "\n"); lines != 1 || !strings.HasSuffix(string(body), "\n") {
			t.Errorf("GET %s: reason %q is not one line", tc.path, body)
		}
	}
	resp, _ := get(t, "POST", w.url+"/cam/index.m3u8")
	if resp.StatusCode != 405 {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}

func TestRedirectCORSAndHeaders(t *testing.T) {
	w := newWorld(t)
	req, _ := newRequest("GET", w.url+"/elsewhere/index.m3u8?token=1")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "http://127.0.0.2:8080/elsewhere/index.m3u8?token=1" {
		t.Errorf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = get(t, "OPTIONS", w.url+"/cam/index.m3u8", "Origin", "http://x", "Access-Control-Request-Method", "GET")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Range") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	seg := fmt.Sprintf("%s/cam/s-%d.m4s", w.url, w.baseMs)
	resp, _ = get(t, "GET", seg)
	if resp.Header.Get("Cache-Control") != cacheImmutable || resp.Header.Get("Content-Type") != ctypeSegment ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Content-Range") {
		t.Errorf("segment headers: %v", resp.Header)
	}
	resp, b := get(t, "HEAD", seg)
	if resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength <= 0 {
		t.Errorf("HEAD segment: %d, %d bytes, length %d", resp.StatusCode, len(b), resp.ContentLength)
	}
	resp, b = get(t, "HEAD", w.url+"/cam/index.m3u8")
	if resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength <= 0 {
		t.Errorf("HEAD playlist: %d, %d bytes, length %d", resp.StatusCode, len(b), resp.ContentLength)
	}
}

func TestEventAndRewind(t *testing.T) {
	w := newWorld(t)
	resp, body := get(t, "GET", fmt.Sprintf("%s/cam/archive-%d-now.m3u8", w.url, w.from))
	pl := string(body)
	if resp.StatusCode != 200 || !strings.Contains(pl, "#EXT-X-PLAYLIST-TYPE:EVENT") || strings.Contains(pl, "ENDLIST") {
		t.Fatalf("event playlist: %d\n%s", resp.StatusCode, pl)
	}
	// Archive and live overlap: every segment is listed once.
	if n := strings.Count(pl, "#EXTINF"); n != worldSegs-1 { // the first starts before from
		t.Errorf("event playlist has %d segments, want %d", n, worldSegs-1)
	}
	ffprobe(t, "-show_entries", "stream=codec_name", "-of", "csv=p=0", fmt.Sprintf("%s/cam/archive-%d-now.m3u8", w.url, w.from))

	// The segments that start in the last 60 s, counted at the times just
	// before and just after the request (a loaded machine may be slow).
	inWindow := func(nowMs int64) int {
		c := 0
		for i := 0; i < worldSegs; i++ {
			if w.baseMs+int64(i)*testSegMs >= nowMs-60_000 {
				c++
			}
		}
		return c
	}
	before := time.Now().UnixMilli()
	_, body = get(t, "GET", w.url+"/cam/rewind-60.m3u8")
	after := time.Now().UnixMilli()
	pl = string(body)
	n := strings.Count(pl, "#EXTINF")
	if n > inWindow(before) || n < inWindow(after) {
		t.Errorf("rewind-60 has %d segments, want %d to %d", n, inWindow(after), inWindow(before))
	}
	// The newest segment keeps its live number: media sequence + count - 1.
	last, _ := w.live.Snapshot().Last()
	want := "#EXT-X-MEDIA-SEQUENCE:" + strconv.FormatInt(last.Seq-int64(n)+1, 10) + "\n"
	if !strings.Contains(pl, want) {
		t.Errorf("rewind playlist lacks %q:\n%s", want, pl)
	}
}

func TestAPIAndRecordingStatus(t *testing.T) {
	w := newWorld(t)
	_, body := get(t, "GET", w.url+"/cam/recording_status.json")
	var rs []struct {
		Stream string `json:"stream"`
		Ranges []struct {
			From     int64 `json:"from"`
			Duration int64 `json:"duration"`
		} `json:"ranges"`
	}
	if err := json.Unmarshal(body, &rs); err != nil {
		t.Fatalf("recording_status.json %s: %v", body, err)
	}
	if len(rs) != 1 || rs[0].Stream != "cam" || len(rs[0].Ranges) != 1 || rs[0].Ranges[0].Duration != worldSegs*testSegMs/1000 {
		t.Errorf("recording_status.json = %s", body)
	}
	_, body = get(t, "GET", w.url+"/gap/recording_status.json")
	if err := json.Unmarshal(body, &rs); err != nil || len(rs[0].Ranges) != 2 {
		t.Errorf("gap recording_status.json = %s", body)
	}
	resp, body := get(t, "GET", w.url+"/api/v1/streams")
	var all struct {
		Streams []streamJSON `json:"streams"`
	}
	if err := json.Unmarshal(body, &all); err != nil || resp.Header.Get("Content-Type") != ctypeJSON {
		t.Fatalf("api streams %s: %v", body, err)
	}
	if len(all.Streams) != 4 || all.Streams[0].Name != "cam" || !all.Streams[0].Live ||
		all.Streams[0].ActiveInput == "" || all.Streams[0].LastFrameAgeMs == nil || all.Streams[0].Archive.Ranges != 1 {
		t.Errorf("api streams = %s", body)
	}
	if all.Streams[3].Name != "vanish" || all.Streams[3].Archive.Error == "" {
		t.Errorf("vanish stream = %+v", all.Streams[3])
	}
	_, body = get(t, "GET", w.url+"/api/v1/streams/gap")
	var one streamJSON
	if err := json.Unmarshal(body, &one); err != nil || one.Name != "gap" || one.Live || one.Archive.Ranges != 2 {
		t.Errorf("api stream gap = %s", body)
	}
	_, body = get(t, "GET", w.url+"/metrics")
	for _, m := range []string{`edge_http_requests_total{code="200",route="recording_status"}`, "edge_cache_budget_bytes", "edge_http_response_bytes_total"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

// otherInit returns the test init with other bytes (another creation time):
// a second init for the same tracks.
func otherInit(t *testing.T, m *testMedia) media.Init {
	t.Helper()
	f, err := mp4.DecodeFile(bytes.NewReader(m.init))
	if err != nil {
		t.Fatal(err)
	}
	f.Init.Moov.Mvhd.CreationTime = 12345
	var b bytes.Buffer
	if err := f.Init.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return media.Init{Hash: media.InitHash(b.Bytes()), Data: b.Bytes()}
}

func TestExportInitChange(t *testing.T) {
	w := newWorld(t)
	url := fmt.Sprintf("%s/switch/archive-%d-60.mp4", w.url, w.from)
	resp, body := get(t, "GET", url)
	switchAt := w.baseMs + 20*testSegMs
	if want := "init-change; at=" + strconv.FormatInt(switchAt, 10); resp.Header.Get("X-Edge-Export-Truncated") != want {
		t.Errorf("X-Edge-Export-Truncated = %q, want %q", resp.Header.Get("X-Edge-Export-Truncated"), want)
	}
	firstStart := w.baseMs + (w.from*1000-w.baseMs+testSegMs-1)/testSegMs*testSegMs // first segment at or after from
	wantDur := float64(switchAt-firstStart) / 1000
	if d := probeDuration(t, url); math.Abs(d-wantDur) > 0.1 {
		t.Errorf("truncated export lasts %.3f s, want %.3f", d, wantDur)
	}
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", url, "-f", "null", "-")
	if b, err := cmd.CombinedOutput(); err != nil || len(b) > 0 {
		t.Errorf("ffmpeg decode of the truncated export: %v: %s", err, b)
	}
	if len(body) == 0 {
		t.Fatal("empty export")
	}
	// The playlist of the same range shows the change as a discontinuity with a new map.
	_, pl := get(t, "GET", fmt.Sprintf("%s/switch/archive-%d-60.m3u8", w.url, w.from))
	if strings.Count(string(pl), "#EXT-X-MAP") != 2 || strings.Count(string(pl), "#EXT-X-DISCONTINUITY\n") != 1 {
		t.Errorf("playlist across an init change:\n%s", pl)
	}
	ffprobe(t, "-show_entries", "stream=codec_name", "-of", "csv=p=0", fmt.Sprintf("%s/switch/archive-%d-60.m3u8", w.url, w.from))
}
