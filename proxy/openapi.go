package proxy

import (
	_ "embed"

	"github.com/valyala/fasthttp"
)

// openAPIDoc describes /api/v1 (and recording_status.json): api/openapi.json,
// checked against the routes and real answers by cmd/edge's TestOpenAPI.
//
//go:embed api/openapi.json
var openAPIDoc []byte

// serveOpenAPI answers GET /api/v1/openapi.json.
func (s *Server) serveOpenAPI(ctx *fasthttp.RequestCtx) error {
	ctx.SetContentType(ctypeJSON)
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	if ctx.IsHead() {
		ctx.Response.Header.SetContentLength(len(openAPIDoc))
		return nil
	}
	ctx.Response.SetBodyRaw(openAPIDoc)
	return nil
}
