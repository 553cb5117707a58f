package proxy

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/media/m4f"
)

// FuzzM4FRequest drives the M4F handler with arbitrary request targets and
// chain headers, signed with the right key when sign is set (so that the
// fuzzer gets past the signature check) or with arbitrary signing headers
// otherwise. The handler must not panic, must answer one of the statuses of
// docs/m4f.md, and must never put the key in an answer.
func FuzzM4FRequest(f *testing.F) {
	const key = "fuzz-cluster-key"
	in := media.Init{Data: []byte("ftyp-moov init bytes")}
	in.Hash = media.InitHash(in.Data)
	l := cache.NewLive(4)
	ar := newTestArchive()
	for i := 0; i < 6; i++ {
		seg := media.Segment{Start: 1_700_000_000_000 + int64(i)*2000, Duration: 2000, InitHash: in.Hash, Data: bytes.Repeat([]byte{byte(i)}, 100)}
		l.Push(in, seg)
		ar.add(f, "", in, seg)
	}
	be := &testBackend{streams: map[string]*testStream{
		"cam":  {name: "cam", live: l, archive: ar},
		"idle": {name: "idle"},
	}}
	s := New(Config{Backend: be, ClusterKey: key, Node: "origin", M4FLiveWait: time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	now := time.Now()

	f.Add(true, m4f.StreamsPath, "edge1", "", "", "", "")
	f.Add(true, m4f.LivePath("cam"), "edge1", "", "", "", "")
	f.Add(true, m4f.RangesPath("cam", 0, 1_800_000_000_000), "edge1", "edge1", "4", "", "")
	f.Add(true, m4f.SegmentsPath("cam", 1_700_000_000_000, 1_700_000_010_000), "edge1", "", "", "", "")
	f.Add(true, m4f.SegmentPath("cam", 1_700_000_002_000), "edge1", "edge1,origin", "2", "", "")
	f.Add(true, m4f.InitPath("cam", in.Hash), "edge1", "", "64", "", "")
	f.Add(true, "/m4f/v1/ranges/cam?from=5&to=1", "edge1", "a,,b", "65", "", "")
	f.Add(false, m4f.StreamsPath, "edge1", "", "", "1700000000", "v1=00")
	f.Add(false, "/m4f/v1/live/idle", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, sign bool, uri, node, via, hops, unix, sig string) {
		var req fasthttp.Request
		req.Header.SetMethod("GET")
		req.SetRequestURI(uri)
		uri = string(req.Header.RequestURI())
		if !strings.HasPrefix(uri, "/m4f/") {
			return
		}
		set := func(name, value string) {
			if value != "" {
				req.Header.Set(name, value)
			}
		}
		set(cluster.HeaderVia, via)
		set(cluster.HeaderHops, hops)
		if sign {
			cluster.Signer{Node: node, Key: key}.Sign("GET", uri, string(req.Header.Peek(cluster.HeaderVia)), now).Apply(set)
		} else {
			set(cluster.HeaderNode, node)
			set(cluster.HeaderTime, unix)
			set(cluster.HeaderSignature, sig)
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, nil, nil)
		s.handle(&ctx)
		switch st := ctx.Response.StatusCode(); st {
		case 200, 206, 400, 403, 404, 416, 503, 508:
		default:
			t.Fatalf("%q: status %d", uri, st)
		}
		if !ctx.Response.IsBodyStream() && bytes.Contains(ctx.Response.Body(), []byte(key)) {
			t.Fatalf("%q: the key is in the answer", uri)
		}
		ctx.Response.CloseBodyStream()
	})
}
