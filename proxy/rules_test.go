package proxy

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/media"
)

// TestPlaylistRulesAcrossReloads grows a stream segment by segment on two
// servers, an origin that captures it and an edge whose live window is
// fed the origin's numbered segments (as M4F does), with a gap, an init
// change and a segment the edge misses. After every segment it reloads
// every kind of playlist from both and runs the RFC 8216 checker of
// internal/testkit over all of them.
func TestPlaylistRulesAcrossReloads(t *testing.T) {
	const t0 = 1_796_000_000_000
	a := media.Init{Hash: "aaaaaaaaaaaaaaaa", Data: []byte("init a")}
	b := media.Init{Hash: "bbbbbbbbbbbbbbbb", Data: []byte("init b")}
	originLive, edgeLive := cache.NewLive(10), cache.NewLive(10)
	ar := newTestArchive()
	var now atomic.Int64
	now.Store(t0)
	clock := func() time.Time { return time.UnixMilli(now.Load()) }
	_, originURL := startServer(t, Config{Now: clock, LiveSegments: 6,
		Backend: &testBackend{streams: map[string]*testStream{"cam": {name: "cam", live: originLive, archive: ar}}}})
	_, edgeURL := startServer(t, Config{Now: clock, LiveSegments: 6,
		Backend: &testBackend{streams: map[string]*testStream{"cam": {name: "cam", live: edgeLive, archive: ar}}}})

	paths := []string{
		"index.m3u8", "rewind-40.m3u8", "timeshift_rel-12.m3u8", "index.ts.m3u8",
		fmt.Sprintf("archive-%d-now.m3u8", t0/1000+3),
		fmt.Sprintf("archive-%d-45.m3u8", t0/1000+3), // grows, ends, then is VOD
		fmt.Sprintf("timeshift_abs-%d.m3u8", t0/1000+10),
	}
	checker := &testkit.PlaylistChecker{}
	start := int64(t0)
	for i := 0; i < 60; i++ {
		in := a
		if i >= 30 {
			in = b // an init change
		}
		dur := int64(3000)
		if i%7 == 3 {
			dur = 2480 // a short segment (a keyframe came early)
		}
		if i == 20 {
			start += 4000 // a gap in the capture
		}
		seg := media.Segment{Start: start, Duration: dur, InitHash: in.Hash, Data: []byte(fmt.Sprintf("segment %d", i))}
		start += dur
		ar.add(t, "", in, seg)
		originLive.Push(in, seg)
		numbered, _ := originLive.Snapshot().Last()
		if i != 40 { // the edge misses this one
			edgeLive.Push(in, numbered.Segment)
		}
		now.Store(seg.End() + 200)
		for _, p := range paths {
			for node, base := range map[string]string{"origin": originURL, "edge": edgeURL} {
				resp, body := get(t, "GET", base+"/cam/"+p)
				if resp.StatusCode == 404 || resp.StatusCode == 400 && now.Load() < t0+20_000 {
					continue // nothing that long ago yet, or from still in the future
				}
				if resp.StatusCode != 200 {
					t.Fatalf("%s %s: %d %s", node, p, resp.StatusCode, body)
				}
				if err := checker.Check(node, p, string(body)); err != nil {
					t.Fatalf("after segment %d: %v", i, err)
				}
			}
		}
	}
	if checker.Reloads < 700 {
		t.Fatalf("only %d playlists checked", checker.Reloads)
	}
}

// TestPlaylistCheckerCatches makes sure the checker is not blind: each
// broken playlist sequence is refused.
func TestPlaylistCheckerCatches(t *testing.T) {
	live := func(target, seq, disc int, segs ...string) string {
		s := fmt.Sprintf("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n#EXT-X-DISCONTINUITY-SEQUENCE:%d\n", target, seq, disc)
		for _, x := range segs {
			if x == "D" {
				s += "#EXT-X-DISCONTINUITY\n"
				continue
			}
			s += "#EXTINF:3.000,\n" + x + "\n"
		}
		return s
	}
	cases := []struct {
		name  string
		lists [][2]string // node, body
	}{
		{"target changes", [][2]string{{"o", live(3, 10, 1, "s-1000.m4s")}, {"o", live(4, 11, 1, "s-4000.m4s")}}},
		{"segment renumbered", [][2]string{{"o", live(3, 10, 1, "s-1000.m4s", "s-4000.m4s")}, {"o", live(3, 12, 1, "s-4000.m4s")}}},
		{"other node numbers differently", [][2]string{{"o", live(3, 10, 1, "s-1000.m4s")}, {"e", live(3, 11, 1, "s-1000.m4s")}}},
		{"discontinuity sequence differs", [][2]string{{"o", live(3, 10, 1, "s-1000.m4s", "D", "s-9000.m4s")}, {"o", live(3, 11, 1, "s-9000.m4s")}}},
		{"EXTINF over target", [][2]string{{"o", live(2, 10, 1, "s-1000.m4s")}}},
		{"huge discontinuity sequence", [][2]string{{"o", live(3, 10, 1796038068, "s-1000.m4s")}}},
		{"EVENT drops a segment", [][2]string{
			{"o", "#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:3,\ns-1000.m4s\n#EXTINF:3,\ns-4000.m4s\n"},
			{"o", "#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:3,\ns-4000.m4s\n"}}},
		{"EVENT becomes VOD without ENDLIST first", [][2]string{
			{"o", "#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:3,\ns-1000.m4s\n"},
			{"o", "#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:3,\ns-1000.m4s\n#EXT-X-ENDLIST\n"}}},
		{"VOD without ENDLIST", [][2]string{{"o", "#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:3,\ns-1000.m4s\n"}}},
		{"live with ENDLIST", [][2]string{{"o", live(3, 1, 0, "s-1000.m4s") + "#EXT-X-ENDLIST\n"}}},
	}
	for _, tc := range cases {
		c := &testkit.PlaylistChecker{}
		var err error
		for _, l := range tc.lists {
			if err = c.Check(l[0], "/cam/x.m3u8", l[1]); err != nil {
				break
			}
		}
		if err == nil {
			t.Errorf("%s: not caught", tc.name)
		}
	}
}
