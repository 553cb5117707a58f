package sdk

import (
	"context"
	"fmt"
	"time"

	"github.com/edgedvr/edge/sdk/internal/pb"
)

// MaxViewerCandidates bounds the candidates of one ViewerRequest; both
// sides refuse more.
const MaxViewerCandidates = 10_000

// ViewerPeer is a peer that may take a balanced viewer, with its load as
// it reported it last.
type ViewerPeer struct {
	PeerLoad
	// Watchers is how many viewers the peer has: clients that followed one
	// of its live playlists (or live MPEG-TS) in the last 30 s, summed over
	// its streams. It is what viewer_limit bounds.
	Watchers int64
	// ViewerLimit is the peer's viewer_limit, 0 when it has none.
	ViewerLimit int64
}

// ViewerRequest asks where a new viewer of Stream goes when the asking
// node (Self) is at or over its viewer_limit.
type ViewerRequest struct {
	Stream string
	Self   ViewerPeer
	// Candidates are the live peers (never Self) that serve Stream
	// themselves (they capture, restream or replicate it), sorted by name.
	Candidates []ViewerPeer
}

// ViewerChooser is an optional interface of a Balancer (SDK 1.2.0): a
// balancer that implements it picks the peer of each viewer redirect.
// The host asks it for a new viewer of a stream on a node that is at or
// over its viewer_limit, on the node's request path, with a deadline of
// 250 ms. A balancer without it still works: the host then applies the
// built-in rule itself (the least loaded candidate that is under its own
// limit and has fewer viewers than the asking node).
type ViewerChooser interface {
	// ChooseViewerPeer returns the name of one of req.Candidates, or ""
	// to serve the viewer on the asking node. A name that is not a
	// candidate, or an error, serves the viewer on the asking node.
	ChooseViewerPeer(ctx context.Context, req ViewerRequest) (string, error)
}

var _ ViewerChooser = (*BalancerClient)(nil)

// ChooseViewerPeer implements ViewerChooser. Against a plugin built with
// an SDK before 1.2.0, or whose Balancer does not implement
// ViewerChooser, it returns an error that matches ErrUnsupported. Without
// a deadline in ctx the call gets 250 ms.
func (c *BalancerClient) ChooseViewerPeer(ctx context.Context, req ViewerRequest) (string, error) {
	if len(req.Candidates) > MaxViewerCandidates {
		return "", fmt.Errorf("balancer plugin: choose viewer peer: %d candidates, more than %d", len(req.Candidates), MaxViewerCandidates)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 250*time.Millisecond)
		defer cancel()
	}
	resp, err := c.rpc.ChooseViewerPeer(ctx, viewerToPB(req))
	if err != nil {
		err, unavailable := fromStatus(ctx, "balancer plugin: choose viewer peer", err)
		if unavailable && c.onUnavailable != nil {
			c.onUnavailable()
		}
		return "", err
	}
	return resp.GetPeer(), nil
}

// ChooseViewerPeer serves the optional call; a Balancer without it
// answers Unimplemented, which the host's client reports as
// ErrUnsupported.
func (s *balancerServer) ChooseViewerPeer(ctx context.Context, req *pb.ViewerRequest) (*pb.ViewerResponse, error) {
	vc, ok := s.impl.(ViewerChooser)
	if !ok {
		return s.UnimplementedBalancerServer.ChooseViewerPeer(ctx, req)
	}
	if len(req.GetCandidates()) > MaxViewerCandidates {
		return nil, toStatus(fmt.Errorf("choose viewer peer: %d candidates, more than %d", len(req.GetCandidates()), MaxViewerCandidates))
	}
	peer, err := vc.ChooseViewerPeer(ctx, viewerFromPB(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ViewerResponse{Peer: peer}, nil
}

func viewerPeerToPB(p ViewerPeer) *pb.ViewerPeer {
	return &pb.ViewerPeer{Load: &pb.PeerLoad{Name: p.Name, Streams: p.Streams, Viewers: p.Viewers, BytesOut: p.BytesOut},
		Watchers: p.Watchers, ViewerLimit: p.ViewerLimit}
}

func viewerPeerFromPB(p *pb.ViewerPeer) ViewerPeer {
	l := p.GetLoad()
	return ViewerPeer{PeerLoad: PeerLoad{Name: l.GetName(), Streams: l.GetStreams(), Viewers: l.GetViewers(), BytesOut: l.GetBytesOut()},
		Watchers: p.GetWatchers(), ViewerLimit: p.GetViewerLimit()}
}

func viewerToPB(req ViewerRequest) *pb.ViewerRequest {
	out := &pb.ViewerRequest{Stream: req.Stream, Self: viewerPeerToPB(req.Self), Candidates: make([]*pb.ViewerPeer, len(req.Candidates))}
	for i, p := range req.Candidates {
		out.Candidates[i] = viewerPeerToPB(p)
	}
	return out
}

func viewerFromPB(in *pb.ViewerRequest) ViewerRequest {
	out := ViewerRequest{Stream: in.GetStream(), Self: viewerPeerFromPB(in.GetSelf()), Candidates: make([]ViewerPeer, len(in.GetCandidates()))}
	for i, p := range in.GetCandidates() {
		out.Candidates[i] = viewerPeerFromPB(p)
	}
	return out
}
