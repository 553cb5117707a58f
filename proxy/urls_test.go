package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/sdk"
)

const testNowMs = 1_700_000_000_000

func TestParsePath(t *testing.T) {
	tests := []struct {
		path string
		want request
	}{
		{"/cam/index.m3u8", request{route: routeLive, name: "cam"}},
		{"/a.b-c_d/index.m3u8", request{route: routeLive, name: "a.b-c_d"}},
		{"/cam/archive-1699990000-60.m3u8", request{route: routeArchive, name: "cam", from: 1_699_990_000_000, dur: 60_000}},
		{"/cam/index-1699990000-86400.m3u8", request{route: routeArchive, name: "cam", from: 1_699_990_000_000, dur: 86_400_000}},
		{"/cam/archive-1699990000-now.m3u8", request{route: routeEvent, name: "cam", from: 1_699_990_000_000, startAtFrom: true}},
		// The catch-up forms IPTV clients build (clients.md).
		{"/cam/video.m3u8", request{route: routeLive, name: "cam"}},
		{"/cam/mono.m3u8", request{route: routeLive, name: "cam"}},
		{"/cam/index.fmp4.m3u8", request{route: routeLive, name: "cam"}},
		{"/cam/index.ts.m3u8", request{route: routeLive, name: "cam", ts: true}},
		{"/cam/timeshift_rel-3600.m3u8", request{route: routeTimeshiftRel, name: "cam", dur: 3_600_000}},
		{"/cam/mono-timeshift_rel-60.m3u8", request{route: routeTimeshiftRel, name: "cam", dur: 60_000}},
		{"/cam/video-timeshift_rel-60.m3u8", request{route: routeTimeshiftRel, name: "cam", dur: 60_000}},
		{"/cam/timeshift_abs-1699990000.m3u8", request{route: routeEvent, name: "cam", from: 1_699_990_000_000, startAtFrom: true}},
		{"/cam/timeshift_abs-1699990000.ts", request{route: routeTSRange, name: "cam", from: 1_699_990_000_000, endless: true}},
		{"/cam/video-1699990000-60.m3u8", request{route: routeArchive, name: "cam", from: 1_699_990_000_000, dur: 60_000}},
		{"/cam/mono-1699990000-60.m3u8", request{route: routeArchive, name: "cam", from: 1_699_990_000_000, dur: 60_000}},
		{"/cam/index-1699990000-now.m3u8", request{route: routeEvent, name: "cam", from: 1_699_990_000_000, startAtFrom: true}},
		{"/cam/video-1699990000-now.m3u8", request{route: routeEvent, name: "cam", from: 1_699_990_000_000, startAtFrom: true}},
		{"/cam/index-1699990000-10800.fmp4.m3u8", request{route: routeArchive, name: "cam", from: 1_699_990_000_000, dur: 10_800_000}},
		{"/cam/archive-1699990000-60.ts.m3u8", request{route: routeArchive, name: "cam", from: 1_699_990_000_000, dur: 60_000, ts: true}},
		{"/cam/archive-1699990000-60.ts", request{route: routeTSRange, name: "cam", from: 1_699_990_000_000, dur: 60_000}},
		{"/cam/archive-1699990000-now.ts", request{route: routeTSRange, name: "cam", from: 1_699_990_000_000, startAtFrom: true}},
		{"/cam/archive/1699990000/3600/mpegts", request{route: routeTSRange, name: "cam", from: 1_699_990_000_000, dur: 3_600_000}},
		{"/cam/mpegts", request{route: routeTSLive, name: "cam"}},
		{"/cam/s-1699999999123.ts", request{route: routeTSSegment, name: "cam", start: 1_699_999_999_123}},
		{"/cam/rewind-120.m3u8", request{route: routeRewind, name: "cam", dur: 120_000}},
		{"/cam/archive-1700000000-3600.mp4", request{route: routeExport, name: "cam", from: 1_700_000_000_000, dur: 3_600_000}},
		{"/cam/recording_status.json", request{route: routeRecordingStatus, name: "cam"}},
		{"/cam/init-0123456789abcdef.mp4", request{route: routeInit, name: "cam", hash: "0123456789abcdef"}},
		{"/cam/s-1699999999123.m4s", request{route: routeSegment, name: "cam", start: 1_699_999_999_123}},
		{"/cam/s-0.m4s", request{route: routeSegment, name: "cam"}},
		{"/api/v1/streams", request{route: routeAPIStreams}},
		{"/api/v1/streams/cam", request{route: routeAPIStream, name: "cam"}},
		{"/metrics", request{route: routeMetrics}},
		{"/", request{route: routeUI}},
		{"/assets/app.js", request{route: routeUI, name: "app.js"}},
		{"/assets/hls.min.js", request{route: routeUI, name: "hls.min.js"}},
		{"/assets/index.m3u8", request{route: routeLive, name: "assets"}}, // a stream may be called assets
		{"/api/v1/node", request{route: routeAPINode}},
		{"/api/v1/plugins", request{route: routeAPIPlugins}},
		{"/api/v1/openapi.json", request{route: routeOpenAPI}},
		{"/cam/session-0123456789abcdef0123456789abcdef/s-1699999999123.m4s", request{route: routeSegment, name: "cam", start: 1_699_999_999_123, session: "0123456789abcdef0123456789abcdef"}},
		{"/cam/session-0123456789abcdef0123456789abcdef/s-1699999999123.ts", request{route: routeTSSegment, name: "cam", start: 1_699_999_999_123, session: "0123456789abcdef0123456789abcdef"}},
		{"/cam/session-0123456789abcdef0123456789abcdef/init-0123456789abcdef.mp4", request{route: routeInit, name: "cam", hash: "0123456789abcdef", session: "0123456789abcdef0123456789abcdef"}},
	}
	for _, tc := range tests {
		got, err := parsePath(tc.path, testNowMs)
		if err != nil || got != tc.want {
			t.Errorf("parsePath(%q) = %+v, %v; want %+v", tc.path, got, err, tc.want)
		}
	}
	bad := []struct {
		path   string
		status int
	}{
		{"", 400}, {"cam/index.m3u8", 400}, {"/cam/archive-1700000001-60.m3u8", 400},
		{"/cam/archive-1699900000-now.m3u8", 400}, {"/cam/archive-1699990000-+60.m3u8", 400},
		{"/cam/archive-1699990000.m3u8", 400}, {"/cam/s-1234567890123456.m4s", 400},
		{"/cam/s-.m4s", 400}, {"/cam/x.m4s", 404}, {"/cam/.m3u8", 404}, {"/cam/index", 404},
		{"/a/b/c/d/e/f", 404}, {"/cam\\x/index.m3u8", 400},
		{"/cam/timeshift_rel-0.m3u8", 400}, {"/cam/timeshift_rel-86401.m3u8", 400}, {"/cam/timeshift_abs-1700000001.m3u8", 400},
		{"/cam/timeshift_abs-1699900000.ts", 400}, {"/cam/foo-1699990000-60.m3u8", 404}, {"/cam/video.ts", 404},
		{"/cam/archive/1699990000/60/hls", 404}, {"/cam/archive/x/60/mpegts", 400}, {"/cam/index.fmp4.ts.m3u8", 404}, {"/" + strings.Repeat("a", 129) + "/index.m3u8", 400},
		{"/cam/session-0123456789ABCDEF0123456789abcdef/s-1.m4s", 400}, {"/cam/session-01234/s-1.m4s", 400},
		{"/cam/session-0123456789abcdef0123456789abcdef/index.m3u8", 404}, {"/cam/session-0123456789abcdef0123456789abcdef/mpegts", 404},
		{"/cam/sessionx/s-1.m4s", 404},
	}
	for _, tc := range bad {
		_, err := parsePath(tc.path, testNowMs)
		if err == nil || statusOf(err) != tc.status {
			t.Errorf("parsePath(%q) error %v, want status %d", tc.path, err, tc.status)
		}
		if err != nil && strings.ContainsRune(err.Error(), '\n') {
			t.Errorf("parsePath(%q) error %q is not one line", tc.path, err)
		}
	}
}

// FuzzParseURL checks that the parser never panics, answers only 400 or
// 404 on errors, and that what it accepts is safe and within limits.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"/cam/index.m3u8", "/cam/archive-1699990000-60.m3u8", "/cam/index-1699990000-60.m3u8",
		"/cam/archive-1699990000-now.m3u8", "/cam/rewind-60.m3u8", "/cam/archive-1699990000-60.mp4",
		"/cam/recording_status.json", "/cam/init-0123456789abcdef.mp4", "/cam/s-1699999999123.m4s",
		"/api/v1/streams", "/api/v1/streams/cam", "/metrics", "/cam/../x", "/ca%2fm/index.m3u8", "//x",
		"/cam/archive-0-0.m3u8", "/cam/archive-99999999999999999999-1.mp4",
		"/cam/timeshift_rel-60.m3u8", "/cam/video-timeshift_rel-60.m3u8", "/cam/timeshift_abs-1699990000.ts",
		"/cam/index-1699990000-60.fmp4.m3u8", "/cam/archive/1699990000/60/mpegts", "/cam/mpegts", "/cam/s-1.ts",
		"/", "/assets/app.js", "/api/v1/node", "/api/v1/openapi.json",
		"/cam/session-0123456789abcdef0123456789abcdef/s-1.m4s", "/cam/session-0123456789abcdef0123456789abcdef/init-0123456789abcdef.mp4",
		"/cam/session-x/s-1.ts", "/cam/session-0123456789abcdef0123456789abcdef/index.m3u8",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		r, err := parsePath(path, testNowMs)
		if err != nil {
			if st := statusOf(err); st != 400 && st != 404 {
				t.Fatalf("parsePath(%q): status %d", path, st)
			}
			if strings.ContainsRune(err.Error(), '\n') {
				t.Fatalf("parsePath(%q): multi-line reason %q", path, err)
			}
			return
		}
		if strings.Contains(path, "..") && r.route != routeLive && r.route != routeRecordingStatus && r.route != routeAPIStream {
			// ".." may appear inside a stream name ("a..b" is a valid name), never as a segment.
			for _, seg := range strings.Split(path, "/") {
				if seg == ".." {
					t.Fatalf("parsePath(%q) accepted a dot segment", path)
				}
			}
		}
		if strings.ContainsAny(path, "%\\") {
			t.Fatalf("parsePath(%q) accepted an escape or backslash", path)
		}
		if r.name != "" {
			if err := sdk.CheckStreamName(r.name); err != nil {
				t.Fatalf("parsePath(%q) accepted name %q: %v", path, r.name, err)
			}
		}
		switch r.route {
		case routeArchive, routeExport:
			if r.dur < 1000 || r.dur > MaxRangeSeconds*1000 || r.from <= 0 || r.from > testNowMs {
				t.Fatalf("parsePath(%q) = %+v out of limits", path, r)
			}
		case routeTSRange:
			if r.from <= 0 || r.from > testNowMs || r.dur < 0 || r.dur > MaxRangeSeconds*1000 {
				t.Fatalf("parsePath(%q) = %+v out of limits", path, r)
			}
		case routeTimeshiftRel:
			if r.dur < 1000 || r.dur > MaxRangeSeconds*1000 {
				t.Fatalf("parsePath(%q) = %+v out of limits", path, r)
			}
		case routeEvent:
			if r.from <= 0 || r.from > testNowMs || r.from < testNowMs-MaxRangeSeconds*1000-1000 {
				t.Fatalf("parsePath(%q) = %+v out of limits", path, r)
			}
		case routeRewind:
			if r.dur < 1000 || r.dur > MaxRangeSeconds*1000 {
				t.Fatalf("parsePath(%q) = %+v out of limits", path, r)
			}
		case routeSegment:
			if r.start < 0 {
				t.Fatalf("parsePath(%q) = %+v negative start", path, r)
			}
		case routeInit:
			if !isHash(r.hash) {
				t.Fatalf("parsePath(%q) = %+v bad hash", path, r)
			}
		}
	})
}

func TestParseByteRange(t *testing.T) {
	tests := []struct {
		h           string
		size        int64
		first, last int64
		partial     bool
		unsat       bool
	}{
		{"bytes=0-9", 100, 0, 9, true, false},
		{"bytes=90-", 100, 90, 99, true, false},
		{"bytes=-10", 100, 90, 99, true, false},
		{"bytes=-1000", 100, 0, 99, true, false},
		{"bytes=50-1000", 100, 50, 99, true, false},
		{"bytes=100-", 100, 0, 0, false, true},
		{"bytes=-0", 100, 0, 0, false, true},
		{"bytes=0-0", 0, 0, 0, false, true},
		{"bytes=0-1,3-4", 100, 0, 99, false, false},
		{"bytes=5-2", 100, 0, 99, false, false},
		{"bytes=a-b", 100, 0, 99, false, false},
		{"octets=0-1", 100, 0, 99, false, false},
		{"bytes=-", 100, 0, 99, false, false},
	}
	for _, tc := range tests {
		first, last, partial, err := parseByteRange(tc.h, tc.size)
		if (err != nil) != tc.unsat || (!tc.unsat && (first != tc.first || last != tc.last || partial != tc.partial)) {
			t.Errorf("parseByteRange(%q, %d) = %d, %d, %v, %v", tc.h, tc.size, first, last, partial, err)
		}
	}
}

// FuzzParseByteRange checks that a partial range always lies in the body.
func FuzzParseByteRange(f *testing.F) {
	f.Add("bytes=0-9", int64(100))
	f.Add("bytes=-5", int64(3))
	f.Add("bytes=7-", int64(7))
	f.Add("bytes=1-2,3-4", int64(10))
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			return
		}
		first, last, partial, err := parseByteRange(h, size)
		if err != nil || !partial {
			return
		}
		if first < 0 || last < first || last >= size {
			t.Fatalf("parseByteRange(%q, %d) = [%d, %d]", h, size, first, last)
		}
	})
}

func TestPDTFormatter(t *testing.T) {
	var f pdtFormatter
	for _, ms := range []int64{0, 1, 999, 86_399_999, 86_400_000, 1_700_000_000_123, 1_700_000_000_123, 4_102_444_799_999, -1, -86_400_000} {
		got := string(f.append(nil, ms))
		want := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
		if got != want {
			t.Errorf("pdt(%d) = %s, want %s", ms, got, want)
		}
	}
}
