package sdk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk/internal/pb"
)

// checkEventEncoding encodes ev as the ingest server sends it and checks
// the result against the generated encoder (the bytes the codec sent
// before segments were aliased) and against protobuf's own decoding. It
// returns the encoding (not freed) and whether it aliased the bytes.
func checkEventEncoding(t testing.TB, ev *pb.Event) (mem.BufferSlice, *sendEvent) {
	t.Helper()
	s := newSendEvent(ev)
	out, err := codec{}.Marshal(s)
	if err != nil {
		t.Fatalf("encode %v: %v", ev, err)
	}
	want, err := ev.MarshalVT()
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Materialize(); !bytes.Equal(got, want) {
		t.Fatalf("encoding of %v differs from the generated encoder's:\n got %x\nwant %x", ev, got, want)
	}
	back := &pb.Event{}
	if err := proto.Unmarshal(out.Materialize(), back); err != nil || !proto.Equal(back, ev) {
		t.Fatalf("protobuf decodes the encoding of %v as %v (%v)", ev, back, err)
	}
	return out, s
}

// TestEventEncodingAliases: an event whose segment has at least aliasMin
// bytes is encoded with the bytes in a buffer of their own pointing at the
// caller's memory, byte for byte what the copying encoder produced, and
// its release hook fires exactly when gRPC frees the last reference.
func TestEventEncodingAliases(t *testing.T) {
	data := segmentData(1, 2<<20)
	seg := func(n int, seq int64) *pb.Segment {
		return &pb.Segment{Start: 1_700_000_000_000, Duration: 2000, InitHash: "ab12cd", Data: data[:n], Seq: seq, DiscSeq: seq / 3}
	}
	tests := []struct {
		name  string
		ev    *pb.Event
		alias bool
	}{
		{"big segment with stats", &pb.Event{Kind: &pb.Event_Segment{Segment: seg(len(data), 7)}, Stats: &pb.Stats{Packets: 1 << 40, Segments: 3, Frames: 9}}, true},
		{"big segment no stats", &pb.Event{Kind: &pb.Event_Segment{Segment: seg(len(data), 7)}}, true},
		{"unnumbered segment (no tail)", &pb.Event{Kind: &pb.Event_Segment{Segment: seg(aliasMin, 0)}, Stats: &pb.Stats{}}, true},
		{"bare segment", &pb.Event{Kind: &pb.Event_Segment{Segment: &pb.Segment{Data: data[:aliasMin+1]}}}, true},
		{"small segment is copied", &pb.Event{Kind: &pb.Event_Segment{Segment: seg(aliasMin-1, 7)}, Stats: &pb.Stats{Segments: 1}}, false},
		{"empty segment", &pb.Event{Kind: &pb.Event_Segment{Segment: &pb.Segment{Start: 1}}}, false},
		{"init is copied", &pb.Event{Kind: &pb.Event_Init{Init: &pb.Init{Hash: "ab", Data: data[:aliasMin*2]}}}, false},
		{"stats only", &pb.Event{Stats: &pb.Stats{GarbageBytes: 5}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, s := checkEventEncoding(t, tt.ev)
			if s.aliased != tt.alias {
				t.Fatalf("aliased = %v, want %v", s.aliased, tt.alias)
			}
			if !tt.alias {
				out.Free()
				return
			}
			d := tt.ev.GetSegment().Data
			if len(out) < 2 || out[1].Len() != len(d) || &out[1].ReadOnlyData()[0] != &d[0] {
				t.Fatalf("the segment's bytes are not a buffer pointing at the caller's memory")
			}
			// gRPC's transport takes a reference of its own while it writes.
			out.Ref()
			out.Free()
			select {
			case <-s.released:
				t.Fatalf("released while the transport still holds a reference")
			default:
			}
			out.Free()
			select {
			case <-s.released:
			default:
				t.Fatalf("not released once every reference was freed")
			}
		})
	}
}

// FuzzEventEncode checks the aliasing encoder against the generated one
// and protobuf on arbitrary events: raw is decoded by protobuf as an
// Event (unknown fields and all), its segment, if any, is padded to pad
// bytes past aliasMin, and the ingest server's encoding of it must be the
// generated encoder's bytes, which protobuf decodes to the same event.
func FuzzEventEncode(f *testing.F) {
	for _, m := range []*pb.Event{
		{Kind: &pb.Event_Segment{Segment: &pb.Segment{Start: 1_700_000_000_000, Duration: 2000, InitHash: "ab12", Data: []byte("moofmdat"), Seq: 7, DiscSeq: 1}}, Stats: &pb.Stats{Packets: 3}},
		{Kind: &pb.Event_Segment{Segment: &pb.Segment{Start: -5}}},
		{Kind: &pb.Event_Init{Init: &pb.Init{Hash: "ab12", Data: []byte("ftyp")}}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(0))
	}
	f.Add([]byte{0x12, 0x02, 0x28, 0x01, 0x1a, 0x00, 0x9a, 0x05, 0x01, 0x07}, uint16(300)) // a segment, stats and an unknown field
	f.Fuzz(func(t *testing.T, raw []byte, pad uint16) {
		ev := &pb.Event{}
		if err := proto.Unmarshal(raw, ev); err != nil {
			return
		}
		if seg := ev.GetSegment(); seg != nil {
			seg.Data = append(bytes.Clone(seg.Data), bytes.Repeat([]byte{byte(pad)}, aliasMin+int(pad))...)
		}
		out, s := checkEventEncoding(t, ev)
		out.Free()
		if s.aliased {
			<-s.released // fired by the Free above; a hang fails the fuzzer
		}
	})
}

// reusingIngest emits n segments of varying sizes from one buffer that it
// overwrites as soon as emit returns, as the udp plugin's segmenter
// (ReuseData) does. started and returned count emit calls.
type reusingIngest struct {
	n                 int
	started, returned atomic.Int64
	done              chan error // Capture's result
}

// reusedSegment is segment i's content, as the test computes it.
func reusedSegment(i int) []byte {
	return segmentData(i, 1<<20+i*4099)
}

func (r *reusingIngest) Capture(ctx context.Context, req CaptureRequest, emit func(Event) error) (err error) {
	defer func() { r.done <- err }()
	buf := make([]byte, 0, 2<<20)
	in := testInit()
	if err := emit(Event{Init: &in}); err != nil {
		return err
	}
	for i := range r.n {
		buf = append(buf[:0], reusedSegment(i)...)
		r.started.Add(1)
		err := emit(Event{Segment: &media.Segment{Start: int64(i), Duration: 2000, InitHash: in.Hash, Data: buf, Seq: int64(i + 1)}, Stats: media.Stats{Segments: uint64(i + 1)}})
		r.returned.Add(1)
		if err != nil {
			return err
		}
		for j := range buf { // what a late read of the old segment would see
			buf[j] = 0xee
		}
	}
	<-ctx.Done()
	return nil
}

// serveIngest serves impl over real gRPC on loopback with the server the
// SDK builds and returns a connection to it whose calls use hostCodec.
func serveIngest(t *testing.T, impl Ingest, hostCodec encoding.CodecV2) *grpc.ClientConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newGRPCServer(codec{})(nil)
	pb.RegisterIngestServer(srv, &ingestServer{impl: impl})
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	opts := append(append([]grpc.DialOption{}, grpcDialOptions...),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(hostCodec)),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	conn, err := grpc.NewClient(ln.Addr().String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestEmitReuseOverGRPC: a plugin that overwrites its segment buffer as
// soon as emit returns still delivers each segment's exact bytes, to a
// host decoding with this SDK's codec and to one decoding with gRPC's own
// proto codec (an older SDK or another implementation).
func TestEmitReuseOverGRPC(t *testing.T) {
	const n = 40
	want := make([][32]byte, n)
	for i := range n {
		want[i] = sha256.Sum256(reusedSegment(i))
	}
	for _, host := range []struct {
		name  string
		codec encoding.CodecV2
	}{{"sdk codec", codec{}}, {"grpc proto codec", fallbackCodec}} {
		t.Run(host.name, func(t *testing.T) {
			impl := &reusingIngest{n: n, done: make(chan error, 1)}
			client := &IngestClient{rpc: pb.NewIngestClient(serveIngest(t, impl, host.codec))}
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			var got [][32]byte
			err := client.Capture(ctx, CaptureRequest{Stream: "cam1", URL: "test://reuse"}, func(e Event) error {
				if e.Segment == nil {
					return nil
				}
				if e.Segment.Start != int64(len(got)) || e.Segment.Seq != int64(len(got)+1) || e.Stats.Segments != uint64(len(got)+1) {
					t.Errorf("segment %d arrived as start %d seq %d stats %+v", len(got), e.Segment.Start, e.Segment.Seq, e.Stats)
				}
				got = append(got, sha256.Sum256(e.Segment.Data))
				if len(got) == n {
					cancel()
				}
				return nil
			})
			if err != nil {
				t.Fatalf("Capture: %v", err)
			}
			if len(got) != n {
				t.Fatalf("got %d segments, want %d", len(got), n)
			}
			for i := range n {
				if got[i] != want[i] {
					t.Fatalf("segment %d: the host got other bytes than the plugin emitted", i)
				}
			}
		})
	}
}

// TestEmitHostGoneMidSend: a host that stops reading and then goes away
// (its call cancelled, or its connection closed) while a segment waits in
// gRPC's queues: emit returns an error instead of waiting for a release
// that may never come, and the plugin's Capture ends.
func TestEmitHostGoneMidSend(t *testing.T) {
	for _, tt := range []struct {
		name   string
		goAway func(cancel context.CancelFunc, conn *grpc.ClientConn)
	}{
		{"call cancelled", func(cancel context.CancelFunc, _ *grpc.ClientConn) { cancel() }},
		{"connection closed", func(_ context.CancelFunc, conn *grpc.ClientConn) { conn.Close() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			impl := &reusingIngest{n: 1000, done: make(chan error, 1)}
			conn := serveIngest(t, impl, codec{})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			stream, err := pb.NewIngestClient(conn).Capture(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&pb.CaptureControl{Kind: &pb.CaptureControl_Start{Start: &pb.CaptureRequest{Stream: "cam1", Url: "test://reuse"}}}); err != nil {
				t.Fatal(err)
			}
			// The host reads nothing: the stream's HTTP/2 window (4 MiB)
			// takes segments 0 to 2 (3 MiB and a little) and part of
			// segment 3, whose emit then waits with the rest queued.
			waitFor(t, "an emit blocked with the host not reading", 30*time.Second, func() bool {
				return impl.returned.Load() == 3 && impl.started.Load() == 4
			})
			tt.goAway(cancel, conn)
			var capErr error
			waitFor(t, "emit to return after the host went away", 30*time.Second, func() bool {
				select {
				case capErr = <-impl.done:
					return true
				default:
					return false
				}
			})
			if capErr == nil || !strings.Contains(capErr.Error(), "host gone") {
				t.Fatalf("Capture returned %v, want emit's host-gone error", capErr)
			}
			if impl.started.Load() != impl.returned.Load() {
				t.Fatalf("an emit is still running")
			}
		})
	}
}

// BenchmarkCodecMarshalEvent encodes a 2 MiB segment event: copied into
// one buffer as before (the generated encoder into a pooled buffer) and
// aliased (what the ingest server sends now), freed after each as the
// transport does.
func BenchmarkCodecMarshalEvent(b *testing.B) {
	ev := &pb.Event{Kind: &pb.Event_Segment{Segment: &pb.Segment{Start: 1, Duration: 2000, InitHash: "ab12", Data: bytes.Repeat([]byte{7}, 2<<20), Seq: 9}}, Stats: &pb.Stats{Packets: 1000}}
	for _, c := range []struct {
		name string
		msg  func() any
	}{{"copied", func() any { return ev }}, {"aliased", func() any { return newSendEvent(ev) }}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(ev.SizeVT()))
			b.ReportAllocs()
			for b.Loop() {
				out, err := codec{}.Marshal(c.msg())
				if err != nil {
					b.Fatal(err)
				}
				out.Free()
			}
		})
	}
}
