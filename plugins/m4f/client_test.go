package m4f

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/media"
	mm "github.com/edgedvr/edge/media/m4f"
	"github.com/edgedvr/edge/sdk"
)

// archivePeer serves a small archive of stream "cam", and misbehaving
// streams: "loop" answers 508, "down" 503, "big" a segment over the cap,
// "bigchunked" the same without Content-Length, "corrupt" a checksum
// mismatch, "wronginit" init bytes of another hash.
func archivePeer(t *testing.T) (*peer, media.Init, []media.Segment) {
	in := testInit(7)
	segs := []media.Segment{testSegment(in, 0, 5000), testSegment(in, 1, 6000), testSegment(in, 2, 7000)}
	p := newPeer(t, nil)
	p.archive = func(w http.ResponseWriter, r *http.Request) {
		route, err := mm.ParsePath(r.URL.Path, sdk.CheckStreamName)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch route.Stream {
		case "loop":
			http.Error(w, "m4f: loop: this node is already in X-Edge-Via", http.StatusLoopDetected)
			return
		case "down":
			http.Error(w, "node shutting down", http.StatusServiceUnavailable)
			return
		case "bad":
			http.Error(w, "m4f: query needs from and to (UTC ms)", http.StatusBadRequest)
			return
		case "garbage":
			w.Write([]byte(`{"ranges": [{"from": "x"`))
			return
		}
		switch route.Endpoint {
		case mm.EndpointStreams:
			json.NewEncoder(w).Encode(mm.StreamsResponse{Node: "origin", Streams: []mm.StreamInfo{{Name: "cam", Live: true, DVR: true}}})
		case mm.EndpointRanges:
			from, to, err := mm.ParseWindow(r.URL.Query().Get)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			json.NewEncoder(w).Encode(mm.RangesResponse{Ranges: []mm.Range{{From: max(from, t0), To: min(to, t0+9000)}}})
		case mm.EndpointSegments:
			var out mm.SegmentsResponse
			for _, s := range segs {
				out.Segments = append(out.Segments, mm.SegmentInfo{Start: s.Start, Duration: s.Duration, Size: int64(len(s.Data)), Init: s.InitHash, Checksum: media.Checksum(s.Data)})
			}
			json.NewEncoder(w).Encode(out)
		case mm.EndpointSegment:
			data := make([]byte, 3000)
			sum := media.Checksum(data)
			switch route.Stream {
			case "big", "bigchunked":
				data = make([]byte, 2<<20)
				sum = media.Checksum(data)
			case "corrupt":
				sum = "deadbeef"
			case "nosum":
				sum = ""
			default:
				var found bool
				for _, s := range segs {
					if s.Start == route.Start {
						data, sum, found = s.Data, media.Checksum(s.Data), true
					}
				}
				if !found {
					http.Error(w, "m4f: no segment starts at "+strconv.FormatInt(route.Start, 10), http.StatusNotFound)
					return
				}
			}
			w.Header().Set(mm.HeaderDuration, "3000")
			w.Header().Set(mm.HeaderInit, in.Hash)
			if sum != "" {
				w.Header().Set(mm.HeaderChecksum, strings.ToUpper(sum)) // either case is fine
			}
			if route.Stream == "bigchunked" {
				w.(http.Flusher).Flush() // no Content-Length
			} else {
				w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			}
			w.Write(data)
		case mm.EndpointInit:
			if route.Hash != in.Hash && route.Stream != "wronginit" {
				http.Error(w, "m4f: unknown init", http.StatusNotFound)
				return
			}
			w.Write(in.Data)
		}
	}
	return p, in, segs
}

func TestClientArchive(t *testing.T) {
	p, in, segs := archivePeer(t)
	c := NewClient(p.addr(), cluster.Signer{Node: testNode, Key: testKey}, WithLimits(mm.Limits{MaxSegment: 1 << 20}))
	ctx := t.Context()

	streams, err := c.Streams(ctx)
	if err != nil || len(streams) != 1 || streams[0] != (mm.StreamInfo{Name: "cam", Live: true, DVR: true}) {
		t.Fatalf("Streams: %v, %v", streams, err)
	}
	ranges, err := c.Ranges(ctx, "cam", t0-5000, t0+5000, Chain{})
	if err != nil || len(ranges) != 1 || ranges[0] != (mm.Range{From: t0, To: t0 + 5000}) {
		t.Fatalf("Ranges: %v, %v", ranges, err)
	}
	infos, err := c.Segments(ctx, "cam", t0, t0+9000, Chain{})
	if err != nil || len(infos) != 3 || infos[1].Start != segs[1].Start || infos[1].Size != int64(len(segs[1].Data)) {
		t.Fatalf("Segments: %v, %v", infos, err)
	}
	for _, s := range segs {
		data, info, err := c.Segment(ctx, "cam", s.Start, Chain{})
		if err != nil || string(data) != string(s.Data) {
			t.Fatalf("Segment %d: %d bytes, %v", s.Start, len(data), err)
		}
		want := mm.SegmentInfo{Start: s.Start, Duration: 3000, Size: int64(len(s.Data)), Init: in.Hash, Checksum: media.Checksum(s.Data)}
		if info != want {
			t.Fatalf("Segment info %+v, want %+v", info, want)
		}
	}
	got, err := c.Init(ctx, "cam", in.Hash, Chain{})
	if err != nil || got.Hash != in.Hash || string(got.Data) != string(in.Data) {
		t.Fatalf("Init: %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	p, in, _ := archivePeer(t)
	good := NewClient(p.addr(), cluster.Signer{Node: testNode, Key: testKey}, WithLimits(mm.Limits{MaxSegment: 1 << 20}))
	const wrongKey = "not-the-cluster-key"
	wrong := NewClient(p.addr(), cluster.Signer{Node: testNode, Key: wrongKey})
	unsigned := NewClient(p.addr(), cluster.Signer{Node: testNode})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	deadAddr := ln.Addr().String()
	ln.Close()
	dead := NewClient(deadAddr, cluster.Signer{Node: testNode, Key: testKey})

	segment := func(c *Client, stream string, start int64) func(context.Context) error {
		return func(ctx context.Context) error { _, _, err := c.Segment(ctx, stream, start, Chain{}); return err }
	}
	ranges := func(c *Client, stream string) func(context.Context) error {
		return func(ctx context.Context) error { _, err := c.Ranges(ctx, stream, 1, 2, Chain{}); return err }
	}
	tests := []struct {
		name string
		call func(context.Context) error
		kind error
		msg  string
	}{
		{"wrong key", ranges(wrong, "cam"), ErrForbidden, `403 forbidden: cluster: bad signature from node "edge-client"`},
		{"unsigned", func(ctx context.Context) error { _, err := unsigned.Streams(ctx); return err }, ErrForbidden, "missing X-Edge-Signature header"},
		{"wrong key live", func(ctx context.Context) error { _, err := wrong.Live(ctx, "cam"); return err }, ErrForbidden, "bad signature"},
		{"unknown segment", segment(good, "cam", 5), sdk.ErrNotFound, "404 not found: m4f: no segment starts at 5"},
		{"unknown init", func(ctx context.Context) error {
			_, err := good.Init(ctx, "cam", "0123456789abcdef", Chain{})
			return err
		}, sdk.ErrNotFound, "404"},
		{"loop", ranges(good, "loop"), ErrLoop, "508 loop detected"},
		{"unavailable", ranges(good, "down"), ErrUnavailable, "503 service unavailable: node shutting down"},
		{"bad request", ranges(good, "bad"), ErrBadRequest, "400 bad request"},
		{"bad json", ranges(good, "garbage"), ErrUnavailable, "bad JSON answer"},
		{"no listener", ranges(dead, "cam"), ErrUnavailable, "connection refused"},
		{"segment over cap", segment(good, "big", 1), mm.ErrTooLarge, "segment of 2097152 bytes exceeds the 1048576-byte cap"},
		{"segment over cap, chunked", segment(good, "bigchunked", 1), mm.ErrTooLarge, "segment of 1048577 bytes exceeds the 1048576-byte cap"},
		{"segment checksum", segment(good, "corrupt", 1), mm.ErrChecksum, `X-Edge-Checksum says "deadbeef"`},
		{"segment without checksum", segment(good, "nosum", 1), ErrUnavailable, "no X-Edge-Checksum header"},
		{"init of another hash", func(ctx context.Context) error {
			_, err := good.Init(ctx, "wronginit", "0123456789abcdef", Chain{})
			return err
		}, mm.ErrChecksum, "init bytes hash to " + in.Hash},
		{"canceled", func(context.Context) error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := good.Streams(ctx)
			return err
		}, context.Canceled, "context canceled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(t.Context())
			if !errors.Is(err, tc.kind) {
				t.Fatalf("got %v, want %v", err, tc.kind)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.msg) || !strings.HasPrefix(msg, "m4f: ") || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one m4f: line with %q", msg, tc.msg)
			}
			if strings.Contains(msg, testKey) || strings.Contains(msg, wrongKey) {
				t.Fatalf("error %q holds a key", msg)
			}
		})
	}
}

// TestClientDefaultDeadline checks that a call without a deadline gets one.
func TestClientDefaultDeadline(t *testing.T) {
	p := newPeer(t, nil)
	p.archive = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"ranges":`))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the body never completes
	}
	c := NewClient(p.addr(), cluster.Signer{Node: testNode, Key: testKey}, WithTimeout(100*time.Millisecond))
	_, err := c.Ranges(context.Background(), "cam", 1, 2, Chain{})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
}

// TestClientSigning checks that the peer's Verifier accepts every call,
// with the query and the chain headers signed.
func TestClientSigning(t *testing.T) {
	p, in, segs := archivePeer(t)
	c := NewClient(p.addr(), cluster.Signer{Node: testNode, Key: testKey})
	ctx := t.Context()
	forwarded := Chain{Via: "edge0,edge-client", Hops: "2"}
	_, err1 := c.Streams(ctx)
	_, err2 := c.Ranges(ctx, "cam", t0, t0+1, Chain{})
	_, err3 := c.Segments(ctx, "cam", t0, t0+1, forwarded)
	_, _, err4 := c.Segment(ctx, "cam", segs[0].Start, forwarded)
	_, err5 := c.Init(ctx, "cam", in.Hash, Chain{})
	for i, err := range []error{err1, err2, err3, err4, err5} {
		if err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if n := p.refused.Load(); n != 0 {
		t.Fatalf("%d calls refused", n)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	want := []struct{ uri, via, hops string }{
		{mm.StreamsPath, "", ""},
		{fmt.Sprintf("/m4f/v1/ranges/cam?from=%d&to=%d", t0, t0+1), testNode, "4"},
		{fmt.Sprintf("/m4f/v1/segments/cam?from=%d&to=%d", t0, t0+1), "edge0,edge-client", "2"},
		{mm.SegmentPath("cam", segs[0].Start), "edge0,edge-client", "2"},
		{mm.InitPath("cam", in.Hash), testNode, "4"},
	}
	if len(p.requests) != len(want) {
		t.Fatalf("%d requests, want %d", len(p.requests), len(want))
	}
	for i, r := range p.requests {
		w := want[i]
		if r.RequestURI != w.uri || r.Header.Get(cluster.HeaderVia) != w.via || r.Header.Get(cluster.HeaderHops) != w.hops || r.Header.Get(cluster.HeaderNode) != testNode {
			t.Errorf("request %d: %s via %q hops %q, want %s via %q hops %q", i, r.RequestURI, r.Header.Get(cluster.HeaderVia), r.Header.Get(cluster.HeaderHops), w.uri, w.via, w.hops)
		}
		for name, vals := range r.Header {
			for _, v := range vals {
				if strings.Contains(v, testKey) {
					t.Fatalf("header %s holds the key", name)
				}
			}
		}
	}
	// A changed Via breaks the signature (it is covered).
	req, _ := http.NewRequest("GET", p.URL+mm.RangesPath("cam", 1, 2), nil)
	req.Header.Set(cluster.HeaderVia, "edge0")
	cluster.Signer{Node: testNode, Key: testKey}.SignRequest(req)
	req.Header.Set(cluster.HeaderVia, "edge1")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("altered Via answered %d, want 403", resp.StatusCode)
	}
}
