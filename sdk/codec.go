package sdk

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the fallback codec
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/edgedvr/edge/internal/pagebuf"
	"github.com/edgedvr/edge/sdk/internal/pb"
)

// codec is the gRPC codec of the plugin protocol on both sides. The bytes
// on the wire are plain protobuf (a host or plugin built with gRPC's own
// codec reads them: the name stays "proto"); only the work differs:
//
//   - messages are encoded and decoded by vtprotobuf's generated code
//     instead of protobuf reflection;
//   - a write request (WriteSegmentRequest, WriteSegmentsRequest) is
//     encoded with each segment's bytes as a buffer of their own, not
//     copied into the message (marshalWrite);
//   - so is an ingest plugin's Event that carries a segment (sendEvent,
//     marshalEvent), and the plugin's emit returns once gRPC has let go
//     of the bytes;
//   - a message that carries segment bytes (Event, ReadSegmentResponse,
//     WriteSegmentRequest, WriteSegmentsRequest) is decoded with its bytes
//     fields aliasing the one buffer the message arrived in, instead of
//     each copied out of it: a segment is copied once on its way through,
//     not twice. Strings are copied, so that keeping a stream's name or an
//     init hash never keeps a segment's buffer alive;
//   - on the side of a store served with ServeConfig.ReuseSegmentData
//     (reuse), a write request's buffer is leased outside the Go heap and
//     given back when the call returns (releaseRequest, unmarshalLeased),
//     so storing a segment allocates nothing the size of the segment.
//
// Messages of other types (go-plugin's own services) go to gRPC's proto
// codec.
type codec struct {
	reuse bool
}

var fallbackCodec = encoding.GetCodecV2("proto")

// vtMessage is what vtprotobuf generates for every message of package pb.
type vtMessage interface {
	SizeVT() int
	MarshalToSizedBufferVT([]byte) (int, error)
	UnmarshalVT([]byte) error
	UnmarshalVTUnsafe([]byte) error
}

func (codec) Name() string { return "proto" }

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	switch m := v.(type) {
	case *pb.WriteSegmentRequest:
		if hasUnknown(m, m.GetSegment()) {
			break // the host never sends unknown fields; keep them anyway
		}
		var segs []*pb.Segment
		if m.GetSegment() != nil {
			segs = []*pb.Segment{m.GetSegment()}
		}
		return marshalWrite(m.GetStream(), segs)
	case *pb.WriteSegmentsRequest:
		if hasUnknown(m, m.GetSegments()...) {
			break
		}
		return marshalWrite(m.GetStream(), m.GetSegments())
	case *sendEvent:
		out, ok, err := marshalEvent(m)
		if err != nil || ok {
			return out, err
		}
		v = m.ev // copied into one buffer as any other message
	}
	m, ok := v.(vtMessage)
	if !ok {
		return fallbackCodec.Marshal(v)
	}
	size := m.SizeVT()
	if mem.IsBelowBufferPoolingThreshold(size) {
		b := make([]byte, size)
		if _, err := m.MarshalToSizedBufferVT(b); err != nil {
			return nil, fmt.Errorf("plugin protocol: encode %T: %w", v, err)
		}
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	if _, err := m.MarshalToSizedBufferVT(*buf); err != nil {
		pool.Put(buf)
		return nil, fmt.Errorf("plugin protocol: encode %T: %w", v, err)
	}
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *pb.WriteSegmentRequest, *pb.WriteSegmentsRequest, *pb.Event, *pb.ReadSegmentResponse:
		if c.reuse && isWriteRequest(m) {
			return unmarshalLeased(data, m.(vtMessage))
		}
		// The receiver keeps these bytes as long as it likes (the host's
		// live window, a store without reuse): the buffer is the garbage
		// collector's.
		if err := m.(vtMessage).UnmarshalVTUnsafe(data.Materialize()); err != nil {
			return decodeAgain(data, v)
		}
		ownStrings(m)
		return nil
	case vtMessage:
		buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
		defer buf.Free()
		if err := m.UnmarshalVT(buf.ReadOnlyData()); err != nil {
			return decodeAgain(data, v)
		}
		return nil
	}
	return fallbackCodec.Unmarshal(data, v)
}

// decodeAgain decodes with protobuf itself what the generated code
// refused. The two differ on a field sent with another wire type than
// its own: protobuf keeps it as an unknown field, the generated code
// fails. No encoder of this protocol does that, but a message protobuf
// accepts is accepted.
func decodeAgain(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("plugin protocol: decode %T: not a protobuf message", v)
	}
	proto.Reset(m)
	if err := fallbackCodec.Unmarshal(data, m); err != nil {
		return fmt.Errorf("plugin protocol: decode %T: %w", v, err)
	}
	return nil
}

func isWriteRequest(m any) bool {
	switch m.(type) {
	case *pb.WriteSegmentRequest, *pb.WriteSegmentsRequest:
		return true
	}
	return false
}

// leased holds the buffer of each write request being served, by the
// request, until releaseRequest gives it back.
var leased sync.Map

// unmarshalLeased decodes a write request into a leased buffer that its
// segments' bytes alias. The buffer is a memory mapping, not Go memory: a
// store with several segments in flight (streams that cut at the same
// moment) holds their bytes without the collector letting the heap grow
// to twice them, and the mapping's pages go back to the system once the
// call has returned (see leaseKeep).
func unmarshalLeased(data mem.BufferSlice, m vtMessage) error {
	buf := getLease(data.Len())
	b := buf.Bytes()[:data.Len()]
	data.CopyTo(b)
	if err := m.UnmarshalVTUnsafe(b); err != nil {
		putLease(buf)
		return decodeAgain(data, m)
	}
	ownStrings(m)
	leased.Store(m, buf)
	return nil
}

// releaseRequest gives req's leased buffer, if it has one, back.
func releaseRequest(req any) {
	if buf, ok := leased.LoadAndDelete(req); ok {
		putLease(buf.(*pagebuf.Buf))
	}
}

// leaseKeep is how many leased buffers keep their pages once their call
// has returned: one stream's writes then reuse memory already faulted in.
// The pages of the others go back to the system (the mapping stays, to be
// leased again), so a burst of many streams' writes leaves only these
// behind. A buffer is never unmapped soon after its call: a store may have
// handed the bytes to something that still reads them for a moment after
// the call returned (net/http may go on reading a request body after a
// cancelled round trip), and released pages read as zeros where unmapped
// ones would crash the plugin. Only a buffer left unused for leaseUnmapAge
// that is too small for a new request is unmapped.
//
// New buffers are mapped with their pages made at once (a fault per page
// costs about three times as much on the test VM), an eighth larger than
// their request, for the next segments' growth.
const (
	leaseKeep     = 2
	leaseUnmapAge = time.Minute
)

type lease struct {
	buf   *pagebuf.Buf
	warm  bool      // its pages are still there
	since time.Time // when it was given back
}

var leases struct {
	sync.Mutex
	idle []lease
}

func getLease(n int) *pagebuf.Buf {
	leases.Lock()
	pick := -1
	for i, l := range leases.idle {
		if l.buf.Cap() >= n && (pick < 0 || l.warm && !leases.idle[pick].warm) {
			pick = i
		}
	}
	if pick >= 0 {
		l := leases.idle[pick]
		leases.idle = append(leases.idle[:pick], leases.idle[pick+1:]...)
		leases.Unlock()
		if !l.warm {
			l.buf.Populate(0, n)
		}
		return l.buf
	}
	// None fits: unmap what has been too small for long enough to be
	// safe, and map a new one (outside the lock: it makes its pages).
	var old []*pagebuf.Buf
	kept := leases.idle[:0]
	for _, l := range leases.idle {
		if time.Since(l.since) > leaseUnmapAge {
			old = append(old, l.buf)
			continue
		}
		kept = append(kept, l)
	}
	clear(leases.idle[len(kept):])
	leases.idle = kept
	leases.Unlock()
	for _, b := range old {
		b.Unmap()
	}
	if b := pagebuf.Map(n+n/8, true); b != nil {
		return b
	}
	return pagebuf.Heap(n + n/8)
}

func putLease(b *pagebuf.Buf) {
	leases.Lock()
	defer leases.Unlock()
	warm, small := 0, -1
	for i, l := range leases.idle {
		if l.warm {
			warm++
			if small < 0 || l.buf.Cap() < leases.idle[small].buf.Cap() {
				small = i
			}
		}
	}
	if warm >= leaseKeep && leases.idle[small].buf.Cap() < b.Cap() {
		// Keep the larger one warm: segments grow into it.
		leases.idle[small].warm = false
		leases.idle[small].buf.Release(0, leases.idle[small].buf.Cap())
		warm--
	}
	l := lease{buf: b, warm: warm < leaseKeep, since: time.Now()}
	if !l.warm {
		b.Release(0, b.Cap())
	}
	leases.idle = append(leases.idle, l)
}

// releaseAfterCall is the plugin server's unary interceptor: a write
// request's pooled buffer goes back to the pool once the call returns.
func releaseAfterCall(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	defer releaseRequest(req)
	return handler(ctx, req)
}

// ownStrings gives the strings of a message decoded with aliasing their
// own memory, so that only bytes fields alias the message's buffer.
func ownStrings(m any) {
	switch m := m.(type) {
	case *pb.Event:
		if in := m.GetInit(); in != nil {
			in.Hash, in.Codecs = strings.Clone(in.Hash), strings.Clone(in.Codecs)
		}
		if s := m.GetSegment(); s != nil {
			s.InitHash = strings.Clone(s.InitHash)
		}
	case *pb.WriteSegmentRequest:
		m.Stream = strings.Clone(m.Stream)
		if s := m.GetSegment(); s != nil {
			s.InitHash = strings.Clone(s.InitHash)
		}
	case *pb.WriteSegmentsRequest:
		m.Stream = strings.Clone(m.Stream)
		for _, s := range m.GetSegments() {
			if s != nil {
				s.InitHash = strings.Clone(s.InitHash)
			}
		}
	}
}

// hasUnknown tells whether a write request or one of its segments holds
// fields unknown to this protocol version (marshalWrite would drop them).
func hasUnknown(m proto.Message, segs ...*pb.Segment) bool {
	if len(m.ProtoReflect().GetUnknown()) > 0 {
		return true
	}
	for _, s := range segs {
		if s != nil && len(s.ProtoReflect().GetUnknown()) > 0 {
			return true
		}
	}
	return false
}

// marshalWrite encodes a write request (the stream in field 1, each
// segment as a message in field 2) with each segment's bytes as a buffer
// of their own, pointing into the caller's Data, instead of copied into
// one message buffer. Only the host sends these, and it never changes a
// segment's bytes once it has them (they are the garbage collector's, not
// a reused buffer), so gRPC may go on writing them after a cancelled call
// has returned. Each segment's other fields come before its bytes
// (protobuf lets fields come in any order).
func marshalWrite(stream string, segs []*pb.Segment) (mem.BufferSlice, error) {
	var b []byte
	if stream != "" {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, stream)
	}
	var out mem.BufferSlice
	for _, seg := range segs {
		if seg == nil {
			seg = &pb.Segment{}
		}
		fields := &pb.Segment{Start: seg.Start, Duration: seg.Duration, InitHash: seg.InitHash, Seq: seg.Seq, DiscSeq: seg.DiscSeq}
		n := fields.SizeVT()
		size := n
		if len(seg.Data) > 0 {
			size += protowire.SizeTag(4) + protowire.SizeBytes(len(seg.Data))
		}
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(size))
		b = append(b, make([]byte, n)...)
		if _, err := fields.MarshalToSizedBufferVT(b[len(b)-n:]); err != nil {
			return nil, fmt.Errorf("plugin protocol: encode a segment: %w", err)
		}
		if len(seg.Data) > 0 {
			b = protowire.AppendTag(b, 4, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(len(seg.Data)))
			out = append(out, mem.SliceBuffer(b), mem.SliceBuffer(seg.Data))
			b = nil
		}
	}
	if len(b) > 0 {
		out = append(out, mem.SliceBuffer(b))
	}
	return out, nil
}
