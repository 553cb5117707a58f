package sdk

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk/internal/pb"
)

// split cuts b into a BufferSlice of pieces of at most n bytes, as gRPC
// hands over a message that arrived in several HTTP/2 frames.
func split(b []byte, n int) mem.BufferSlice {
	var out mem.BufferSlice
	for len(b) > 0 {
		k := min(n, len(b))
		out = append(out, mem.SliceBuffer(bytes.Clone(b[:k])))
		b = b[k:]
	}
	return out
}

// codecMessages are the message types the codec decodes specially, and
// one that it decodes the ordinary way.
var codecMessages = []func() proto.Message{
	func() proto.Message { return &pb.Event{} },
	func() proto.Message { return &pb.WriteSegmentRequest{} },
	func() proto.Message { return &pb.WriteSegmentsRequest{} },
	func() proto.Message { return &pb.ReadSegmentResponse{} },
	func() proto.Message { return &pb.SegmentsResponse{} },
}

// FuzzCodecDecode checks the codec's decoding against protobuf's own on
// arbitrary bytes, for each message type, with and without buffer reuse:
// whatever protobuf decodes, the codec decodes to an equal message
// (bytes and strings alike), and nothing panics. (On a string that is
// not UTF-8, protobuf fails where the codec, like vtprotobuf, does not;
// names are checked by the SDK and the host anyway.)
func FuzzCodecDecode(f *testing.F) {
	seg := &pb.Segment{Start: 1_700_000_000_000, Duration: 2000, InitHash: "ab12", Data: []byte("moofmdat"), Seq: 7}
	for _, m := range []proto.Message{
		&pb.Event{Kind: &pb.Event_Segment{Segment: seg}, Stats: &pb.Stats{Packets: 3}},
		&pb.Event{Kind: &pb.Event_Init{Init: &pb.Init{Hash: "ab12", Data: []byte("ftyp"), Codecs: "avc1.64001f", Width: 1280}}},
		&pb.WriteSegmentRequest{Stream: "cam1", Segment: seg},
		&pb.WriteSegmentsRequest{Stream: "cam1", Segments: []*pb.Segment{seg, seg}},
		&pb.ReadSegmentResponse{Data: []byte("moofmdat")},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		for _, reuse := range []bool{false, true} {
			c := codec{reuse: reuse}
			for _, mk := range codecMessages {
				want := mk()
				werr := proto.Unmarshal(b, want)
				got := mk()
				gerr := c.Unmarshal(split(b, int(chunk)+1), got)
				releaseRequest(got)
				if werr == nil && gerr != nil {
					t.Fatalf("%T: protobuf decodes %x, the codec fails: %v", want, b, gerr)
				}
				if werr == nil && !proto.Equal(want, got) {
					t.Fatalf("%T: decoding %x\nprotobuf: %v\ncodec:    %v", want, b, want, got)
				}
				if werr != nil {
					continue
				}
				// And back: what the codec encodes, protobuf decodes to the
				// same message.
				bs, err := c.Marshal(want)
				if err != nil {
					t.Fatalf("%T: encode %v: %v", want, want, err)
				}
				again := mk()
				if err := proto.Unmarshal(bs.Materialize(), again); err != nil || !proto.Equal(want, again) {
					t.Fatalf("%T: encoded %v, protobuf decodes %v (%v)", want, want, again, err)
				}
			}
		}
	})
}

// TestCodecEncode checks that what the codec encodes, protobuf decodes to
// the same message, small and large (pooled) alike.
func TestCodecEncode(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, m := range []proto.Message{
		&pb.Event{Kind: &pb.Event_Segment{Segment: &pb.Segment{Start: 1, Duration: 2, InitHash: "ab", Data: big}}, Stats: &pb.Stats{Segments: 1}},
		&pb.WriteSegmentsRequest{Stream: "cam1", Segments: []*pb.Segment{{Start: 1, Data: big[:10]}, {Start: 2, Data: big}, {Start: 3, InitHash: "cd"}}},
		&pb.WriteSegmentRequest{Stream: "cam1", Segment: &pb.Segment{Start: 1, Duration: 2, InitHash: "ab", Data: big, Seq: 9, DiscSeq: 1}},
		&pb.WriteSegmentRequest{Stream: "cam1"},
		&pb.WriteSegmentRequest{Segment: &pb.Segment{}},
		&pb.SegmentsResponse{Segments: []*pb.SegmentInfo{{Start: 5, Checksum: "x"}}},
		&pb.Empty{},
	} {
		bs, err := codec{}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got := m.ProtoReflect().New().Interface()
		if err := proto.Unmarshal(bs.Materialize(), got); err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		bs.Free()
		if !proto.Equal(m, got) {
			t.Errorf("%T: encoded and decoded, it differs", m)
		}
	}
}

// TestCodecReuseKeepsStrings: with reuse, a write request's buffer goes
// back to the pool after the call and is written over by the next
// request; the strings of the first (which a store may keep) must not
// change with it.
func TestCodecReuseKeepsStrings(t *testing.T) {
	c := codec{reuse: true}
	enc := func(stream, hash string, fill byte) mem.BufferSlice {
		b, err := proto.Marshal(&pb.WriteSegmentRequest{Stream: stream, Segment: &pb.Segment{Start: 1, Duration: 2, InitHash: hash, Data: bytes.Repeat([]byte{fill}, 64<<10)}})
		if err != nil {
			t.Fatal(err)
		}
		return split(b, 16<<10)
	}
	var kept []string
	for i := range 50 {
		req := &pb.WriteSegmentRequest{}
		if err := c.Unmarshal(enc("stream-aaaa", "aaaaaaaa", byte(i)), req); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, req.Stream, req.Segment.InitHash)
		releaseRequest(req)
		req = &pb.WriteSegmentRequest{}
		if err := c.Unmarshal(enc("stream-zzzz", "zzzzzzzz", 0xff), req); err != nil {
			t.Fatal(err)
		}
		releaseRequest(req)
	}
	for i := 0; i < len(kept); i += 2 {
		if kept[i] != "stream-aaaa" || kept[i+1] != "aaaaaaaa" {
			t.Fatalf("kept strings changed after their buffer was reused: %q %q", kept[i], kept[i+1])
		}
	}
}

// copyingStore keeps a copy of each segment's bytes written to it, as a
// store served with ReuseSegmentData must.
type copyingStore struct {
	Store
	mu   sync.Mutex
	segs map[int64][]byte
}

func (s *copyingStore) WriteSegment(_ context.Context, _ string, seg media.Segment) (SegmentInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.segs[seg.Start] = bytes.Clone(seg.Data)
	return SegmentInfo{Start: seg.Start, Duration: seg.Duration, Size: int64(len(seg.Data)), InitHash: seg.InitHash, Checksum: media.Checksum(seg.Data)}, nil
}

func (s *copyingStore) WriteSegments(ctx context.Context, stream string, segs []media.Segment) ([]SegmentResult, error) {
	out := make([]SegmentResult, len(segs))
	for i, seg := range segs {
		out[i].Info, out[i].Err = s.WriteSegment(ctx, stream, seg)
	}
	return out, nil
}

// TestReuseSegmentDataOverGRPC serves a store with ReuseSegmentData over
// real gRPC on loopback, with the server and client the SDK builds, and
// writes segments of different bytes from several goroutines, one at a
// time and in batches: the store sees each segment's own bytes, and once
// the calls are over no request still holds a pooled buffer (the server's
// interceptor gave them all back).
func TestReuseSegmentDataOverGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newGRPCServer(codec{reuse: true})(nil)
	store := &copyingStore{segs: map[int64][]byte{}}
	pb.RegisterStoreServer(srv, &storeServer{impl: store})
	go srv.Serve(ln)
	defer srv.Stop()
	conn, err := grpc.NewClient(ln.Addr().String(), append(grpcDialOptions, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := &StoreClient{rpc: pb.NewStoreClient(conn)}

	data := func(start int64) []byte {
		return bytes.Repeat([]byte{byte(start), byte(start >> 8)}, 100_000+int(start))
	}
	ctx := t.Context()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 20 {
				start := int64(g*1000 + i*2)
				if _, err := client.WriteSegment(ctx, "cam1", media.Segment{Start: start, Duration: 1, InitHash: "ab", Data: data(start)}); err != nil {
					t.Error(err)
					return
				}
				batch := []media.Segment{{Start: start + 1, Duration: 1, InitHash: "ab", Data: data(start + 1)}, {Start: start + 500, Duration: 1, InitHash: "ab", Data: data(start + 500)}}
				if _, err := client.WriteSegments(ctx, "cam1", batch); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(store.segs) != 4*20*3 {
		t.Fatalf("store got %d segments, want %d", len(store.segs), 4*20*3)
	}
	for start, got := range store.segs {
		if !bytes.Equal(got, data(start)) {
			t.Fatalf("segment %d: the store got other bytes", start)
		}
	}
	n := 0
	leased.Range(func(_, _ any) bool { n++; return true })
	if n != 0 {
		t.Fatalf("%d requests still hold a pooled buffer after their calls returned", n)
	}
}

// BenchmarkCodecUnmarshalWrite decodes a 1 MiB WriteSegmentRequest that
// arrived in 16 KiB frames: with gRPC's proto codec, with this codec, and
// with this codec reusing buffers (released after each, as the server does).
func BenchmarkCodecUnmarshalWrite(b *testing.B) {
	raw, err := proto.Marshal(&pb.WriteSegmentRequest{Stream: "cam1", Segment: &pb.Segment{Start: 1, Duration: 2000, InitHash: "ab12", Data: bytes.Repeat([]byte{7}, 1<<20)}})
	if err != nil {
		b.Fatal(err)
	}
	data := split(raw, 16<<10)
	for _, c := range []struct {
		name  string
		codec interface {
			Unmarshal(mem.BufferSlice, any) error
		}
	}{{"grpc-proto", fallbackCodec}, {"vtproto", codec{}}, {"vtproto-reuse", codec{reuse: true}}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				req := &pb.WriteSegmentRequest{}
				if err := c.codec.Unmarshal(data, req); err != nil {
					b.Fatal(err)
				}
				releaseRequest(req)
			}
		})
	}
}

// BenchmarkCodecMarshalWrite encodes a 1 MiB WriteSegmentRequest, as the
// host sends each recorded segment to its store: with gRPC's proto codec
// and with this codec (the segment's bytes not copied).
func BenchmarkCodecMarshalWrite(b *testing.B) {
	req := &pb.WriteSegmentRequest{Stream: "cam1", Segment: &pb.Segment{Start: 1, Duration: 2000, InitHash: "ab12", Data: bytes.Repeat([]byte{7}, 1<<20)}}
	for _, c := range []struct {
		name  string
		codec interface {
			Marshal(any) (mem.BufferSlice, error)
		}
	}{{"grpc-proto", fallbackCodec}, {"vtproto", codec{}}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(1 << 20)
			b.ReportAllocs()
			for b.Loop() {
				bs, err := c.codec.Marshal(req)
				if err != nil {
					b.Fatal(err)
				}
				bs.Free()
			}
		})
	}
}

// marshalWrite and marshalEvent list the fields of Segment, Event,
// WriteSegmentRequest and WriteSegmentsRequest by hand (to put a
// segment's bytes in a buffer of their own): a field added to one of them
// must be added there too, or it would be dropped on the wire. This fails
// until the field lists below, and the encoders, are updated.
func TestAliasingEncodersKnowEveryField(t *testing.T) {
	for _, tc := range []struct {
		m    proto.Message
		want string
	}{
		{&pb.Segment{}, "1:start 2:duration 3:init_hash 4:data 5:seq 6:disc_seq"},
		{&pb.Event{}, "1:init 2:segment 3:stats"},
		{&pb.WriteSegmentRequest{}, "1:stream 2:segment"},
		{&pb.WriteSegmentsRequest{}, "1:stream 2:segments"},
	} {
		fs := tc.m.ProtoReflect().Descriptor().Fields()
		var got []string
		for i := range fs.Len() {
			f := fs.Get(i)
			got = append(got, fmt.Sprintf("%d:%s", f.Number(), f.Name()))
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%T has fields %q; the aliasing encoders (codec.go marshalWrite, codec_event.go marshalEvent) know %q",
				tc.m, g, tc.want)
		}
	}
}
