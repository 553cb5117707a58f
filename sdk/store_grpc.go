package sdk

import (
	"context"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk/internal/pb"
)

// DefaultCallTimeout is the deadline given to a unary plugin call whose
// context has none.
const DefaultCallTimeout = 10 * time.Second

// StoreClient is the host's view of a store plugin process. It implements
// Store; get one from a Supervisor. Every call gets DefaultCallTimeout when
// its ctx has no deadline. An error wrapping ErrUnavailable means the plugin
// process went away; after the Supervisor restarts it, OpenStream must be
// called again (see Supervisor.OnStart).
type StoreClient struct {
	rpc           pb.StoreClient
	onUnavailable func()
}

var _ Store = (*StoreClient)(nil)

func callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, DefaultCallTimeout)
}

func (c *StoreClient) fail(ctx context.Context, op string, err error) error {
	err, unavailable := fromStatus(ctx, "store plugin: "+op, err)
	if unavailable && c.onUnavailable != nil {
		c.onUnavailable()
	}
	return err
}

// OpenStream implements Store.
func (c *StoreClient) OpenStream(ctx context.Context, cfg StreamConfig) error {
	ctx, cancel := callContext(ctx)
	defer cancel()
	_, err := c.rpc.OpenStream(ctx, &pb.StreamConfig{
		Stream:  cfg.Stream,
		Root:    cfg.Root,
		DepthNs: int64(cfg.Depth),
		MaxSize: cfg.MaxSize,
	})
	if err != nil {
		return c.fail(ctx, "open stream "+cfg.Stream, err)
	}
	return nil
}

// WriteInit implements Store.
func (c *StoreClient) WriteInit(ctx context.Context, stream string, init media.Init) error {
	if err := checkSize("write init "+stream+": init segment", len(init.Data)); err != nil {
		return err
	}
	ctx, cancel := callContext(ctx)
	defer cancel()
	_, err := c.rpc.WriteInit(ctx, &pb.WriteInitRequest{Stream: stream, Init: initToPB(&init)})
	if err != nil {
		return c.fail(ctx, "write init "+stream, err)
	}
	return nil
}

// WriteSegment implements Store.
func (c *StoreClient) WriteSegment(ctx context.Context, stream string, seg media.Segment) (SegmentInfo, error) {
	if err := checkSize("write segment "+stream+": media segment", len(seg.Data)); err != nil {
		return SegmentInfo{}, err
	}
	ctx, cancel := callContext(ctx)
	defer cancel()
	info, err := c.rpc.WriteSegment(ctx, &pb.WriteSegmentRequest{Stream: stream, Segment: segmentToPB(&seg)})
	if err != nil {
		return SegmentInfo{}, c.fail(ctx, "write segment "+stream, err)
	}
	return segmentInfoFromPB(info), nil
}

// Ranges implements Store.
func (c *StoreClient) Ranges(ctx context.Context, stream string, from, to int64) ([]Range, error) {
	ctx, cancel := callContext(ctx)
	defer cancel()
	resp, err := c.rpc.Ranges(ctx, &pb.SpanRequest{Stream: stream, From: from, To: to})
	if err != nil {
		return nil, c.fail(ctx, "ranges "+stream, err)
	}
	if len(resp.Ranges) == 0 {
		return nil, nil
	}
	out := make([]Range, len(resp.Ranges))
	for i, r := range resp.Ranges {
		out[i] = Range{From: r.GetFrom(), To: r.GetTo()}
	}
	return out, nil
}

// Segments implements Store.
func (c *StoreClient) Segments(ctx context.Context, stream string, from, to int64) ([]SegmentInfo, error) {
	ctx, cancel := callContext(ctx)
	defer cancel()
	resp, err := c.rpc.Segments(ctx, &pb.SpanRequest{Stream: stream, From: from, To: to})
	if err != nil {
		return nil, c.fail(ctx, "segments "+stream, err)
	}
	if len(resp.Segments) == 0 {
		return nil, nil
	}
	out := make([]SegmentInfo, len(resp.Segments))
	for i, s := range resp.Segments {
		out[i] = segmentInfoFromPB(s)
	}
	return out, nil
}

// ReadInit implements Store.
func (c *StoreClient) ReadInit(ctx context.Context, stream, hash string) (media.Init, error) {
	ctx, cancel := callContext(ctx)
	defer cancel()
	in, err := c.rpc.ReadInit(ctx, &pb.ReadInitRequest{Stream: stream, Hash: hash})
	if err != nil {
		return media.Init{}, c.fail(ctx, "read init "+stream+"/"+hash, err)
	}
	if err := checkSize("read init "+stream+": init segment", len(in.GetData())); err != nil {
		return media.Init{}, err
	}
	return initFromPB(in), nil
}

// ReadSegment implements Store. Prefer SegmentInfo.Path on a viewer's path:
// this call moves the bytes through the plugin boundary.
func (c *StoreClient) ReadSegment(ctx context.Context, stream string, start int64) ([]byte, error) {
	ctx, cancel := callContext(ctx)
	defer cancel()
	resp, err := c.rpc.ReadSegment(ctx, &pb.ReadSegmentRequest{Stream: stream, Start: start})
	if err != nil {
		return nil, c.fail(ctx, "read segment "+stream, err)
	}
	if err := checkSize("read segment "+stream+": media segment", len(resp.GetData())); err != nil {
		return nil, err
	}
	return resp.GetData(), nil
}

var _ SegmentDeleter = (*StoreClient)(nil)

// DeleteSegments implements SegmentDeleter; a plugin that does not answers
// an error wrapping ErrUnsupported.
func (c *StoreClient) DeleteSegments(ctx context.Context, stream string, from, to int64) (int, error) {
	ctx, cancel := callContext(ctx)
	defer cancel()
	resp, err := c.rpc.DeleteSegments(ctx, &pb.SpanRequest{Stream: stream, From: from, To: to})
	if err != nil {
		return 0, c.fail(ctx, "delete segments "+stream, err)
	}
	return int(resp.GetDeleted()), nil
}

// Streams implements Store.
func (c *StoreClient) Streams(ctx context.Context) ([]string, error) {
	ctx, cancel := callContext(ctx)
	defer cancel()
	resp, err := c.rpc.Streams(ctx, &pb.Empty{})
	if err != nil {
		return nil, c.fail(ctx, "streams", err)
	}
	return resp.GetStreams(), nil
}

// storeServer serves a Store implementation inside the plugin process.
type storeServer struct {
	pb.UnimplementedStoreServer
	impl Store
}

func (s *storeServer) OpenStream(ctx context.Context, req *pb.StreamConfig) (*pb.Empty, error) {
	err := s.impl.OpenStream(ctx, StreamConfig{
		Stream:  req.GetStream(),
		Root:    req.GetRoot(),
		Depth:   time.Duration(req.GetDepthNs()),
		MaxSize: req.GetMaxSize(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.Empty{}, nil
}

func (s *storeServer) WriteInit(ctx context.Context, req *pb.WriteInitRequest) (*pb.Empty, error) {
	in := req.GetInit()
	if in == nil {
		in = &pb.Init{}
	}
	if err := checkSize("write init "+req.GetStream()+": init segment", len(in.GetData())); err != nil {
		return nil, toStatus(err)
	}
	if err := s.impl.WriteInit(ctx, req.GetStream(), initFromPB(in)); err != nil {
		return nil, toStatus(err)
	}
	return &pb.Empty{}, nil
}

func (s *storeServer) WriteSegment(ctx context.Context, req *pb.WriteSegmentRequest) (*pb.SegmentInfo, error) {
	seg := req.GetSegment()
	if seg == nil {
		seg = &pb.Segment{}
	}
	if err := checkSize("write segment "+req.GetStream()+": media segment", len(seg.GetData())); err != nil {
		return nil, toStatus(err)
	}
	info, err := s.impl.WriteSegment(ctx, req.GetStream(), segmentFromPB(seg))
	if err != nil {
		return nil, toStatus(err)
	}
	return segmentInfoToPB(info), nil
}

func (s *storeServer) Ranges(ctx context.Context, req *pb.SpanRequest) (*pb.RangesResponse, error) {
	rs, err := s.impl.Ranges(ctx, req.GetStream(), req.GetFrom(), req.GetTo())
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.RangesResponse{Ranges: make([]*pb.Range, len(rs))}
	for i, r := range rs {
		resp.Ranges[i] = &pb.Range{From: r.From, To: r.To}
	}
	return resp, nil
}

func (s *storeServer) Segments(ctx context.Context, req *pb.SpanRequest) (*pb.SegmentsResponse, error) {
	ss, err := s.impl.Segments(ctx, req.GetStream(), req.GetFrom(), req.GetTo())
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.SegmentsResponse{Segments: make([]*pb.SegmentInfo, len(ss))}
	for i, si := range ss {
		resp.Segments[i] = segmentInfoToPB(si)
	}
	return resp, nil
}

func (s *storeServer) ReadInit(ctx context.Context, req *pb.ReadInitRequest) (*pb.Init, error) {
	in, err := s.impl.ReadInit(ctx, req.GetStream(), req.GetHash())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := checkSize("read init "+req.GetStream()+": init segment", len(in.Data)); err != nil {
		return nil, toStatus(err)
	}
	return initToPB(&in), nil
}

func (s *storeServer) ReadSegment(ctx context.Context, req *pb.ReadSegmentRequest) (*pb.ReadSegmentResponse, error) {
	data, err := s.impl.ReadSegment(ctx, req.GetStream(), req.GetStart())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := checkSize("read segment "+req.GetStream()+": media segment", len(data)); err != nil {
		return nil, toStatus(err)
	}
	return &pb.ReadSegmentResponse{Data: data}, nil
}

func (s *storeServer) DeleteSegments(ctx context.Context, req *pb.SpanRequest) (*pb.DeleteSegmentsResponse, error) {
	d, ok := s.impl.(SegmentDeleter)
	if !ok {
		return s.UnimplementedStoreServer.DeleteSegments(ctx, req)
	}
	n, err := d.DeleteSegments(ctx, req.GetStream(), req.GetFrom(), req.GetTo())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.DeleteSegmentsResponse{Deleted: int64(n)}, nil
}

func (s *storeServer) Streams(ctx context.Context, _ *pb.Empty) (*pb.StreamsResponse, error) {
	names, err := s.impl.Streams(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.StreamsResponse{Streams: names}, nil
}

func segmentInfoToPB(s SegmentInfo) *pb.SegmentInfo {
	return &pb.SegmentInfo{
		Start:    s.Start,
		Duration: s.Duration,
		Size:     s.Size,
		InitHash: s.InitHash,
		Checksum: s.Checksum,
		Path:     s.Path,
	}
}

func segmentInfoFromPB(s *pb.SegmentInfo) SegmentInfo {
	return SegmentInfo{
		Start:    s.GetStart(),
		Duration: s.GetDuration(),
		Size:     s.GetSize(),
		InitHash: s.GetInitHash(),
		Checksum: s.GetChecksum(),
		Path:     s.GetPath(),
	}
}
