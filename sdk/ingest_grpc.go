package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk/internal/pb"
)

// IngestClient is the host's view of an ingest plugin process. It
// implements Ingest; get one from a Supervisor.
type IngestClient struct {
	rpc           pb.IngestClient
	onUnavailable func()
}

var _ Ingest = (*IngestClient)(nil)

// stopGrace is how long a stopped Capture may take to flush its open
// segment before the call is cut.
const stopGrace = 3 * time.Second

// Capture runs the plugin's Capture and calls emit for each event, in order.
// When ctx is done it asks the plugin to stop gracefully: the plugin flushes
// its open segment, which is still passed to emit, and Capture returns nil
// (after at most stopGrace). It returns the error emit returned, or the
// plugin's error. Capture has no default deadline: it lasts until ctx ends.
// An error wrapping ErrUnavailable means the plugin process went away; call
// Capture again on the Supervisor's new client.
func (c *IngestClient) Capture(ctx context.Context, req CaptureRequest, emit func(Event) error) error {
	// The call outlives ctx by up to stopGrace so the flushed segment arrives.
	callCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stream, err := c.rpc.Capture(callCtx)
	if err == nil {
		err = stream.Send(&pb.CaptureControl{Kind: &pb.CaptureControl_Start{Start: &pb.CaptureRequest{
			Stream:            req.Stream,
			Url:               req.URL,
			SegmentDurationNs: int64(req.SegmentDuration),
			Node:              req.Node,
			Key:               req.Key,
		}}})
	}
	if err != nil {
		return c.fail(ctx, "capture "+req.Stream, err)
	}
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-finished:
			return
		case <-ctx.Done():
		}
		_ = stream.Send(&pb.CaptureControl{Kind: &pb.CaptureControl_Stop{Stop: &pb.StopCapture{}}})
		_ = stream.CloseSend()
		select {
		case <-finished:
		case <-time.After(stopGrace):
			cancel()
		}
	}()
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return c.fail(ctx, "capture "+req.Stream, err)
		}
		e, err := eventFromPB(ev)
		if err != nil {
			return fmt.Errorf("capture %s: %w", req.Stream, err)
		}
		if err := emit(e); err != nil {
			return err
		}
	}
}

// fail maps a Capture error; a call ended by ctx is not an error.
func (c *IngestClient) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	err, unavailable := fromStatus(ctx, "ingest plugin: "+op, err)
	if unavailable && c.onUnavailable != nil {
		c.onUnavailable()
	}
	return err
}

// ingestServer serves an Ingest implementation inside the plugin process.
type ingestServer struct {
	pb.UnimplementedIngestServer
	impl Ingest
}

func (s *ingestServer) Capture(stream pb.Ingest_CaptureServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	req := first.GetStart()
	if req == nil {
		return toStatus(errors.New("capture: the first message must be start"))
	}
	// The implementation's ctx ends on the host's stop (or its closing its
	// side); the stream stays open so the flushed segment can still be sent.
	ctx, stop := context.WithCancel(stream.Context())
	defer stop()
	go func() {
		defer stop()
		for {
			msg, err := stream.Recv()
			if err != nil || msg.GetStop() != nil {
				return
			}
		}
	}()
	var (
		mu       sync.Mutex
		misuse   error // an event the plugin must not send; ends the call
		hostGone error
	)
	emit := func(e Event) error {
		mu.Lock()
		defer mu.Unlock()
		if misuse != nil {
			return misuse
		}
		if hostGone != nil {
			return hostGone
		}
		ev, err := eventToPB(e)
		if err != nil {
			misuse = fmt.Errorf("capture %s: %w", req.Stream, err)
			return misuse
		}
		if err := send(stream, ev); err != nil {
			hostGone = fmt.Errorf("capture %s: host gone: %w", req.Stream, err)
			return hostGone
		}
		return nil
	}
	err = s.impl.Capture(ctx, CaptureRequest{
		Stream:          req.Stream,
		URL:             req.Url,
		SegmentDuration: time.Duration(req.SegmentDurationNs),
		Node:            req.Node,
		Key:             req.Key,
	}, emit)
	mu.Lock()
	defer mu.Unlock()
	if misuse != nil {
		return toStatus(misuse)
	}
	if ctx.Err() != nil {
		return nil
	}
	return toStatus(err)
}

// send sends ev and returns once gRPC no longer references its bytes, so
// that the plugin may reuse them as soon as emit returns
// (SegmenterConfig.ReuseData). A large segment is not copied into the
// message (marshalEvent): the transport writes it from the plugin's
// memory after SendMsg has returned, and send waits for the release of
// that buffer, or for the end of the stream.
//
// gRPC frees the buffer on every path that ends its use (grpc-go 1.85:
// SendMsg frees its reference when it returns, on errors too; the
// transport's reference is freed when the message's last byte is copied
// into the connection's write buffer, or when the stream is cleaned up
// with the message queued or half-written). The one path where it is not
// freed is a connection torn down while the message sits in its stream's
// queue (the loopy writer exits without emptying the queues of its
// streams); the stream's context ends then. Returning on that end and
// letting the plugin overwrite the bytes is safe, because the context of
// a server stream ends only after nothing more of the stream can reach
// the host: the connection is closed first (http2Server.Close closes the
// socket before it cancels the streams), or the host reset the stream
// (it discards whatever the transport still writes of it), or the
// handler returned (emit is not called after Capture returns). A
// deadline would end it too, but the host sets none on Capture.
func send(stream pb.Ingest_CaptureServer, ev *pb.Event) error {
	out := newSendEvent(ev)
	err := stream.SendMsg(out)
	if !out.aliased {
		return err
	}
	ctx := stream.Context()
	select {
	case <-out.released:
		return err
	case <-ctx.Done():
	}
	select {
	case <-out.released: // both: the message was written out
		return err
	default:
	}
	if err == nil {
		err = context.Cause(ctx)
	}
	return err
}

var errBadEvent = errors.New("event must carry at most one of Init and Segment")

// eventToPB converts an Event without copying its bytes.
func eventToPB(e Event) (*pb.Event, error) {
	ev := &pb.Event{Stats: statsToPB(e.Stats)}
	switch {
	case e.Init != nil && e.Segment == nil:
		if err := checkSize("init segment", len(e.Init.Data)); err != nil {
			return nil, err
		}
		ev.Kind = &pb.Event_Init{Init: initToPB(e.Init)}
	case e.Segment != nil && e.Init == nil:
		if err := checkSize("media segment", len(e.Segment.Data)); err != nil {
			return nil, err
		}
		ev.Kind = &pb.Event_Segment{Segment: segmentToPB(e.Segment)}
	case e.Segment == nil && e.Init == nil:
		// A stats-only update: counters moved with nothing to deliver.
	default:
		return nil, errBadEvent
	}
	return ev, nil
}

// eventFromPB converts an event without copying its bytes.
func eventFromPB(ev *pb.Event) (Event, error) {
	e := Event{Stats: statsFromPB(ev.GetStats())}
	switch k := ev.Kind.(type) {
	case *pb.Event_Init:
		if err := checkSize("init segment", len(k.Init.GetData())); err != nil {
			return Event{}, err
		}
		in := initFromPB(k.Init)
		e.Init = &in
	case *pb.Event_Segment:
		if err := checkSize("media segment", len(k.Segment.GetData())); err != nil {
			return Event{}, err
		}
		seg := segmentFromPB(k.Segment)
		e.Segment = &seg
	case nil:
		// A stats-only update.
	default:
		return Event{}, errBadEvent
	}
	return e, nil
}

func initToPB(in *media.Init) *pb.Init {
	return &pb.Init{Hash: in.Hash, Data: in.Data, Codecs: in.Codecs, Width: int32(in.Width), Height: int32(in.Height)}
}

func initFromPB(in *pb.Init) media.Init {
	return media.Init{Hash: in.GetHash(), Data: in.GetData(), Codecs: in.GetCodecs(), Width: int(in.GetWidth()), Height: int(in.GetHeight())}
}

func segmentToPB(s *media.Segment) *pb.Segment {
	return &pb.Segment{Start: s.Start, Duration: s.Duration, InitHash: s.InitHash, Data: s.Data, Seq: s.Seq, DiscSeq: s.DiscSeq}
}

func segmentFromPB(s *pb.Segment) media.Segment {
	return media.Segment{Start: s.GetStart(), Duration: s.GetDuration(), InitHash: s.GetInitHash(), Data: s.GetData(),
		Seq: s.GetSeq(), DiscSeq: s.GetDiscSeq()}
}

func statsToPB(s media.Stats) *pb.Stats {
	return &pb.Stats{
		Packets:         s.Packets,
		GarbageBytes:    s.GarbageBytes,
		CcErrors:        s.CCErrors,
		PtsWraps:        s.PTSWraps,
		Discontinuities: s.Discontinuities,
		Unsupported:     s.Unsupported,
		Frames:          s.Frames,
		Segments:        s.Segments,
	}
}

func statsFromPB(s *pb.Stats) media.Stats {
	return media.Stats{
		Packets:         s.GetPackets(),
		GarbageBytes:    s.GetGarbageBytes(),
		CCErrors:        s.GetCcErrors(),
		PTSWraps:        s.GetPtsWraps(),
		Discontinuities: s.GetDiscontinuities(),
		Unsupported:     s.GetUnsupported(),
		Frames:          s.GetFrames(),
		Segments:        s.GetSegments(),
	}
}
