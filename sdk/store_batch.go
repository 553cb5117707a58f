package sdk

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk/internal/pb"
)

// maxBatchSegments bounds the segments of one WriteSegments message; the
// bytes of one are bounded by MaxSegmentSize (a larger segment goes alone).
const maxBatchSegments = 4096

var _ SegmentBatchWriter = (*StoreClient)(nil)

// WriteSegments implements SegmentBatchWriter. It sends the segments in
// as few calls as the message limit allows; a plugin that does not
// implement the call (Unimplemented) gets one WriteSegment call per
// segment instead, so every store plugin can be given a batch.
func (c *StoreClient) WriteSegments(ctx context.Context, stream string, segs []media.Segment) ([]SegmentResult, error) {
	out := make([]SegmentResult, 0, len(segs))
	for len(segs) > 0 {
		n, size := 0, 0
		for n < len(segs) && n < maxBatchSegments && (n == 0 || size+len(segs[n].Data) <= MaxSegmentSize) {
			size += len(segs[n].Data)
			n++
		}
		res, err := c.writeBatch(ctx, stream, segs[:n])
		if errors.Is(err, ErrUnsupported) {
			return append(out, writeEach(ctx, c, stream, segs)...), nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
		segs = segs[n:]
	}
	return out, nil
}

// writeBatch is one WriteSegments call.
func (c *StoreClient) writeBatch(ctx context.Context, stream string, segs []media.Segment) ([]SegmentResult, error) {
	req := &pb.WriteSegmentsRequest{Stream: stream, Segments: make([]*pb.Segment, len(segs))}
	for i := range segs {
		if err := checkSize("write segments "+stream+": media segment", len(segs[i].Data)); err != nil {
			return nil, err
		}
		req.Segments[i] = segmentToPB(&segs[i])
	}
	ctx, cancel := callContext(ctx)
	defer cancel()
	resp, err := c.rpc.WriteSegments(ctx, req)
	if err != nil {
		return nil, c.fail(ctx, "write segments "+stream, err)
	}
	if len(resp.GetResults()) != len(segs) {
		return nil, errors.New("store plugin: write segments " + stream + ": the plugin answered a different number of results")
	}
	out := make([]SegmentResult, len(segs))
	for i, r := range resp.GetResults() {
		if r.GetCode() != 0 {
			out[i].Err, _ = fromStatus(ctx, "write segment "+stream, status.Error(codes.Code(r.GetCode()), r.GetError()))
			continue
		}
		if r.GetInfo() == nil {
			out[i].Err = errors.New("store plugin: write segment " + stream + ": the plugin answered neither info nor error")
			continue
		}
		out[i].Info = segmentInfoFromPB(r.GetInfo())
	}
	return out, nil
}

// WriteSegments serves SegmentBatchWriter; a Store without it answers
// Unimplemented.
func (s *storeServer) WriteSegments(ctx context.Context, req *pb.WriteSegmentsRequest) (*pb.WriteSegmentsResponse, error) {
	b, ok := s.impl.(SegmentBatchWriter)
	if !ok {
		return s.UnimplementedStoreServer.WriteSegments(ctx, req)
	}
	segs := make([]media.Segment, len(req.GetSegments()))
	for i, seg := range req.GetSegments() {
		if seg == nil {
			seg = &pb.Segment{}
		}
		if err := checkSize("write segments "+req.GetStream()+": media segment", len(seg.GetData())); err != nil {
			return nil, toStatus(err)
		}
		segs[i] = segmentFromPB(seg)
	}
	res, err := b.WriteSegments(ctx, req.GetStream(), segs)
	if err != nil {
		return nil, toStatus(err)
	}
	if len(res) != len(segs) {
		return nil, status.Errorf(codes.Internal, "write segments %s: the store returned %d results for %d segments", req.GetStream(), len(res), len(segs))
	}
	resp := &pb.WriteSegmentsResponse{Results: make([]*pb.SegmentResult, len(res))}
	for i, r := range res {
		if r.Err != nil {
			st, _ := status.FromError(toStatus(r.Err))
			code := st.Code()
			if code == codes.OK {
				code = codes.Unknown
			}
			resp.Results[i] = &pb.SegmentResult{Code: int32(code), Error: st.Message()}
			continue
		}
		resp.Results[i] = &pb.SegmentResult{Info: segmentInfoToPB(r.Info)}
	}
	return resp, nil
}
