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
	srv := &fasthttp.Server{
		Handler:                      s.recoverHTTP("metrics", s.handleMetricsListen),
		Name:                         "edge",
		ReadTimeout:                  s.cfg.ReadTimeout,
		WriteTimeout:                 s.cfg.WriteTimeout,
		IdleTimeout:                  s.cfg.IdleTimeout,
		MaxRequestBodySize:           4 << 10,
		DisablePreParseMultipartForm: true,
		NoDefaultContentType:         true,
		CloseOnShutdown:              true,
		Logger:                       fasthttpLogger{s.log},
	}
	s.replMu.Lock()
	if s.base.Err() != nil {
		s.replMu.Unlock()
		return nil
	}
	s.repl = append(s.repl, srv) // shut down with the replication listeners
	s.replMu.Unlock()
	err := srv.Serve(ln)
	if s.base.Err() != nil {
		return nil
	}
	return err
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
