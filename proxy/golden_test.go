package proxy

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/media"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestGoldenPlaylists checks playlists byte for byte on a fixed timeline:
// 3 s segments from T0, segment 5 missing (a gap), the init changing at
// segment 8, segments 7-9 also in the live window.
func TestGoldenPlaylists(t *testing.T) {
	const t0 = 1_700_000_000_000
	a := media.Init{Hash: "aaaaaaaaaaaaaaaa", Data: []byte("init a")}
	b := media.Init{Hash: "bbbbbbbbbbbbbbbb", Data: []byte("init b")}
	ar := newTestArchive()
	live := cache.NewLive(5)
	for i := int64(0); i < 10; i++ {
		if i == 5 {
			continue
		}
		in := a
		if i >= 8 {
			in = b
		}
		dur := int64(3000)
		if i == 9 {
			dur = 2960
		}
		seg := media.Segment{Start: t0 + i*3000, Duration: dur, InitHash: in.Hash, Data: []byte("segment")}
		ar.add(t, "", in, seg)
		if i >= 7 {
			live.Push(in, seg)
		}
	}
	be := &testBackend{streams: map[string]*testStream{"cam": {name: "cam", live: live, archive: ar}}}
	now := time.UnixMilli(t0 + 32_000)
	_, url := startServer(t, Config{Backend: be, Now: func() time.Time { return now }, LiveSegments: 6})
	tests := []struct{ file, path string }{
		{"live.m3u8", "/cam/index.m3u8"},
		{"archive.m3u8", "/cam/archive-1700000000-20.m3u8"},
		// Passed its end a moment ago: the EVENT playlist it was, with ENDLIST.
		{"archive-ended.m3u8", "/cam/archive-1700000000-29.m3u8"},
		// Reaches past the newest segment: EVENT until the stream passes its end.
		{"archive-growing.m3u8", "/cam/archive-1700000000-30.m3u8"},
		{"timeshift-rel.m3u8", "/cam/timeshift_rel-10.m3u8"},
		{"live-ts.m3u8", "/cam/index.ts.m3u8"},
		{"archive-short.m3u8", "/cam/archive-1700000003-6.m3u8"},
		{"event.m3u8", "/cam/archive-1700000010-now.m3u8"},
		{"rewind.m3u8", "/cam/rewind-20.m3u8"},
	}
	for _, tc := range tests {
		resp, body := get(t, "GET", url+tc.path)
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", tc.path, resp.StatusCode, body)
			continue
		}
		golden := filepath.Join("testdata", tc.file)
		if *update {
			if err := os.WriteFile(golden, body, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -run TestGoldenPlaylists -update ./proxy)", err)
		}
		if !bytes.Equal(body, want) {
			t.Errorf("%s differs from %s:\n%s\nwant:\n%s", tc.path, golden, body, want)
		}
	}
}
