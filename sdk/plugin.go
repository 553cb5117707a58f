package sdk

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/edgedvr/edge/sdk/internal/pb"
)

// MaxSegmentSize is the largest init or media segment, in bytes, that may
// cross a plugin boundary. Both sides refuse bigger ones with ErrTooLarge.
const MaxSegmentSize = 64 << 20

// maxMessageSize is the gRPC message limit: a whole segment plus room for
// the fields around it.
const maxMessageSize = MaxSegmentSize + 1<<20

// windowSize and ioBufferSize suit segments of megabytes over a local
// socket: a fixed 4 MiB HTTP/2 window moves a 1 MiB segment without
// waiting for window updates (gRPC's defaults start at 64 KiB).
const (
	windowSize   = 4 << 20
	ioBufferSize = 256 << 10
)

// Handshake is the go-plugin handshake shared by the host and every plugin.
// A plugin whose ProtocolVersion differs from the host's is refused with
// ErrVersionMismatch; a binary started without the cookie (e.g. by hand)
// prints a notice and exits.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "EDGE_PLUGIN",
	MagicCookieValue: "5f1c3a9e-edge-plugin-7b2d",
}

// grpcPlugin is the go-plugin glue for one plugin kind. On the plugin side
// it registers the server adapter; on the host side it builds the client
// adapter, which reports Unavailable errors to onUnavailable.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	kind          string
	ingest        Ingest
	store         Store
	balancer      Balancer
	onUnavailable func()
	// exited is set on the host side to the context go-plugin cancels when
	// the plugin process exits.
	exited context.Context
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	switch p.kind {
	case KindIngest:
		pb.RegisterIngestServer(s, &ingestServer{impl: p.ingest})
	case KindDVRStore:
		pb.RegisterStoreServer(s, &storeServer{impl: p.store})
	case KindBalancer:
		pb.RegisterBalancerServer(s, &balancerServer{impl: p.balancer})
	}
	return nil
}

func (p *grpcPlugin) GRPCClient(exited context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	p.exited = exited
	switch p.kind {
	case KindIngest:
		return &IngestClient{rpc: pb.NewIngestClient(conn), onUnavailable: p.onUnavailable}, nil
	case KindBalancer:
		return &BalancerClient{rpc: pb.NewBalancerClient(conn), onUnavailable: p.onUnavailable}, nil
	default:
		return &StoreClient{rpc: pb.NewStoreClient(conn), onUnavailable: p.onUnavailable}, nil
	}
}

// newGRPCServer raises the message limits on the plugin side and sets the
// plugin protocol's codec.
func newGRPCServer(c codec) func([]grpc.ServerOption) *grpc.Server {
	return func(opts []grpc.ServerOption) *grpc.Server {
		opts = append(opts,
			grpc.MaxRecvMsgSize(maxMessageSize),
			grpc.MaxSendMsgSize(maxMessageSize),
			grpc.InitialWindowSize(windowSize),
			grpc.InitialConnWindowSize(windowSize),
			grpc.ReadBufferSize(ioBufferSize),
			grpc.WriteBufferSize(ioBufferSize),
			grpc.ForceServerCodecV2(c),
			grpc.ChainUnaryInterceptor(releaseAfterCall),
		)
		return grpc.NewServer(opts...)
	}
}

// grpcDialOptions raise the message limits on the host side and set the
// plugin protocol's codec.
var grpcDialOptions = []grpc.DialOption{
	grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(maxMessageSize),
		grpc.MaxCallSendMsgSize(maxMessageSize),
		grpc.ForceCodecV2(codec{}),
	),
	grpc.WithInitialWindowSize(windowSize),
	grpc.WithInitialConnWindowSize(windowSize),
	grpc.WithReadBufferSize(ioBufferSize),
	grpc.WithWriteBufferSize(ioBufferSize),
}
