package proxy

import (
	"net"

	"github.com/valyala/fasthttp"
)

// ServeMetrics accepts connections on ln, the node's metrics_listen, until
// Shutdown. That listener answers GET /metrics to anyone (a Prometheus
// scraper needs no admin_key there) and 404 to everything else. It returns
// nil after Shutdown.
func (s *Server) ServeMetrics(ln net.Listener) error {
	return s.serveSide(ln, s.recoverHTTP("metrics", s.handleMetricsListen))
}

func (s *Server) handleMetricsListen(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) != "/metrics" {
		ctx.Error("not found: this is a metrics listener: it answers GET /metrics only\n", fasthttp.StatusNotFound)
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		ctx.Error("method not allowed\n", fasthttp.StatusMethodNotAllowed)
		return
	}
	s.promh(ctx)
}
