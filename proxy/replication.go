package proxy

import (
	"context"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// ServeReplication accepts connections on ln, the node's
// replication_listen, until Shutdown. That listener answers only signed M4F
// archive calls (ranges, segments, segment, init): replication traffic
// stays off the viewers' listener, and viewers, the API, live pulls and
// stream listings get 404 there. It returns nil after Shutdown.
func (s *Server) ServeReplication(ln net.Listener) error {
	return s.serveSide(ln, s.recoverHTTP("replication", s.handleReplication))
}

// serveSide serves h on ln, a listener beside the viewers' one
// (replication_listen, metrics_listen), until Shutdown, which closes it
// with the others. Requests there carry no body worth more than 4 KiB. It
// returns nil after Shutdown.
func (s *Server) serveSide(ln net.Listener, h fasthttp.RequestHandler) error {
	srv := &fasthttp.Server{
		Handler:                      h,
		Name:                         "edge",
		ReadTimeout:                  s.cfg.ReadTimeout,
		WriteTimeout:                 s.cfg.WriteTimeout,
		IdleTimeout:                  s.cfg.IdleTimeout,
		MaxRequestBodySize:           4 << 10,
		DisablePreParseMultipartForm: true,
		NoDefaultContentType:         true,
		TCPKeepalive:                 true,
		CloseOnShutdown:              true,
		Logger:                       fasthttpLogger{s.log},
	}
	s.replMu.Lock()
	if s.base.Err() != nil {
		s.replMu.Unlock()
		return nil
	}
	s.repl = append(s.repl, srv)
	s.replMu.Unlock()
	err := srv.Serve(ln)
	if s.base.Err() != nil {
		return nil
	}
	return err
}

// handleReplication answers one request on the replication listener.
func (s *Server) handleReplication(ctx *fasthttp.RequestCtx) {
	if !isM4F(ctx) {
		s.m4fm.replication.WithLabelValues("none", "404").Inc()
		ctx.Error("not found: this is a replication listener: it answers signed M4F archive calls only\n", fasthttp.StatusNotFound)
		return
	}
	s.handleM4FCall(ctx, true)
}

// shutdownReplication stops the replication listeners (called by Shutdown).
func (s *Server) shutdownReplication(ctx context.Context) {
	s.replMu.Lock()
	srvs := s.repl
	s.repl = nil
	s.replMu.Unlock()
	for _, srv := range srvs {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = srv.ShutdownWithContext(sctx)
		cancel()
	}
}
