package main

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/internal/testkit"
)

// The tests in this file check the chained archive lookup (chain/) end to
// end: real `edge run` processes in tiers, fed by real ffmpeg senders, read
// over HTTP and with ffprobe/ffmpeg, counted from each node's /metrics.

// chRange is one range of recording_status.json, in seconds.
type chRange struct{ From, Duration int64 }

// chRanges reads recording_status.json of stream on base; ok is false
// unless it answered 200 with one entry.
func chRanges(base, stream string) ([]chRange, bool) {
	var rs []struct {
		Ranges []chRange `json:"ranges"`
	}
	if !testkit.JSON(base+"/"+stream+"/recording_status.json", &rs) || len(rs) != 1 {
		return nil, false
	}
	return rs[0].Ranges, true
}

// chSeg is one entry of an archive playlist.
type chSeg struct {
	start int64 // UTC ms, from the s-{start}.m4s URI
	pdt   int64 // UTC ms, from EXT-X-PROGRAM-DATE-TIME
	dur   int64 // ms, from EXTINF
	disc  bool  // preceded by EXT-X-DISCONTINUITY
}

func (s chSeg) end() int64 { return s.start + s.dur }

// chPlaylist parses an archive playlist: its segments and its init URIs.
func chPlaylist(t *testing.T, body string) (segs []chSeg, inits []string) {
	t.Helper()
	var cur chSeg
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "#EXT-X-DISCONTINUITY":
			cur.disc = true
		case strings.HasPrefix(line, "#EXT-X-MAP:URI=\""):
			inits = append(inits, strings.TrimSuffix(strings.TrimPrefix(line, "#EXT-X-MAP:URI=\""), "\""))
		case strings.HasPrefix(line, "#EXT-X-PROGRAM-DATE-TIME:"):
			tm, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(line, "#EXT-X-PROGRAM-DATE-TIME:"))
			if err != nil {
				t.Fatalf("bad PROGRAM-DATE-TIME %q: %v", line, err)
			}
			cur.pdt = tm.UnixMilli()
		case strings.HasPrefix(line, "#EXTINF:"):
			f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(line, "#EXTINF:"), ","), 64)
			if err != nil {
				t.Fatalf("bad EXTINF %q", line)
			}
			cur.dur = int64(math.Round(f * 1000))
		case strings.HasPrefix(line, "s-") && strings.HasSuffix(line, ".m4s"):
			v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(line, "s-"), ".m4s"), 10, 64)
			if err != nil {
				t.Fatalf("bad segment URI %q", line)
			}
			cur.start = v
			if cur.pdt != v {
				t.Fatalf("segment %s has PROGRAM-DATE-TIME %d, want its start %d", line, cur.pdt, v)
			}
			segs = append(segs, cur)
			cur = chSeg{}
		}
	}
	return segs, inits
}

// chGet fetches url and returns the status and body; err on transport errors.
func chGet(c *http.Client, url string) (int, []byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// chWaitRecorded waits until base's recording_status.json of stream shows
// a first range of at least secs seconds, and returns it.
func chWaitRecorded(t *testing.T, base, stream string, secs int64, d time.Duration) chRange {
	t.Helper()
	var r chRange
	testkit.Eventually(t, d, fmt.Sprintf("%d s recorded on %s", secs, base), func() bool {
		rs, ok := chRanges(base, stream)
		if !ok || len(rs) == 0 {
			return false
		}
		r = rs[0]
		return r.Duration >= secs
	})
	return r
}

func TestChainThreeTiers(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	port := testkit.FreeUDPPort(t)
	tp := testkit.NewTopology(t, "chain-secret")
	tp.Node(t, "origin", testkit.StreamBlock("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)},
		`segment_duration = "1s"`, fmt.Sprintf("dvr = { root = %q }", tp.Dir+"/origin")))
	tp.Node(t, "cache", testkit.SourceBlock("m4f://origin", fmt.Sprintf("cache = { root = %q, depth = \"1h\", max_size = \"1G\" }", tp.Dir+"/cache")))
	// remote_dvr = "chain": with the default (nochain) the cache tier
	// answers from its own disk cache only, which is empty until someone
	// asked it directly (Flussonic's rule too).
	tp.Node(t, "edge", testkit.SourceBlock("m4f://cache", `remote_dvr = "chain"`))
	path := tp.Write(t)
	origin := tp.Start(t, path, "origin")
	tp.Start(t, path, "cache")
	edge := tp.Start(t, path, "edge")
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{})

	// Every range read below is older than the live windows (20 segments):
	// a viewer's segment request starts the on-demand pull on the edge and
	// cache tiers, and segments still in a tier's live window are served
	// from it without asking the origin's archive.
	r := chWaitRecorded(t, origin.URL, "cam", 29, 60*time.Second)
	// The edge knows the stream once it has polled the cache tier, which
	// polled the origin.
	testkit.Eventually(t, 20*time.Second, "the edge to list cam", func() bool {
		rs, ok := chRanges(edge.URL, "cam")
		return ok && len(rs) > 0 && rs[0].From <= r.From+1
	})

	const dur2, clients = 6, 50
	// Range 1, read with ffprobe and ffmpeg through two tiers.
	const dur1 = 8
	from1 := r.From + 1 + dur2 + 1
	pl := fmt.Sprintf("%s/cam/archive-%d-%d.m3u8", edge.URL, from1, dur1)
	code, body := testkit.Get(t, pl)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", pl, code, body)
	}
	segs, _ := chPlaylist(t, string(body))
	if d := testkit.FFprobe(t, pl).Duration(); math.Abs(d-dur1) > 1.05 {
		t.Errorf("ffprobe: edge archive playlist lasts %.2f s, want %d ± 1 segment", d, dur1)
	}
	mp4 := fmt.Sprintf("%s/cam/archive-%d-%d.mp4", edge.URL, from1, dur1)
	pr := testkit.FFprobe(t, mp4)
	if codec, w, h, _ := pr.Video(); codec != "h264" || w != 320 || h != 240 || !pr.HasAudio("aac") {
		t.Errorf("edge mp4 export: ffprobe sees %+v, want h264 320x240 and aac", pr.Streams)
	}
	if d := pr.Duration(); math.Abs(d-dur1) > 1.05 {
		t.Errorf("ffprobe: edge mp4 export lasts %.2f s, want %d ± 1 segment", d, dur1)
	}
	if out := testkit.Decode(t, mp4); strings.TrimSpace(out) != "" {
		t.Errorf("ffmpeg decode of the edge's mp4 export reports errors:\n%s", out)
	}
	t.Logf("range 1: %d segments through edge ← cache ← origin", len(segs))

	// Range 2, never asked before: 50 clients ask the edge for the playlist
	// and every segment at once. The origin serves each segment once.
	from2 := r.From + 1
	segsBefore := testkit.Metric(t, origin.URL, "edge_m4f_requests_total", "endpoint=segment")
	var (
		mu      sync.Mutex
		failed  []string
		nsegs   = -1
		ttfb    []time.Duration
		wg      sync.WaitGroup
		release = make(chan struct{})
	)
	hc := &http.Client{Timeout: 20 * time.Second}
	pl2 := fmt.Sprintf("%s/cam/archive-%d-%d.m3u8", edge.URL, from2, dur2)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			fail := func(f string, a ...any) {
				mu.Lock()
				failed = append(failed, fmt.Sprintf(f, a...))
				mu.Unlock()
			}
			code, body, err := chGet(hc, pl2)
			if err != nil || code != 200 {
				fail("GET %s: %d %v", pl2, code, err)
				return
			}
			segs, inits := chPlaylist(t, string(body))
			mu.Lock()
			if nsegs >= 0 && nsegs != len(segs) {
				failed = append(failed, fmt.Sprintf("playlist has %d segments, another client saw %d", len(segs), nsegs))
			}
			nsegs = len(segs)
			mu.Unlock()
			for _, u := range inits {
				if code, b, err := chGet(hc, edge.URL+"/cam/"+u); err != nil || code != 200 || len(b) == 0 {
					fail("GET %s: %d %v", u, code, err)
				}
			}
			for _, s := range segs {
				t0 := time.Now()
				code, b, err := chGet(hc, fmt.Sprintf("%s/cam/s-%d.m4s", edge.URL, s.start))
				if err != nil || code != 200 || len(b) == 0 {
					fail("GET s-%d.m4s: %d %v", s.start, code, err)
					continue
				}
				mu.Lock()
				ttfb = append(ttfb, time.Since(t0))
				mu.Unlock()
			}
		}()
	}
	close(release)
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d client errors, first: %s", len(failed), failed[0])
	}
	if nsegs < dur2-1 {
		t.Fatalf("range 2 playlist has %d segments, want about %d", nsegs, dur2)
	}
	got := testkit.Metric(t, origin.URL, "edge_m4f_requests_total", "endpoint=segment") - segsBefore
	t.Logf("range 2: %d segments, %d clients; origin served %v segment fetches", nsegs, clients, got)
	if int(got) != nsegs {
		t.Errorf("origin served %v segment fetches for %d segments asked by %d clients, want exactly one per segment", got, nsegs, clients)
	}

	// Hot: the same segments again, from the edge and straight from the
	// cache tier (its disk cache): the origin serves nothing more.
	code, body = testkit.Get(t, pl2)
	if code != 200 {
		t.Fatalf("GET %s: %d", pl2, code)
	}
	segs2, _ := chPlaylist(t, string(body))
	var hot []time.Duration
	for _, base := range []string{edge.URL, tp.URL("cache")} {
		for _, s := range segs2 {
			t0 := time.Now()
			if code, b, err := chGet(hc, fmt.Sprintf("%s/cam/s-%d.m4s", base, s.start)); err != nil || code != 200 || len(b) == 0 {
				t.Fatalf("hot GET %s s-%d.m4s: %d %v", base, s.start, code, err)
			}
			hot = append(hot, time.Since(t0))
		}
	}
	if again := testkit.Metric(t, origin.URL, "edge_m4f_requests_total", "endpoint=segment") - segsBefore; again != got {
		t.Errorf("origin served %v more segment fetches for segments already cached", again-got)
	}
	t.Logf("segment response time through edge ← cache ← origin: cold (50 concurrent clients) median %v max %v; hot median %v",
		chMedian(ttfb), chMax(ttfb), chMedian(hot))
}

func chMedian(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func chMax(d []time.Duration) time.Duration {
	var m time.Duration
	for _, x := range d {
		m = max(m, x)
	}
	return m
}

// chCheckTimeline asserts that the playlist has no overlap beyond tol and
// no hole longer than maxGap; it returns the number of discontinuities.
func chCheckTimeline(t *testing.T, segs []chSeg, tol, maxGap int64) int {
	t.Helper()
	disc := 0
	for i := 1; i < len(segs); i++ {
		p, s := segs[i-1], segs[i]
		if s.disc {
			disc++
		}
		if s.start != p.end() {
			t.Logf("seam before segment %d (%d): %+d ms after the previous one ends", i, s.start, s.start-p.end())
		}
		if s.start < p.end()-tol {
			t.Errorf("segment %d starts at %d, %d ms before the previous one ends (%d)", i, s.start, p.end()-s.start, p.end())
		}
		if gap := s.start - p.end(); gap > maxGap {
			t.Errorf("hole of %d ms before segment %d (at %d)", gap, i, s.start)
		}
	}
	return disc
}

func TestChainTwoPartialSources(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	port := testkit.FreeUDPPort(t)
	in := fmt.Sprintf("udp://239.255.77.%d:%d?iface=lo", 1+port%250, port)
	tp := testkit.NewTopology(t, "chain-secret")
	for _, n := range []string{"o1", "o2"} {
		tp.Node(t, n, testkit.StreamBlock("cam", []string{in}, `segment_duration = "1s"`, fmt.Sprintf("dvr = { root = %q }", tp.Dir+"/"+n)))
	}
	tp.Node(t, "edge", testkit.StreamBlock("cam", []string{"m4f://o1/cam", "m4f://o2/cam"}, `source_timeout = "3s"`))
	path := tp.Write(t)
	nodes := map[string]*testkit.Node{"o1": tp.Start(t, path, "o1"), "o2": tp.Start(t, path, "o2")}
	edge := tp.Start(t, path, "edge")
	testkit.Send(t, strings.Replace(strings.Replace(in, "?iface=lo", "", 1), "udp://", "udp://", 1)+"?pkt_size=1316&localaddr=127.0.0.1&ttl=1", testkit.SenderOptions{})

	first := chWaitRecorded(t, nodes["o1"].URL, "cam", 4, 30*time.Second)
	chWaitRecorded(t, nodes["o2"].URL, "cam", 4, 30*time.Second)
	// Each origin is down for a while in turn: o1 misses one stretch, o2
	// another; only their union is whole.
	for _, name := range []string{"o1", "o2"} {
		nodes[name].Kill()
		time.Sleep(6 * time.Second) // the outage itself
		nodes[name] = tp.Start(t, path, name)
		testkit.Eventually(t, 30*time.Second, name+" to record again", func() bool {
			rs, ok := chRanges(nodes[name].URL, "cam")
			return ok && len(rs) >= 2 && rs[len(rs)-1].Duration >= 4
		})
	}
	for _, name := range []string{"o1", "o2"} {
		rs, _ := chRanges(nodes[name].URL, "cam")
		t.Logf("%s holds %v", name, rs)
	}

	dur := time.Now().Unix() - 2 - first.From
	pl := fmt.Sprintf("%s/cam/archive-%d-%d.m3u8", edge.URL, first.From, dur)
	code, body := testkit.Get(t, pl)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", pl, code, body)
	}
	segs, _ := chPlaylist(t, string(body))
	if len(segs) == 0 {
		t.Fatalf("empty playlist %s", pl)
	}
	// Two independent recordings of one sender are anchored to the wall
	// clock a few ms apart: where the lookup switches source, a segment
	// may start up to the front's gap tolerance before the previous ends.
	disc := chCheckTimeline(t, segs, cache.GapTolerance(1000), 1100)
	for i := 1; i < len(segs); i++ {
		if segs[i].start-segs[i-1].end() > cache.GapTolerance(1000) {
			at := segs[i].start/1000 - 3
			for _, name := range []string{"o1", "o2"} {
				_, b := testkit.Get(t, fmt.Sprintf("%s/cam/archive-%d-6.m3u8", nodes[name].URL, at))
				ss, _ := chPlaylist(t, string(b))
				t.Logf("%s around the seam at %d: %+v", name, segs[i].start, ss)
			}
		}
	}
	covered := segs[len(segs)-1].end() - segs[0].start
	var sum int64
	for _, s := range segs {
		sum += s.dur
	}
	t.Logf("edge playlist over %d s: %d segments, %.1f s covered from %d, %.1f s of media, %d discontinuities",
		dur, len(segs), float64(covered)/1000, segs[0].start, float64(sum)/1000, disc)
	if float64(covered)/1000 < float64(dur)-4 {
		t.Errorf("playlist covers %.1f s of the %d s asked", float64(covered)/1000, dur)
	}
	if d := testkit.FFprobe(t, pl).Duration(); d < float64(dur)-4 {
		t.Errorf("ffprobe: edge playlist lasts %.1f s, want about %d", d, dur)
	}
	if rs, ok := chRanges(edge.URL, "cam"); !ok || len(rs) != 1 {
		t.Errorf("edge recording_status.json: %v, want one range (the union)", rs)
	}
}

// chDelta runs fn and returns how much the sum of metric name (with the
// given labels) grew on base meanwhile.
func chDelta(t *testing.T, base, name string, fn func(), labels ...string) float64 {
	t.Helper()
	before := testkit.Metric(t, base, name, labels...)
	fn()
	return testkit.Metric(t, base, name, labels...) - before
}

func TestChainModes(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg")
	port := testkit.FreeUDPPort(t)
	tp := testkit.NewTopology(t, "chain-secret")
	// A records from the start, then restarts (its live window, which a
	// new M4F client gets as a backlog, starts empty again); B restreams A
	// into its own archive only after that, so A alone holds the beginning. The C nodes restream B with
	// each remote_dvr mode and no archive of their own.
	tp.Node(t, "A", testkit.StreamBlock("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)},
		`segment_duration = "1s"`, fmt.Sprintf("dvr = { root = %q }", tp.Dir+"/A")))
	tp.Node(t, "B", testkit.StreamBlock("cam", []string{"m4f://A/cam"}, fmt.Sprintf("dvr = { root = %q }", tp.Dir+"/B")))
	for _, mode := range []string{"chain", "nochain", "none"} {
		tp.Node(t, "C"+mode, testkit.SourceBlock("m4f://B", fmt.Sprintf("remote_dvr = %q", mode)))
	}
	path := tp.Write(t)
	a := tp.Start(t, path, "A")
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{})
	ra := chWaitRecorded(t, a.URL, "cam", 5, 30*time.Second)
	a.Kill()
	a = tp.Start(t, path, "A")
	// B's own archive can begin no earlier than A's second range (B's
	// recording_status.json shows A's archive too: B's input is A, nochain).
	var rb chRange
	testkit.Eventually(t, 20*time.Second, "A to record again", func() bool {
		rs, ok := chRanges(a.URL, "cam")
		if ok && len(rs) >= 2 {
			rb = rs[1]
		}
		return ok && len(rs) >= 2
	})
	b := tp.Start(t, path, "B")
	testkit.Eventually(t, 20*time.Second, "B to record", func() bool {
		return testkit.Metric(t, b.URL, "edge_dvr_segments_written_total") >= 4
	})
	c := map[string]*testkit.Node{}
	for _, mode := range []string{"chain", "nochain", "none"} {
		c[mode] = tp.Start(t, path, "C"+mode)
		testkit.Eventually(t, 20*time.Second, "C"+mode+" to list cam", func() bool {
			_, ok := chRanges(c[mode].URL, "cam")
			return ok
		})
	}
	t.Logf("A holds from %d, B from %d", ra.From, rb.From)

	ask := func(mode string) (rs []chRange, fromA, fromB float64) {
		t.Helper()
		fromB = chDelta(t, b.URL, "edge_m4f_requests_total", func() {
			fromA = chDelta(t, a.URL, "edge_m4f_requests_total", func() {
				var ok bool
				if rs, ok = chRanges(c[mode].URL, "cam"); !ok {
					t.Fatalf("C%s: recording_status.json unreadable", mode)
				}
			}, "endpoint=ranges")
		}, "endpoint=ranges")
		t.Logf("C%s: ranges %v; ranges calls answered by A %v, by B %v", mode, rs, fromA, fromB)
		return rs, fromA, fromB
	}

	// nochain: B answers from its own archive; A is not asked.
	rs, fromA, fromB := ask("nochain")
	if fromB < 1 || fromA != 0 {
		t.Errorf("nochain: A answered %v ranges calls, B %v; want A 0 and B at least 1", fromA, fromB)
	}
	if len(rs) == 0 || rs[0].From < rb.From-1 {
		t.Errorf("nochain: C sees %v, want B's archive only (from %d)", rs, rb.From)
	}

	// chain: B asks A in turn; C sees A's beginning too.
	rs, fromA, fromB = ask("chain")
	if fromB < 1 || fromA < 1 {
		t.Errorf("chain: A answered %v ranges calls, B %v; want both asked", fromA, fromB)
	}
	if len(rs) == 0 || rs[0].From > ra.From+1 {
		t.Errorf("chain: C sees %v, want A's archive from %d", rs, ra.From)
	}

	// none: only the input in use is asked. Nobody watches Cnone's
	// on-demand stream, so no input is in use and nobody is asked.
	rs, fromA, fromB = ask("none")
	if fromA != 0 || fromB != 0 || len(rs) != 0 {
		t.Errorf("none, nothing in use: C sees %v, A answered %v ranges calls, B %v; want nothing and nobody asked", rs, fromA, fromB)
	}
	// A viewer starts the pull from B: now B (only) is asked.
	testkit.Eventually(t, 30*time.Second, "Cnone to play live from B", func() bool {
		code, body := testkit.Get(t, c["none"].URL+"/cam/index.m3u8")
		return code == 200 && strings.Contains(string(body), ".m4s")
	})
	testkit.Eventually(t, 10*time.Second, "Cnone to see B's archive", func() bool {
		rs, fromA, fromB = ask("none")
		return len(rs) > 0
	})
	if fromA != 0 || fromB < 1 || rs[0].From < rb.From-1 {
		t.Errorf("none, B in use: C sees %v, A answered %v ranges calls, B %v; want B's archive from B alone", rs, fromA, fromB)
	}
}

func TestChainLoop(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg")
	port := testkit.FreeUDPPort(t)
	tp := testkit.NewTopology(t, "chain-secret")
	// Each restreams the other with remote_dvr = chain: A as a fallback
	// input, B as its only input.
	tp.Node(t, "A", testkit.StreamBlock("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", port), "m4f://B/cam?remote_dvr=chain"},
		`segment_duration = "1s"`, fmt.Sprintf("dvr = { root = %q }", tp.Dir+"/A")))
	tp.Node(t, "B", testkit.StreamBlock("cam", []string{"m4f://A/cam?remote_dvr=chain"}))
	path := tp.Write(t)
	a := tp.Start(t, path, "A")
	b := tp.Start(t, path, "B")
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{})
	chWaitRecorded(t, a.URL, "cam", 4, 30*time.Second)

	hc := &http.Client{Timeout: 15 * time.Second}
	for _, n := range []struct {
		name string
		node *testkit.Node
	}{{"A", a}, {"B", b}} {
		t0 := time.Now()
		code, body, err := chGet(hc, n.node.URL+"/cam/recording_status.json")
		took := time.Since(t0)
		if err != nil || code != 200 {
			t.Fatalf("%s: recording_status.json: %d %v %s (after %v)", n.name, code, err, body, took)
		}
		rs, _ := chRanges(n.node.URL, "cam")
		t.Logf("%s answers %v in %v", n.name, rs, took)
		if len(rs) == 0 || rs[0].Duration < 4 {
			t.Errorf("%s: ranges %v, want A's recording", n.name, rs)
		}
		from := rs[0].From
		pl := fmt.Sprintf("%s/cam/archive-%d-3.m3u8", n.node.URL, from)
		if code, body, err := chGet(hc, pl); err != nil || code != 200 || !strings.Contains(string(body), ".m4s") {
			t.Errorf("%s: GET %s: %d %v\n%s", n.name, pl, code, err, body)
		}
	}
	loops := testkit.Metric(t, a.URL, "edge_m4f_requests_total", "code=508") + testkit.Metric(t, b.URL, "edge_m4f_requests_total", "code=508")
	seen := testkit.Metric(t, a.URL, "edge_chain_loops_total") + testkit.Metric(t, b.URL, "edge_chain_loops_total")
	t.Logf("508 answers %v, loops counted by callers %v", loops, seen)
	if loops < 1 || seen < 1 {
		t.Errorf("508 answers %v, edge_chain_loops_total %v: want the loop answered and counted", loops, seen)
	}
	if !strings.Contains(a.Output()+b.Output(), "looped back") {
		t.Errorf("no loop line in the nodes' logs")
	}
}
