package proxy

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgedvr/edge/cache"
)

// BenchmarkOnPlay compares live playlist and live segment requests with
// and without on_play on the same server and stream, sessions warm (the
// backend was asked once, before the timer): the cost of authorization on
// the viewer path. Parallel keep-alive clients over real loopback
// connections; ns/op is per request.
//
//	go test ./proxy -run XXX -bench OnPlay -benchtime 3s
func BenchmarkOnPlay(b *testing.B) {
	m := loadMedia(b)
	live := cache.NewLive(10)
	in := m.mediaInit()
	for i := range 10 {
		live.Push(in, m.segment(i, 1_700_000_000_000))
	}
	be := &testBackend{streams: map[string]*testStream{
		"open":  {name: "open", live: live, archive: newTestArchive()},
		"guard": {name: "guard", live: live, archive: newTestArchive()},
	}}
	srv, url := startServer(b, Config{Backend: be, Logger: slog.New(slog.DiscardHandler)})
	ab := newAuthBackendTB(b)
	srv.SetPolicy(Policy{OnPlay: func(name string) string {
		if name == "guard" {
			return ab.URL
		}
		return ""
	}})
	// Warm the session and find what a player would ask for.
	resp, err := http.Get(url + "/guard/index.m3u8?token=good")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sess := regexp.MustCompile(`session-[0-9a-f]{32}/s-[0-9]+\.m4s`).FindString(string(body))
	if resp.StatusCode != 200 || sess == "" {
		b.Fatalf("warm-up: %d\n%s", resp.StatusCode, body)
	}
	plain := regexp.MustCompile(`s-[0-9]+\.m4s`).FindString(sess)
	for _, c := range []struct{ name, path string }{
		{"playlist/off", "/open/index.m3u8?token=good"},
		{"playlist/on", "/guard/index.m3u8?token=good"},
		{"segment/off", "/open/" + plain},
		{"segment/on", "/guard/" + sess},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: x\r\n\r\n", c.path))
			b.SetParallelism(4)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				conn, err := net.Dial("tcp", url[len("http://"):])
				if err != nil {
					b.Error(err)
					return
				}
				defer conn.Close()
				br := bufio.NewReaderSize(conn, 64<<10)
				for pb.Next() {
					if _, err := conn.Write(req); err != nil {
						b.Error(err)
						return
					}
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("%s: %d", c.path, resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
	// The same requests through the handler alone, with no network: the
	// CPU cost per request, far less noisy on a shared machine.
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	for _, c := range []struct{ name, path string }{
		{"handler/playlist/off", "/open/index.m3u8?token=good"},
		{"handler/playlist/on", "/guard/index.m3u8?token=good"},
		{"handler/segment/off", "/open/" + plain},
		{"handler/segment/on", "/guard/" + sess},
	} {
		b.Run(c.name, func(b *testing.B) {
			var req fasthttp.Request
			req.SetRequestURI(c.path)
			var ctx fasthttp.RequestCtx
			b.ReportAllocs()
			for b.Loop() {
				ctx.Init(&req, addr, nil)
				srv.handle(&ctx)
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("%s: %d", c.path, ctx.Response.StatusCode())
				}
			}
		})
	}
	if n := ab.count(); n != 1 {
		b.Fatalf("the backend was asked %d times, want once (warm sessions)", n)
	}
}
