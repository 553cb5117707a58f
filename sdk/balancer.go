package sdk

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/edgedvr/edge/sdk/internal/pb"
)

// MaxPlaceStreams bounds the streams of one PlaceRequest; both sides refuse
// more.
const MaxPlaceStreams = 100_000

// PlaceStream is one cluster-ingest stream to place.
type PlaceStream struct {
	Name string
	// CaptureAt is the preferred peer, "" for none. It is a preference,
	// not a binding: when that peer is not in the request, the stream goes
	// elsewhere.
	CaptureAt string
	// Candidates are the peers that may capture the stream (the peers
	// whose topology defines it), sorted. Empty means every peer.
	Candidates []string
}

// PeerLoad is one live peer and its load, as it reported it last.
type PeerLoad struct {
	Name     string
	Streams  int64 // cluster-ingest streams it captures now
	Viewers  int64 // viewer requests it is answering now
	BytesOut int64 // bytes sent to viewers since it started
}

// PlaceRequest is what a balancer places: the streams, and the live peers
// sorted by name (never empty: the asking node is always one of them).
type PlaceRequest struct {
	Streams []PlaceStream
	Peers   []PeerLoad
}

// Balancer places cluster-ingest streams on live peers. It is served by
// `edge plugin balancer`, or by a third-party executable named in the
// topology's [plugins] balancer.
//
// Every peer of a group asks its own balancer with its own view of the
// group, so Place must be deterministic: the same request (streams and
// peers in the same order) must give the same owners on every peer and at
// every call. The host asks at every poll of the group (each
// fetch_timeout) and keeps the last answer when the plugin fails.
type Balancer interface {
	// Place returns the owner of each stream: a peer of req.Peers, and
	// one of its Candidates when it has any. A stream left out of the map,
	// or given a peer that is not in the request, is not captured until the
	// next call.
	Place(ctx context.Context, req PlaceRequest) (map[string]string, error)
}

// BalancerClient is the host's view of a balancer plugin process. It
// implements Balancer; get one from a Supervisor.
type BalancerClient struct {
	rpc           pb.BalancerClient
	onUnavailable func()
}

var _ Balancer = (*BalancerClient)(nil)

// Place implements Balancer. Without a deadline in ctx the call gets one
// second.
func (c *BalancerClient) Place(ctx context.Context, req PlaceRequest) (map[string]string, error) {
	if len(req.Streams) > MaxPlaceStreams {
		return nil, fmt.Errorf("balancer plugin: place: %d streams, more than %d", len(req.Streams), MaxPlaceStreams)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Second)
		defer cancel()
	}
	resp, err := c.rpc.Place(ctx, placeToPB(req))
	if err != nil {
		err, unavailable := fromStatus(ctx, "balancer plugin: place", err)
		if unavailable && c.onUnavailable != nil {
			c.onUnavailable()
		}
		return nil, err
	}
	return resp.GetOwners(), nil
}

func placeToPB(req PlaceRequest) *pb.PlaceRequest {
	out := &pb.PlaceRequest{Streams: make([]*pb.PlaceStream, len(req.Streams)), Peers: make([]*pb.PeerLoad, len(req.Peers))}
	for i, s := range req.Streams {
		out.Streams[i] = &pb.PlaceStream{Name: s.Name, CaptureAt: s.CaptureAt, Candidates: s.Candidates}
	}
	for i, p := range req.Peers {
		out.Peers[i] = &pb.PeerLoad{Name: p.Name, Streams: p.Streams, Viewers: p.Viewers, BytesOut: p.BytesOut}
	}
	return out
}

func placeFromPB(in *pb.PlaceRequest) PlaceRequest {
	out := PlaceRequest{Streams: make([]PlaceStream, len(in.GetStreams())), Peers: make([]PeerLoad, len(in.GetPeers()))}
	for i, s := range in.GetStreams() {
		out.Streams[i] = PlaceStream{Name: s.GetName(), CaptureAt: s.GetCaptureAt(), Candidates: s.GetCandidates()}
	}
	for i, p := range in.GetPeers() {
		out.Peers[i] = PeerLoad{Name: p.GetName(), Streams: p.GetStreams(), Viewers: p.GetViewers(), BytesOut: p.GetBytesOut()}
	}
	return out
}

// balancerServer adapts a Balancer to the gRPC service.
type balancerServer struct {
	pb.UnimplementedBalancerServer
	impl Balancer
}

func (s *balancerServer) Place(ctx context.Context, req *pb.PlaceRequest) (*pb.PlaceResponse, error) {
	if len(req.GetStreams()) > MaxPlaceStreams {
		return nil, toStatus(fmt.Errorf("place: %d streams, more than %d", len(req.GetStreams()), MaxPlaceStreams))
	}
	owners, err := s.impl.Place(ctx, placeFromPB(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.PlaceResponse{Owners: owners}, nil
}

// SortedPeerNames returns the names of req's peers, sorted (a helper for
// balancer authors).
func (req PlaceRequest) SortedPeerNames() []string {
	names := make([]string, len(req.Peers))
	for i, p := range req.Peers {
		names[i] = p.Name
	}
	sort.Strings(names)
	return names
}
