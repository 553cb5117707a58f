package sdk

import (
	"fmt"
	"slices"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/edgedvr/edge/sdk/internal/pb"
)

// aliasMin is the smallest segment whose bytes an ingest plugin sends
// without copying them (sendEvent): below it a copy costs less than the
// wait for the transport.
const aliasMin = 64 << 10

// sendEvent is an event the ingest server sends with its segment's bytes
// aliased (marshalEvent): gRPC writes them from the plugin's own memory.
// Released is closed once gRPC no longer references them, which is after
// SendMsg has returned: the transport writes a message out on its own
// goroutine. The codec sets aliased when it took that path; otherwise the
// bytes were copied and nothing is to be waited for.
type sendEvent struct {
	ev       *pb.Event
	released releaseHook
	aliased  bool
}

func newSendEvent(ev *pb.Event) *sendEvent {
	return &sendEvent{ev: ev, released: make(releaseHook)}
}

// releaseHook is the mem.BufferPool of one aliased segment: gRPC puts the
// buffer back when its last reference is freed (mem.Buffer's reference
// counting: SendMsg holds one until it returns, the transport one from
// queueing the message until its last byte is written or the stream is
// cleaned up), and Put closes the channel.
type releaseHook chan struct{}

// Get is never called for a buffer made with mem.NewBuffer; it allocates
// so that the type is a whole BufferPool.
func (releaseHook) Get(n int) *[]byte {
	b := make([]byte, n)
	return &b
}

// Put is called once, when the aliased bytes are no longer referenced.
func (r releaseHook) Put(*[]byte) { close(r) }

// marshalEvent encodes an event that carries a segment of at least
// aliasMin bytes with the segment's bytes as a buffer of their own that
// points into the caller's Data, instead of copied into one message
// buffer, and returns ok false (nothing done) for any other event. The
// bytes are exactly those of the generated encoder (stats in field 3,
// then the segment in field 2 with its fields in order), in three
// buffers: what comes before the segment's bytes, the bytes, and the
// segment's fields after them.
func marshalEvent(s *sendEvent) (out mem.BufferSlice, ok bool, err error) {
	seg := s.ev.GetSegment()
	if seg == nil || len(seg.Data) < aliasMin || hasUnknown(s.ev, seg) || (s.ev.Stats != nil && len(s.ev.Stats.ProtoReflect().GetUnknown()) > 0) {
		return nil, false, nil
	}
	head := &pb.Segment{Start: seg.Start, Duration: seg.Duration, InitHash: seg.InitHash}
	tail := &pb.Segment{Seq: seg.Seq, DiscSeq: seg.DiscSeq}
	segSize := head.SizeVT() + protowire.SizeTag(4) + protowire.SizeBytes(len(seg.Data)) + tail.SizeVT()

	var b []byte
	if st := s.ev.Stats; st != nil {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(st.SizeVT()))
		if b, err = appendVT(b, st); err != nil {
			return nil, false, err
		}
	}
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(segSize))
	if b, err = appendVT(b, head); err != nil {
		return nil, false, err
	}
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(len(seg.Data)))
	n := len(b)
	if b, err = appendVT(b, tail); err != nil {
		return nil, false, err
	}
	data := seg.Data
	out = mem.BufferSlice{mem.SliceBuffer(b[:n:n]), mem.NewBuffer(&data, s.released)}
	if len(b) > n {
		out = append(out, mem.SliceBuffer(b[n:]))
	}
	s.aliased = true
	return out, true, nil
}

// appendVT appends m's encoding to b.
func appendVT(b []byte, m vtMessage) ([]byte, error) {
	n := m.SizeVT()
	b = slices.Grow(b, n)[:len(b)+n]
	if _, err := m.MarshalToSizedBufferVT(b[len(b)-n:]); err != nil {
		return nil, fmt.Errorf("plugin protocol: encode %T: %w", m, err)
	}
	return b, nil
}
