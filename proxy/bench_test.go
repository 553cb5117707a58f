package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// sliceArchive answers Segments from a prebuilt slice, as an index in
// memory would.
type sliceArchive struct{ segs []sdk.SegmentInfo }

func (a *sliceArchive) Ranges(context.Context, int64, int64) ([]sdk.Range, error) { return nil, nil }
func (a *sliceArchive) Segments(_ context.Context, from, to int64) ([]sdk.SegmentInfo, error) {
	return a.segs, nil
}
func (a *sliceArchive) ReadInit(context.Context, string) (media.Init, error) {
	return media.Init{}, sdk.ErrNotFound
}
func (a *sliceArchive) ReadSegment(context.Context, int64) ([]byte, error) {
	return nil, sdk.ErrNotFound
}

// BenchmarkArchivePlaylist24h builds the VOD playlist of 24 h of 3 s
// segments (28,800 entries): timeline merge and playlist text, with the
// entries from their pool and the text into a reused buffer, as
// serveArchive does.
func BenchmarkArchivePlaylist24h(b *testing.B) {
	const t0, n = 1_700_000_000_000, 28_800
	ar := &sliceArchive{segs: make([]sdk.SegmentInfo, n)}
	for i := range ar.segs {
		ar.segs[i] = sdk.SegmentInfo{Start: t0 + int64(i)*3000, Duration: 3000, Size: 1 << 20,
			InitHash: "0123456789abcdef", Path: "/var/lib/edge/cam/2023/11/14/22/1700000000000.m4s"}
	}
	ctx := context.Background()
	var body []byte // as fasthttp's pooled response body buffer (writePlaylist)
	b.ReportAllocs()
	for b.Loop() {
		pool := getEntries()
		es, err := timelineInto(*pool, ctx, ar, cache.LiveView{}, t0, t0+n*3000)
		if err != nil || len(es) != n {
			b.Fatal(len(es), err)
		}
		body = appendPlaylist(body[:0], playlistHead{kind: playlistVOD}, es)
		putEntries(pool, es)
	}
	b.SetBytes(int64(len(body)))
}

// BenchmarkServeHotSegment fetches a 1 MiB segment held by the memory
// cache over a real loopback connection (keep-alive, one request at a time).
func BenchmarkServeHotSegment(b *testing.B) {
	const start = 1_700_000_000_000
	mem := cache.NewMemory(64 << 20)
	data := make([]byte, 1<<20)
	mem.Add(cache.Key{Stream: "cam", Start: start}, data)
	be := &testBackend{streams: map[string]*testStream{"cam": {name: "cam", archive: newTestArchive()}}}
	_, url := startServer(b, Config{Backend: be, Memory: mem})
	conn, err := net.Dial("tcp", url[len("http://"):])
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	req := []byte(fmt.Sprintf("GET /cam/s-%d.m4s HTTP/1.1\r\nHost: x\r\n\r\n", start))
	br := bufio.NewReaderSize(conn, 64<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != int64(len(data)) || resp.StatusCode != 200 {
			b.Fatal(resp.StatusCode, n, err)
		}
	}
}

// BenchmarkLivePlaylistHandler runs the whole handler of a live playlist
// request (routing, stream lookup, viewer count, the shared playlist
// bytes, CORS headers, metrics) without the network: the per-request CPU
// bench/serve.sh compares with nginx, less the system calls.
func BenchmarkLivePlaylistHandler(b *testing.B) {
	in := media.Init{Hash: media.InitHash([]byte("init")), Data: []byte("init")}
	l := cache.NewLive(10)
	for i := range 8 {
		l.Push(in, media.Segment{Start: 1_700_000_000_000 + int64(i)*3000, Duration: 3000, InitHash: in.Hash, Data: []byte{byte(i)}})
	}
	be := &testBackend{streams: map[string]*testStream{"cam": {name: "cam", live: l}}}
	s := New(Config{Backend: be, Logger: slog.New(slog.DiscardHandler)})
	defer s.Shutdown(context.Background())
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/cam/index.m3u8")
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.Header.SetUserAgent("bench")
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		s.handle(&ctx)
		if ctx.Response.StatusCode() != 200 || len(ctx.Response.Body()) == 0 {
			b.Fatal(ctx.Response.StatusCode(), string(ctx.Response.Body()))
		}
	}
}
