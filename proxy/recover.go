package proxy

import (
	"os"

	"github.com/valyala/fasthttp"

	"github.com/edgedvr/edge/internal/safe"
)

// TestPanicPathEnv names an environment variable for tests only: when it is
// set to a path (such as "/debug/test-panic"), a request for exactly that
// path panics inside the handler, so that a test can check, on a real
// node, that one panicking request answers 500, is counted in
// edge_panics_total{where="http"} and logged with its stack, and that the
// node goes on recording and serving. It is read once by New; never set it
// in production.
const TestPanicPathEnv = "EDGE_TEST_PANIC_PATH"

// recoverHTTP wraps a listener's handler: a panic while answering one
// request answers that request 500 "internal error", is counted
// (edge_panics_total{where}) and logged with its stack, and the server
// goes on with the next request. Bodies streamed after the handler returns
// are covered by fasthttp itself (a panic there ends that response).
func (s *Server) recoverHTTP(where string, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			safe.Recovered(s.log.With("path", string(ctx.Path()), "remote", ctx.RemoteAddr().String()), where, r)
			// Whatever the handler had prepared is dropped.
			ctx.Response.Reset()
			ctx.SetStatusCode(fasthttp.StatusInternalServerError)
			ctx.SetContentType("text/plain; charset=utf-8")
			ctx.Response.Header.Set("Cache-Control", "no-store")
			ctx.SetBodyString("internal error\n")
			s.metrics.observe(routeNone, fasthttp.StatusInternalServerError, 0, 0)
		}()
		if s.testPanicPath != "" && string(ctx.Path()) == s.testPanicPath {
			panic("test panic requested by " + TestPanicPathEnv)
		}
		h(ctx)
	}
}

// testPanicPathFromEnv is the path of TestPanicPathEnv, or "" (the hook is
// off) when it is unset or not a path.
func testPanicPathFromEnv() string {
	p := os.Getenv(TestPanicPathEnv)
	if len(p) < 2 || p[0] != '/' {
		return ""
	}
	return p
}
