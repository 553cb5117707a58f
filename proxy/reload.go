package proxy

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgedvr/edge/cluster"
)

// ReloadPath is the API call that reloads the node's topology file:
// POST, signed with cluster_key as node-to-node calls are (cluster.Signer).
const ReloadPath = "/api/v1/reload"

// reloadTimeout bounds a reload: opening new archives, flushing the
// streams it stops.
const reloadTimeout = 30 * time.Second

// ErrReloadInvalid wraps the reasons a reload changed nothing (an invalid
// file, a change that needs a restart); it answers 422 with the reason.
var ErrReloadInvalid = errors.New("reload changed nothing")

// isReload reports whether the request is for ReloadPath, whatever its
// method and query.
func isReload(ctx *fasthttp.RequestCtx) bool {
	uri := ctx.Request.Header.RequestURI()
	// bytes.HasPrefix: a string conversion of a long URI would allocate
	// on every request.
	return string(uri) == ReloadPath || bytes.HasPrefix(uri, []byte(ReloadPath+"?"))
}

// handleReload answers POST /api/v1/reload: 403 unless signed with the
// node's cluster_key, 404 when the node cannot reload, 405 for another
// method, 422 with the reason when the reload changed nothing, 200 with
// what changed.
func (s *Server) handleReload(ctx *fasthttp.RequestCtx) {
	began := time.Now()
	err := s.serveReload(ctx)
	if err != nil {
		s.writeError(ctx, request{route: routeReload}, err)
	}
	s.metrics.observe(routeReload, ctx.Response.StatusCode(), len(ctx.Response.Body()), time.Since(began))
}

func (s *Server) serveReload(ctx *fasthttp.RequestCtx) error {
	v := cluster.Verifier{Key: s.cfg.ClusterKey, Window: s.cfg.ClusterWindow, Now: s.cfg.Now}
	if _, err := v.Verify(string(ctx.Method()), string(ctx.Request.Header.RequestURI()), m4fHeader(ctx)); err != nil {
		s.log.Warn("reload call refused", "remote", ctx.RemoteAddr().String(), "reason", err.Error())
		return &httpError{status: fasthttp.StatusForbidden, msg: err.Error()}
	}
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		return &httpError{status: fasthttp.StatusMethodNotAllowed, msg: "reload: use POST"}
	}
	if s.cfg.Reload == nil {
		return notFound("this node cannot reload")
	}
	rctx, cancel := context.WithTimeout(s.base, reloadTimeout)
	defer cancel()
	out, err := s.cfg.Reload(rctx)
	if errors.Is(err, ErrReloadInvalid) {
		return &httpError{status: fasthttp.StatusUnprocessableEntity, msg: err.Error()}
	}
	if err != nil {
		return err
	}
	return writeJSON(ctx, out)
}
