package proxy

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func TestUIRoutes(t *testing.T) {
	hlsjs, err := os.ReadFile("ui/hls.min.js")
	if err != nil {
		t.Fatal(err)
	}
	_, base := startServer(t, Config{Backend: &testBackend{streams: map[string]*testStream{}}, Node: "n1"})
	tests := []struct {
		path, ctype, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script src="/assets/hls.min.js">`},
		{"/assets/app.js", "text/javascript; charset=utf-8", "recording_status.json"},
		{"/assets/app.css", "text/css; charset=utf-8", ".timeline"},
		{"/assets/hls.min.js", "text/javascript; charset=utf-8", ""},
		{"/assets/hls.js-LICENSE", "text/plain; charset=utf-8", "Apache License, Version 2.0"},
	}
	for _, tc := range tests {
		resp, body := get(t, "GET", base+tc.path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("GET %s: %d %q, want 200 %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.ctype)
			continue
		}
		if !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		etag := resp.Header.Get("ETag")
		if r2, b2 := get(t, "GET", base+tc.path, "If-None-Match", etag); etag == "" || r2.StatusCode != 304 || len(b2) != 0 {
			t.Errorf("GET %s with If-None-Match %q: %d, %d bytes; want 304 and no body", tc.path, etag, r2.StatusCode, len(b2))
		}
		if r3, b3 := get(t, "HEAD", base+tc.path); r3.StatusCode != 200 || len(b3) != 0 || r3.ContentLength != int64(len(body)) {
			t.Errorf("HEAD %s: %d, %d bytes, length %d; want 200, none, %d", tc.path, r3.StatusCode, len(b3), r3.ContentLength, len(body))
		}
	}
	// The embedded hls.js is the committed copy, byte for byte.
	if _, body := get(t, "GET", base+"/assets/hls.min.js"); !bytes.Equal(body, hlsjs) {
		t.Errorf("/assets/hls.min.js differs from ui/hls.min.js")
	}
	var n nodeJSON
	resp, body := get(t, "GET", base+"/api/v1/node")
	if err := json.Unmarshal(body, &n); err != nil || resp.StatusCode != 200 || n.Node != "n1" || n.Cluster || n.Connections < 1 {
		t.Errorf("/api/v1/node: %d %s (%v)", resp.StatusCode, body, err)
	}
}

func TestViewers(t *testing.T) {
	var v viewers
	t0 := time.Unix(1_700_000_000, 0)
	v.touch("cam", "10.0.0.1 vlc", t0)
	v.touch("cam", "10.0.0.1 vlc", t0.Add(time.Second)) // the same client again
	v.touch("cam", "10.0.0.2 vlc", t0.Add(2*time.Second))
	v.touch("other", "10.0.0.1 vlc", t0)
	tests := []struct {
		stream string
		at     time.Duration
		want   int
	}{
		{"cam", 3 * time.Second, 2},
		{"other", 3 * time.Second, 1},
		{"none", 3 * time.Second, 0},
		{"cam", viewerWindow + 1500*time.Millisecond, 1}, // the first client stopped asking
		{"cam", viewerWindow + 3*time.Second, 0},
	}
	for _, tc := range tests {
		if got := v.count(tc.stream, t0.Add(tc.at)); got != tc.want {
			t.Errorf("count(%s) at +%v = %d, want %d", tc.stream, tc.at, got, tc.want)
		}
	}
	if len(v.streams) != 1 { // "cam" and "none" pruned; "other" not asked since
		t.Errorf("tracked streams %v, want only other", v.streams)
	}
}
