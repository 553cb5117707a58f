package proxy

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"
)

// authBackend is an on_play backend: it allows token "good" (with
// X-AuthDuration when duration is set) and denies every other token.
type authBackend struct {
	*httptest.Server
	mu       sync.Mutex
	calls    []map[string]string // query of each call
	duration string
}

func newAuthBackend(t *testing.T) *authBackend { return newAuthBackendTB(t) }

func newAuthBackendTB(t testing.TB) *authBackend {
	b := &authBackend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := map[string]string{}
		for k, v := range r.URL.Query() {
			q[k] = v[0]
		}
		b.mu.Lock()
		b.calls = append(b.calls, q)
		d := b.duration
		b.mu.Unlock()
		if q["token"] != "good" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		if d != "" {
			w.Header().Set(AuthDurationHeader, d)
		}
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *authBackend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.calls)
}

func (b *authBackend) last() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[len(b.calls)-1]
}

var uriLine = regexp.MustCompile(`(?m)^([^#\n][^\n]*)$|URI="([^"]+)"`)

// playlistURIs returns the segment and init URIs of a playlist.
func playlistURIs(pl string) []string {
	var out []string
	for _, m := range uriLine.FindAllStringSubmatch(pl, -1) {
		out = append(out, m[1]+m[2])
	}
	return out
}

func TestOnPlaySessions(t *testing.T) {
	w := newWorld(t)
	ab := newAuthBackend(t)
	w.srv.SetPolicy(Policy{OnPlay: func(name string) string {
		if name == "cam" || name == "gap" {
			return ab.URL + "/play?site=1"
		}
		return ""
	}})

	// The allowed token: one backend call, with every parameter.
	resp, body := get(t, "GET", w.url+"/cam/index.m3u8?token=good")
	if resp.StatusCode != 200 {
		t.Fatalf("live playlist with the allowed token: %d %s", resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "private") {
		t.Errorf("a session's playlist has Cache-Control %q, want private", cc)
	}
	q := ab.last()
	want := map[string]string{"site": "1", "name": "cam", "token": "good", "ip": "127.0.0.1", "proto": "hls"}
	for k, v := range want {
		if q[k] != v {
			t.Errorf("backend query %s = %q, want %q (all: %v)", k, q[k], v, q)
		}
	}
	sid := q["session_id"]
	if !isSessionID(sid) {
		t.Fatalf("backend session_id %q", sid)
	}
	uris := playlistURIs(string(body))
	if len(uris) < 2 {
		t.Fatalf("playlist has %d URIs:\n%s", len(uris), body)
	}
	for _, u := range uris {
		if !strings.HasPrefix(u, "session-"+sid+"/") {
			t.Fatalf("URI %q does not carry the session %s:\n%s", u, sid, body)
		}
		// Relative to the playlist, without the query (as players resolve it).
		if r, b := get(t, "GET", w.url+"/cam/"+u); r.StatusCode != 200 || len(b) == 0 {
			t.Fatalf("GET %s in the session: %d", u, r.StatusCode)
		}
	}
	// Reloads, the archive playlist and its segments stay in the session.
	for range 3 {
		if r, _ := get(t, "GET", w.url+"/cam/index.m3u8?token=good"); r.StatusCode != 200 {
			t.Fatalf("reload: %d", r.StatusCode)
		}
	}
	r, arch := get(t, "GET", fmt.Sprintf("%s/cam/archive-%d-30.m3u8?token=good", w.url, w.from))
	if r.StatusCode != 200 || !strings.Contains(string(arch), "session-"+sid+"/s-") {
		t.Fatalf("archive playlist: %d\n%s", r.StatusCode, arch)
	}
	for _, u := range playlistURIs(string(arch)) {
		if r, _ := get(t, "GET", w.url+"/cam/"+u); r.StatusCode != 200 {
			t.Fatalf("archive %s: %d", u, r.StatusCode)
		}
	}
	// Archive playlists are rendered into fasthttp's pooled body buffer,
	// which the next request reuses: each range keeps its own segments
	// through the session's rewrite (none served from an earlier one).
	for _, rg := range [][2]int64{{0, 12}, {12, 12}, {0, 12}, {6, 18}} {
		from := (w.from + rg[0]) * 1000 // ms; the URL takes seconds
		to := from + rg[1]*1000
		r, pl := get(t, "GET", fmt.Sprintf("%s/cam/archive-%d-%d.m3u8?token=good", w.url, w.from+rg[0], rg[1]))
		n := 0
		for _, u := range playlistURIs(string(pl)) {
			rest, ok := strings.CutPrefix(u, "session-"+sid+"/")
			if !ok {
				t.Fatalf("archive %v: URI %q outside the session", rg, u)
			}
			if seg, ok := strings.CutPrefix(rest, "s-"); ok {
				start, err := strconv.ParseInt(strings.TrimSuffix(seg, ".m4s"), 10, 64)
				if err != nil || start < from || start >= to {
					t.Fatalf("archive %v (%d..%d): segment %q out of range:\n%s", rg, from, to, u, pl)
				}
				n++
			}
		}
		if r.StatusCode != 200 || n == 0 {
			t.Fatalf("archive %v: %d, %d segments", rg, r.StatusCode, n)
		}
	}
	if n := ab.count(); n != 1 {
		t.Fatalf("backend called %d times for one session, want 1", n)
	}
	// Real players: ffprobe reads live and archive through the session.
	out := ffprobe(t, "-show_entries", "stream=codec_name", "-of", "csv=p=0", w.url+"/cam/index.m3u8?token=good")
	if !strings.Contains(out, "h264") || !strings.Contains(out, "aac") {
		t.Fatalf("ffprobe of the live playlist: %q", out)
	}
	if d := probeDuration(t, fmt.Sprintf("%s/cam/archive-%d-30.m3u8?token=good", w.url, w.from)); d < 28 || d > 32 {
		t.Fatalf("ffprobe archive duration %.1f, want about 30", d)
	}

	// Denied and missing tokens: 403 on playlists, exports, status, TS.
	for _, path := range []string{
		"/cam/index.m3u8?token=bad", "/cam/index.m3u8",
		fmt.Sprintf("/cam/archive-%d-30.m3u8?token=bad", w.from),
		fmt.Sprintf("/cam/archive-%d-10.mp4?token=bad", w.from),
		"/cam/recording_status.json", "/cam/mpegts?token=bad",
		"/cam/" + strings.TrimPrefix(uris[len(uris)-1], "session-"+sid+"/"), // a plain segment URL, no token
	} {
		if r, b := get(t, "GET", w.url+path); r.StatusCode != 403 {
			t.Errorf("GET %s: %d %s, want 403", path, r.StatusCode, b)
		}
	}
	// Another stream's session id does not open this one.
	if r, _ := get(t, "GET", w.url+"/gap/"+uris[len(uris)-1]); r.StatusCode != 403 {
		t.Errorf("cam's session on gap: %d, want 403", r.StatusCode)
	}
	// An unguarded stream needs nothing.
	if r, _ := get(t, "GET", w.url+"/switch/recording_status.json"); r.StatusCode != 200 {
		t.Errorf("unguarded stream: %d", r.StatusCode)
	}
	// The export is another protocol: its own session.
	before := ab.count()
	if r, _ := get(t, "GET", fmt.Sprintf("%s/cam/archive-%d-10.mp4?token=good", w.url, w.from)); r.StatusCode != 200 {
		t.Fatalf("export with the allowed token: %d", r.StatusCode)
	}
	if ab.last()["proto"] != "mp4" || ab.count() != before+1 {
		t.Errorf("export: %d calls, last %v", ab.count()-before, ab.last())
	}

	// X-AuthDuration shortens the session: once it is gone, the copied
	// segment URL answers 403, and the backend is asked again.
	ab.mu.Lock()
	ab.duration = "1"
	ab.mu.Unlock()
	r, short := get(t, "GET", w.url+"/cam/index.m3u8?token=good&player=2")
	if r.StatusCode != 200 {
		t.Fatal(r.StatusCode)
	}
	// Same key (token, IP, protocol): the first session is still alive and reused.
	if !strings.Contains(string(short), "session-"+sid) {
		t.Fatalf("the same viewer got a new session while the first lives")
	}
	oldURI := uris[len(uris)-1]
	w.srv.onplay.sessions.sweep(time.Now().Add(time.Hour).UnixNano()) // every session gone, as an hour later
	r, short = get(t, "GET", w.url+"/cam/index.m3u8?token=good")
	if r.StatusCode != 200 || strings.Contains(string(short), sid) {
		t.Fatalf("new session: %d\n%s", r.StatusCode, short)
	}
	if r, _ := get(t, "GET", w.url+"/cam/"+oldURI); r.StatusCode != 403 {
		t.Errorf("segment of a gone session: %d, want 403", r.StatusCode)
	}
	newURI := playlistURIs(string(short))[0]
	newID := strings.TrimPrefix(strings.SplitN(newURI, "/", 2)[0], "session-")
	// Every request renews the idle time; wait, without using it, until
	// its second has passed.
	deadline := time.Now().Add(10 * time.Second)
	for sessionAlive(w.srv, newID) {
		if time.Now().After(deadline) {
			t.Fatalf("a session with X-AuthDuration 1 is still alive after 10 s unused")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r, _ := get(t, "GET", w.url+"/cam/"+newURI); r.StatusCode != 403 {
		t.Errorf("segment of an expired session: %d, want 403", r.StatusCode)
	}
	if got := testutil.ToFloat64(w.srv.onplay.metrics.sessions.WithLabelValues("denied")); got < 5 {
		t.Errorf("denied sessions metric %v, want >= 5", got)
	}
	if got := testutil.ToFloat64(w.srv.onplay.metrics.sessions.WithLabelValues("allowed")); got != 3 {
		t.Errorf("allowed sessions metric %v, want 3", got)
	}
}

func TestOnPlaySessionsCollapse(t *testing.T) {
	w := newWorld(t)
	ab := newAuthBackend(t)
	w.srv.SetPolicy(Policy{OnPlay: func(string) string { return ab.URL }})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if r, _ := get(t, "GET", w.url+"/cam/index.m3u8?token=good"); r.StatusCode != 200 {
				t.Errorf("concurrent playlist: %d", r.StatusCode)
			}
		})
	}
	wg.Wait()
	if n := ab.count(); n != 1 {
		t.Fatalf("20 concurrent requests of one viewer made %d backend calls, want 1", n)
	}
}

func TestOnPlayBackendDown(t *testing.T) {
	// A port nothing listens on, and a backend slower than OnPlayTimeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + "/play"
	ln.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); slow.Close() })

	for _, tc := range []struct {
		name     string
		backend  string
		failOpen bool
		want     int
	}{
		{"down, deny", down, false, 503},
		{"down, allow", down, true, 200},
		{"slow, deny", slow.URL, false, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			var logs syncBuffer
			w.srv.log = slog.New(slog.NewTextHandler(&logs, nil))
			w.srv.SetPolicy(Policy{OnPlay: func(string) string { return tc.backend }, FailOpen: tc.failOpen})
			n := 3
			if tc.backend == slow.URL {
				n = 1
			}
			for i := range n {
				began := time.Now()
				r, b := get(t, "GET", fmt.Sprintf("%s/cam/index.m3u8?token=t%d", w.url, i))
				if r.StatusCode != tc.want {
					t.Fatalf("request %d: %d %s, want %d", i, r.StatusCode, b, tc.want)
				}
				if d := time.Since(began); d > OnPlayTimeout+2*time.Second {
					t.Fatalf("the answer took %v: the backend deadline is %v", d, OnPlayTimeout)
				}
			}
			if strings.Contains(logs.String(), "token=") {
				t.Errorf("a viewer's token reached the log:\n%s", logs.String())
			}
			if got := strings.Count(logs.String(), "on_play backend failed"); got != 1 {
				t.Errorf("%d failures logged %d times, want once per burst:\n%s", n, got, logs.String())
			}
			if got := testutil.ToFloat64(w.srv.onplay.metrics.errors); got != float64(n) {
				t.Errorf("backend errors metric %v, want %d", got, n)
			}
		})
	}
}

func TestAdminCredential(t *testing.T) {
	w := newWorld(t)
	const key = "0123456789abcdef-admin"
	// No admin_key: loopback callers only.
	if r, _ := get(t, "GET", w.url+"/api/v1/streams"); r.StatusCode != 200 {
		t.Fatalf("no admin_key, loopback: %d", r.StatusCode)
	}
	w.srv.SetPolicy(Policy{AdminKey: key})
	basic := func(user, pw string) string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(user, pw)
		return req.Header.Get("Authorization")
	}
	for _, tc := range []struct {
		path, auth string
		want       int
	}{
		{"/api/v1/streams", "", 401},
		{"/api/v1/streams", "Bearer wrong", 401},
		{"/api/v1/streams", "Bearer " + key + "x", 401},
		{"/api/v1/streams", "Bearer " + key, 200},
		{"/api/v1/streams", "bearer " + key, 200},
		{"/api/v1/streams", basic("admin", key), 200},
		{"/api/v1/streams", basic("admin", "nope"), 401},
		{"/api/v1/streams/cam", "", 401},
		{"/api/v1/node", "", 401},
		{"/api/v1/cluster", "", 401},
		{"/api/v1/plugins", "", 401},
		{"/api/v1/openapi.json", "", 401},
		{"/metrics", "", 401},
		{"/metrics", "Bearer " + key, 200},
		{"/", "", 401},
		{"/assets/app.js", "", 401},
		{"/", "Bearer " + key, 200},
		{"/cam/index.m3u8", "", 200}, // viewers are on_play's business
	} {
		var hdr []string
		if tc.auth != "" {
			hdr = []string{"Authorization", tc.auth}
		}
		r, b := get(t, "GET", w.url+tc.path, hdr...)
		if r.StatusCode != tc.want {
			t.Errorf("GET %s (%q): %d %s, want %d", tc.path, tc.auth, r.StatusCode, b, tc.want)
		}
		if tc.want == 401 && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("GET %s: 401 without a Basic challenge", tc.path)
		}
		if strings.Contains(string(b), key) {
			t.Errorf("GET %s: the answer shows the key", tc.path)
		}
	}
}

func TestAdminWithoutKeyRefusesTheNetwork(t *testing.T) {
	s := New(Config{Backend: &testBackend{}, Logger: slog.New(slog.DiscardHandler)})
	defer s.Shutdown(t.Context())
	for _, tc := range []struct {
		remote string
		key    string
		auth   string
		want   error
	}{
		{"127.0.0.1:5000", "", "", nil},
		{"[::1]:5000", "", "", nil},
		{"192.0.2.7:5000", "", "", errAdminNoKey},
		{"192.0.2.7:5000", "", "Bearer anything", errAdminNoKey},
		{"192.0.2.7:5000", "0123456789abcdef", "", errAdminCredential},
		{"127.0.0.1:5000", "0123456789abcdef", "", errAdminCredential},
		{"192.0.2.7:5000", "0123456789abcdef", "Bearer 0123456789abcdef", nil},
	} {
		s.SetPolicy(Policy{AdminKey: tc.key})
		var req fasthttp.Request
		req.SetRequestURI("/api/v1/streams")
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		addr, err := net.ResolveTCPAddr("tcp", tc.remote)
		if err != nil {
			t.Fatal(err)
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, addr, nil)
		if err := s.checkAdmin(&ctx); err != tc.want {
			t.Errorf("%s key %q auth %q: %v, want %v", tc.remote, tc.key, tc.auth, err, tc.want)
		}
	}
}

func TestWithSession(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef"
	in := "#EXTM3U\n#EXT-X-MAP:URI=\"init-0123456789abcdef.mp4\"\n#EXTINF:2.000,\ns-1.m4s\n#EXTINF:2.000,\ns-2.m4s\n#EXT-X-ENDLIST\n"
	want := "#EXTM3U\n#EXT-X-MAP:URI=\"session-" + id + "/init-0123456789abcdef.mp4\"\n#EXTINF:2.000,\nsession-" + id + "/s-1.m4s\n#EXTINF:2.000,\nsession-" + id + "/s-2.m4s\n#EXT-X-ENDLIST\n"
	if got := string(withSession([]byte(in), id)); got != want {
		t.Fatalf("withSession:\n%s\nwant:\n%s", got, want)
	}
	if got := string(withSession([]byte("s-1.ts"), id)); got != "session-"+id+"/s-1.ts" {
		t.Fatalf("no final newline: %q", got)
	}
}

func TestAuthDuration(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"": DefaultSessionIdle, "30": 30 * time.Second, " 5 ": 5 * time.Second, "0": DefaultSessionIdle,
		"-1": DefaultSessionIdle, "86400": 24 * time.Hour, "86401": DefaultSessionIdle, "x": DefaultSessionIdle,
		"99999999999999999999": DefaultSessionIdle,
	} {
		if got := authDuration(v); got != want {
			t.Errorf("authDuration(%q) = %v, want %v", v, got, want)
		}
	}
}

// sessionAlive reports whether the session id lives, without using it.
func sessionAlive(s *Server, id string) bool {
	sh := s.onplay.sessions.shard(id)
	sh.mu.RLock()
	se := sh.byID[id]
	sh.mu.RUnlock()
	return se != nil && se.alive(time.Now().UnixNano())
}

// FuzzWithSession checks the playlist rewrite on any text: every
// non-tag line and every EXT-X-MAP URI gets the session directory, nothing
// else changes, and it never panics.
func FuzzWithSession(f *testing.F) {
	for _, s := range []string{
		"#EXTM3U\n#EXT-X-MAP:URI=\"init-0123456789abcdef.mp4\"\n#EXTINF:2.000,\ns-1.m4s\n",
		"", "\n", "#", "s-1.ts", "#EXT-X-MAP:URI=\"", "\n\n#EXT-X-MAP:URI=\"x\"\r\nseg\r\n",
	} {
		f.Add(s)
	}
	const id = "0123456789abcdef0123456789abcdef"
	f.Fuzz(func(t *testing.T, in string) {
		out := string(withSession([]byte(in), id))
		if back := strings.ReplaceAll(out, sessionDir+id+"/", ""); back != strings.ReplaceAll(in, sessionDir+id+"/", "") {
			t.Fatalf("withSession(%q) = %q: more than the session directory changed", in, out)
		}
		for _, line := range strings.Split(out, "\n") {
			if line != "" && line[0] != '#' && !strings.HasPrefix(line, sessionDir+id+"/") {
				t.Fatalf("withSession(%q): URI line %q without the session", in, line)
			}
		}
	})
}
