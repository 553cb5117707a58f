package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
)

// The tests in this file check a cold archive miss handed on through a
// cache tier as the bytes arrive (chain.Archive.OpenSegment): real `edge
// run` processes origin ← cache tier ← edge, read over HTTP and ffprobe.

// tsNodes starts origin (recording cam from an ffmpeg sender), a cache
// tier and an edge, both with disk caches, and waits until 29 s are
// recorded and the edge lists them. It returns the three nodes' URLs, the
// first recorded second and the directories of the origin's archive and of
// the two disk caches.
func tsNodes(t *testing.T) (origin, cacheTier, edge string, from int64, dirs [3]string) {
	t.Helper()
	testkit.Need(t, "ffmpeg", "ffprobe")
	port := testkit.FreeUDPPort(t)
	tp := testkit.NewTopology(t, "stream-secret")
	dirs = [3]string{tp.Dir + "/origin", tp.Dir + "/cache", tp.Dir + "/edge-cache"}
	tp.Node(t, "origin", testkit.StreamBlock("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)},
		`segment_duration = "1s"`, fmt.Sprintf("dvr = { root = %q }", dirs[0])))
	tp.Node(t, "cache", testkit.SourceBlock("m4f://origin", fmt.Sprintf("cache = { root = %q, depth = \"1h\", max_size = \"1G\" }", dirs[1])))
	tp.Node(t, "edge", testkit.SourceBlock("m4f://cache", `remote_dvr = "chain"`,
		fmt.Sprintf("cache = { root = %q, depth = \"1h\", max_size = \"1G\" }", dirs[2])))
	path := tp.Write(t)
	o := tp.Start(t, path, "origin")
	tp.Start(t, path, "cache")
	e := tp.Start(t, path, "edge")
	// Segments of about 1 MB, as on a real stream: a body takes a while to
	// pass, so the tiers hand it on before it has all arrived.
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{Size: "640x360", Bitrate: "8M"})
	// Segments older than the live windows (20 segments) come from the
	// origin's archive.
	r := chWaitRecorded(t, o.URL, "cam", 29, 60*time.Second)
	testkit.Eventually(t, 20*time.Second, "the edge to list cam", func() bool {
		rs, ok := chRanges(e.URL, "cam")
		return ok && len(rs) > 0 && rs[0].From <= r.From+1
	})
	return o.URL, tp.URL("cache"), e.URL, r.From, dirs
}

// tsArchive lists the origin's archive segments of [from, from+dur) s and
// the URI of their init.
func tsArchive(t *testing.T, origin string, from, dur int64) ([]chSeg, string) {
	t.Helper()
	code, body := testkit.Get(t, fmt.Sprintf("%s/cam/archive-%d-%d.m3u8", origin, from, dur))
	if code != 200 {
		t.Fatalf("origin archive playlist: %d %s", code, body)
	}
	segs, inits := chPlaylist(t, string(body))
	if len(segs) < 4 || len(inits) == 0 {
		t.Fatalf("origin archive playlist has %d segments, %d inits", len(segs), len(inits))
	}
	return segs, inits[0]
}

// tsCached reports whether a disk cache under root holds a file of the
// segment that starts at start (cache.SegmentName puts the start first).
func tsCached(t *testing.T, root string, start int64) bool {
	t.Helper()
	found := false
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), fmt.Sprint(start)) && !strings.Contains(p, ".tmp") {
			found = true
		}
		return nil
	})
	return found
}

// A cold miss on the edge through the cache tier gives the origin's very
// bytes, which ffprobe and ffmpeg read with their init; both tiers then
// cache them. A segment whose bytes on the origin no longer match its
// checksum (the file corrupted in place, same size) never reaches a viewer
// of either tier as whole, and neither tier caches it.
func TestTierStreamedMiss(t *testing.T) {
	t.Parallel()
	origin, cacheTier, edge, from, dirs := tsNodes(t)
	segs, init := tsArchive(t, origin, from+1, 8)
	t.Run("bytes", func(t *testing.T) { tsMissBytes(t, origin, cacheTier, edge, init, segs[1:4], dirs) })
	// Before the corrupt one: a bad body marks the source down for a while.
	t.Run("range and head", func(t *testing.T) { tsMissRange(t, origin, edge, segs) })
	t.Run("corrupt", func(t *testing.T) { tsMissCorrupt(t, origin, cacheTier, edge, segs[5], dirs) })
}

// A Range and a HEAD of cold segments on the edge are answered from the
// fetch handed on through the tiers: the range is the origin's very bytes
// of it, and the HEAD gives the origin's length without a body.
func tsMissRange(t *testing.T, origin, edge string, segs []chSeg) {
	if len(segs) < 8 {
		t.Fatalf("%d segments in the window, want 8", len(segs))
	}
	before := testkit.Metric(t, origin, "edge_m4f_requests_total", "endpoint=segment")
	for i, rng := range []string{"bytes=1000-70000", "bytes=0-", "bytes=-500"} {
		uri := fmt.Sprintf("/cam/s-%d.m4s", segs[[]int{4, 6, 0}[i]].start)
		_, whole := testkit.Get(t, origin+uri)
		resp, got := testkit.Do(t, "GET", edge+uri, "Range", rng)
		oresp, want := testkit.Do(t, "GET", origin+uri, "Range", rng)
		if resp.StatusCode != 206 || oresp.StatusCode != 206 {
			t.Fatalf("%s %s: status %d (origin %d), want 206", uri, rng, resp.StatusCode, oresp.StatusCode)
		}
		if cr, ocr := resp.Header.Get("Content-Range"), oresp.Header.Get("Content-Range"); cr != ocr {
			t.Fatalf("%s %s: Content-Range %q, origin's %q", uri, rng, cr, ocr)
		}
		if !bytes.Equal(got, want) || len(got) == 0 || len(got) > len(whole) {
			t.Fatalf("%s %s: %d bytes, not the origin's %d of the range", uri, rng, len(got), len(want))
		}
	}
	uri := fmt.Sprintf("/cam/s-%d.m4s", segs[7].start)
	_, whole := testkit.Get(t, origin+uri)
	resp, body := testkit.Do(t, "HEAD", edge+uri)
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(whole)) || len(body) != 0 {
		t.Fatalf("HEAD %s: status %d, length %d, %d body bytes; want 200, %d, none", uri, resp.StatusCode, resp.ContentLength, len(body), len(whole))
	}
	// Each was a cold miss through the tiers: one fetch from the origin
	// each (the HEAD's fetch goes on into the caches).
	testkit.Eventually(t, 10*time.Second, "the origin to serve 4 fetches", func() bool {
		return testkit.Metric(t, origin, "edge_m4f_requests_total", "endpoint=segment")-before == 4
	})
}

func tsMissBytes(t *testing.T, origin, cacheTier, edge, init string, segs []chSeg, dirs [3]string) {
	before := testkit.Metric(t, origin, "edge_m4f_requests_total", "endpoint=segment")
	for _, s := range segs {
		uri := fmt.Sprintf("/cam/s-%d.m4s", s.start)
		code, want := testkit.Get(t, origin+uri)
		if code != 200 || len(want) == 0 {
			t.Fatalf("origin %s: %d", uri, code)
		}
		code, got := testkit.Get(t, edge+uri)
		if code != 200 {
			t.Fatalf("edge %s: %d %s", uri, code, got)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("edge %s: %d bytes differ from the origin's %d", uri, len(got), len(want))
		}
		_, initBytes := testkit.Get(t, edge+"/cam/"+init)
		f := filepath.Join(t.TempDir(), "seg.mp4")
		if err := os.WriteFile(f, append(append([]byte(nil), initBytes...), got...), 0o644); err != nil {
			t.Fatal(err)
		}
		pr := testkit.FFprobe(t, f)
		if codec, _, _, _ := pr.Video(); codec != "h264" || !pr.HasAudio("aac") {
			t.Fatalf("ffprobe of init + edge %s: %+v, want h264 and aac", uri, pr.Streams)
		}
		if out := testkit.Decode(t, f); strings.TrimSpace(out) != "" {
			t.Fatalf("ffmpeg decode of init + edge %s reports errors:\n%s", uri, out)
		}
		testkit.Eventually(t, 10*time.Second, "both tiers to cache "+uri, func() bool {
			return tsCached(t, dirs[1], s.start) && tsCached(t, dirs[2], s.start)
		})
	}
	// Each was a miss on both tiers: the origin served each once.
	if n := testkit.Metric(t, origin, "edge_m4f_requests_total", "endpoint=segment") - before; n != 3 {
		t.Errorf("origin served %v segment fetches for 3 cold misses, want 3", n)
	}
	// And hot from the cache tier, the same bytes again.
	uri := fmt.Sprintf("/cam/s-%d.m4s", segs[1].start)
	_, want := testkit.Get(t, origin+uri)
	if _, got := testkit.Get(t, cacheTier+uri); !bytes.Equal(got, want) {
		t.Fatalf("cache tier %s differs from the origin's", uri)
	}
}

func tsMissCorrupt(t *testing.T, origin, cacheTier, edge string, s chSeg, dirs [3]string) {
	file := tsOriginFile(t, dirs[0], s.start)
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(good)
	bad[len(bad)*3/4] ^= 0xff
	if err := os.WriteFile(file, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	uri := fmt.Sprintf("/cam/s-%d.m4s", s.start)
	for _, base := range []string{edge, cacheTier} {
		resp, err := http.Get(base + uri)
		if err != nil {
			t.Fatal(err)
		}
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && rerr == nil && int64(len(b)) == resp.ContentLength {
			t.Fatalf("%s%s: a whole 200 answer of %d bytes from a corrupt segment (same as the bad bytes: %v)",
				base, uri, len(b), bytes.Equal(b, bad))
		}
		t.Logf("%s: status %d, %d of %d bytes, read error %v", base, resp.StatusCode, len(b), resp.ContentLength, rerr)
	}
	// Given time for writes behind, nothing is cached.
	testkit.Eventually(t, 5*time.Second, "an abort to be counted", func() bool {
		return testkit.Metric(t, cacheTier, "edge_chain_stream_aborts_total")+
			testkit.Metric(t, cacheTier, "edge_chain_upstream_errors_total", "kind=segment") > 0
	})
	time.Sleep(500 * time.Millisecond) // writes behind, had any begun
	for _, d := range dirs[1:] {
		if tsCached(t, d, s.start) {
			t.Fatalf("%s caches the corrupt segment", d)
		}
	}
}

// tsOriginFile finds the origin's archive file of the segment that starts
// at start (plugins/dvrstore: R/S/YYYY/MM/DD/HH/MM-SS.mmm_<dur>_<init>.m4s).
func tsOriginFile(t *testing.T, root string, start int64) string {
	t.Helper()
	tm := time.UnixMilli(start).UTC()
	pattern := filepath.Join(root, "cam", tm.Format("2006/01/02/15"), tm.Format("04-05.000")+"_*.m4s")
	m, _ := filepath.Glob(pattern)
	if len(m) != 1 {
		t.Fatalf("origin file of %d: %v (pattern %s)", start, m, pattern)
	}
	return m[0]
}
