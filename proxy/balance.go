package proxy

import (
	"github.com/valyala/fasthttp"
)

// BalancedParam is the query parameter a viewer-balancing redirect adds
// (`?edge_balanced=1`): a node that receives a request carrying it serves
// the request itself and never balances it again, so a balanced viewer is
// redirected at most once for load. It is not signed: a client that adds
// it only opts out of balancing.
const BalancedParam = "edge_balanced"

// ViewerBalancer is an optional interface of a Backend on a node with a
// viewer_limit.
type ViewerBalancer interface {
	// ViewerLimit is the node's viewer_limit; 0 turns balancing off and
	// BalanceViewer is never asked.
	ViewerLimit() int64
	// BalanceViewer is asked for a new viewer of stream (a client that is
	// not already counted as one of its viewers) when the node has
	// watchers viewers over all its streams, at least ViewerLimit. It
	// returns the base URL
	// (scheme://host[:port], no trailing slash) of a peer to redirect the
	// viewer to, false to serve the viewer here (under the limit, or no
	// peer fits).
	BalanceViewer(stream string, watchers int64) (baseURL string, ok bool)
}

// balancedRoute reports whether a request on rt starts watching a stream:
// the live playlists and live MPEG-TS (the requests that count a viewer),
// archive playlists and exports. Segments and init segments are never
// balanced: a player that plays keeps its node.
func balancedRoute(rt route) bool {
	switch rt {
	case routeLive, routeRewind, routeEvent, routeTimeshiftRel, routeTSLive,
		routeArchive, routeExport, routeTSRange:
		return true
	}
	return false
}

// balanceViewer answers a new viewer of name with a 302 to a less loaded
// peer when the Backend balances viewers and chooses one. It reports
// whether it answered.
func (s *Server) balanceViewer(ctx *fasthttp.RequestCtx, rt route, name string) bool {
	vb, ok := s.cfg.Backend.(ViewerBalancer)
	if !ok || !balancedRoute(rt) || ctx.QueryArgs().Has(BalancedParam) {
		return false
	}
	limit := vb.ViewerLimit()
	if limit <= 0 {
		return false
	}
	now := s.cfg.Now()
	if s.viewers.has(name, viewerKey(ctx), now) {
		return false
	}
	watchers := s.viewers.total(now)
	if watchers < limit {
		return false
	}
	base, ok := vb.BalanceViewer(name, watchers)
	if !ok {
		return false
	}
	uri := b2s(ctx.Request.Header.RequestURI())
	sep := "?"
	if indexByte(uri, '?') >= 0 {
		sep = "&"
	}
	ctx.Response.Header.Set("Location", base+uri+sep+BalancedParam+"=1")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetStatusCode(fasthttp.StatusFound)
	return true
}

// Watchers is how many viewers the node has now: clients that followed one
// of its live playlists (or live MPEG-TS) in the last 30 s, over all its
// streams. A node's viewer_limit bounds it.
func (s *Server) Watchers() int64 { return s.viewers.total(s.cfg.Now()) }

// viewerKey is how a viewer is told apart: remote IP and User-Agent.
func viewerKey(ctx *fasthttp.RequestCtx) string {
	return ctx.RemoteIP().String() + " " + string(ctx.UserAgent())
}
