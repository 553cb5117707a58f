package proxy

import (
	"errors"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/edgedvr/edge/cluster"
)

// ClusterBackend is an optional interface of a Backend on a node that is a
// peer of a cluster-ingest group.
type ClusterBackend interface {
	// ClusterState is what this node answers to a peer's poll (the signed
	// GET /m4f/v1/cluster).
	ClusterState() cluster.State
	// ClusterOverview is the JSON of GET /api/v1/cluster.
	ClusterOverview() any
	// Locate is asked before each viewer request for a stream. It returns
	// ErrServedHere when this node serves the stream itself (it captures
	// it, or the stream is not a cluster-ingest stream); otherwise the
	// public URL (scheme://host[:port], no trailing slash) of a live peer
	// that captures it; any other error means the stream belongs to the
	// group but no live peer captures it, and its text is the reason given
	// with the 503. Node-to-node calls (/m4f/) never ask it: a peer's
	// archive is read from every peer.
	Locate(stream string) (baseURL string, err error)
}

// ErrServedHere is what ClusterBackend.Locate returns for a stream this
// node serves itself.
var ErrServedHere = errors.New("served here")

// routeCluster sends a viewer request for a cluster-ingest stream that
// another peer captures there: one 302 to that peer (same path and query),
// or 503 when the stream belongs to the group but no live peer captures
// it. It reports false when this node serves the request itself. A node
// redirects only to a peer that reported capturing the stream at its last
// poll, and a node that captures a stream always serves it, so redirects
// do not loop.
func (s *Server) routeCluster(ctx *fasthttp.RequestCtx, name string) bool {
	cb, ok := s.cfg.Backend.(ClusterBackend)
	if !ok {
		return false
	}
	base, err := cb.Locate(name)
	switch {
	case errors.Is(err, ErrServedHere):
		return false
	case err == nil:
		s.found(ctx, base)
	default:
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.Response.Header.Set("Cache-Control", "no-store")
		ctx.Response.Header.Set("Retry-After", "1")
		ctx.SetBodyString(strings.ReplaceAll(err.Error(), "\n", " ") + "\n")
	}
	return true
}

// redirect answers a request for a stream that this node does not serve:
// the Backend's Redirector when it has one, else 404.
func (s *Server) redirect(ctx *fasthttp.RequestCtx, name string) error {
	if r, ok := s.cfg.Backend.(Redirector); ok {
		if base, ok := r.Redirect(name); ok {
			s.found(ctx, base)
			return nil
		}
	}
	return notFound("unknown stream " + name)
}

func (s *Server) found(ctx *fasthttp.RequestCtx, base string) {
	ctx.Response.Header.Set("Location", base+b2s(ctx.Request.Header.RequestURI()))
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetStatusCode(fasthttp.StatusFound)
}

// serveClusterState answers a peer's poll.
func (s *Server) serveClusterState(ctx *fasthttp.RequestCtx) error {
	cb, ok := s.cfg.Backend.(ClusterBackend)
	if !ok {
		return notFound("m4f: this node is not a cluster-ingest peer")
	}
	return writeJSON(ctx, cb.ClusterState())
}

// serveAPICluster answers GET /api/v1/cluster.
func (s *Server) serveAPICluster(ctx *fasthttp.RequestCtx) error {
	cb, ok := s.cfg.Backend.(ClusterBackend)
	if !ok {
		return notFound("this node is not a cluster-ingest peer")
	}
	return writeJSON(ctx, cb.ClusterOverview())
}

// OpenConnections is how many client connections the server holds now:
// the "viewers" of the load a peer reports.
func (s *Server) OpenConnections() int64 { return int64(s.srv.GetOpenConnectionsCount()) }
