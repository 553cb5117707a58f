// Package proxy is the fasthttp viewer front: routing, HLS playlists, segments, MP4 export, the JSON API and /metrics.
package proxy

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"golang.org/x/sync/singleflight"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/internal/safe"
	"github.com/edgedvr/edge/media/m4f"
)

// Config configures a Server.
type Config struct {
	// Backend gives the streams. Required.
	Backend Backend
	// Memory is the memory segment cache shared by the node. By default,
	// nil: segments read through Archive.ReadSegment are not cached. When
	// set, the server registers its collector on Registry.
	Memory *cache.Memory
	// Registry receives the server's metrics and is what /metrics serves,
	// with whatever collectors the node registered on it. By default, a new
	// registry.
	Registry *prometheus.Registry
	// Logger for request errors. By default, slog.Default().
	Logger *slog.Logger
	// Node is this node's name: it answers /m4f/v1/streams and detects
	// chained calls that loop back here. The Logger should carry it.
	Node string
	// LiveSegments is how many segments the live playlist (index.m3u8)
	// lists. By default, 6.
	LiveSegments int
	// ArchiveTimeout bounds each request's archive calls. By default, 5s.
	ArchiveTimeout time.Duration
	// ReadTimeout bounds reading a request. By default, 10s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response; an MP4 export pushes it
	// forward for each segment it writes. By default, 30s.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long. By default, 60s.
	IdleTimeout time.Duration
	// Now returns the wall clock. By default, time.Now.
	Now func() time.Time

	// ClusterKey is the node's cluster_key: every /m4f/ call must be signed
	// with it (cluster.Verifier). Empty means node-to-node calls are off:
	// every /m4f/ call gets 403.
	ClusterKey string
	// ClusterWindow is how far a call's X-Edge-Time may be from Now. By
	// default, cluster.DefaultWindow.
	ClusterWindow time.Duration
	// M4FHeartbeat is how long a live M4F response goes without a frame
	// before it sends a heartbeat. By default, m4f.HeartbeatInterval.
	M4FHeartbeat time.Duration
	// M4FBacklog is how many segments of the live window a live M4F
	// response starts with. By default, m4f.DefaultBacklog.
	M4FBacklog int
	// Reload, when set, reloads the node's topology file for POST
	// /api/v1/reload (reload.go) and returns what changed; an error
	// wrapping ErrReloadInvalid means nothing changed, and why. By
	// default, nil: the call answers 404.
	Reload func(ctx context.Context) (any, error)
	// Plugins, when set, lists the node's plugin processes for GET
	// /api/v1/plugins, sorted by name. By default, nil: the list is empty.
	Plugins func() []PluginStatus
	// M4FLiveWait is how long a live M4F request for a stream with no live
	// segment yet waits for the first one before it answers 503. By
	// default, 5s.
	M4FLiveWait time.Duration
}

// Server serves viewers over HTTP.
type Server struct {
	cfg     Config
	log     *slog.Logger
	srv     *fasthttp.Server
	metrics *metrics
	m4fm    *m4fMetrics
	promh   fasthttp.RequestHandler
	inits   *lru.Cache[string, []byte] // stream + "/" + hash -> init bytes read from archives
	// livePlaylists holds the last rendered index.m3u8 per live window
	// (*cache.Live -> *renderedPlaylist): it changes only when a segment
	// is pushed, and is asked for far more often.
	livePlaylists sync.Map
	// tsGroup collapses concurrent remuxes of one segment into MPEG-TS.
	tsGroup singleflight.Group
	tsm     *tsMetrics
	viewers viewers // live clients per stream, for the API and the overview

	base   context.Context
	cancel context.CancelFunc

	replMu sync.Mutex
	repl   []*fasthttp.Server // replication and metrics listeners (ServeReplication, ServeMetrics); guarded by replMu

	policy atomic.Pointer[Policy] // SetPolicy; nil: nobody is checked, admin surfaces loopback only
	onplay *onPlay

	testPanicPath string // recover.go: TestPanicPathEnv, tests only
}

// New returns a Server with cfg's defaults filled in.
func New(cfg Config) *Server {
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.LiveSegments <= 0 {
		cfg.LiveSegments = 6
	}
	if cfg.ArchiveTimeout <= 0 {
		cfg.ArchiveTimeout = 5 * time.Second
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClusterWindow <= 0 {
		cfg.ClusterWindow = cluster.DefaultWindow
	}
	if cfg.M4FHeartbeat <= 0 {
		cfg.M4FHeartbeat = m4f.HeartbeatInterval
	}
	if cfg.M4FBacklog <= 0 {
		cfg.M4FBacklog = m4f.DefaultBacklog
	}
	if cfg.M4FLiveWait <= 0 {
		cfg.M4FLiveWait = 5 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.inits, _ = lru.New[string, []byte](1024)
	s.metrics = newMetrics(cfg.Registry)
	s.m4fm = newM4FMetrics(cfg.Registry)
	s.tsm = newTSMetrics(cfg.Registry)
	s.onplay = newOnPlay(cfg.Registry)
	go s.sweepSessions(s.base)
	if cfg.Memory != nil {
		cfg.Registry.MustRegister(cfg.Memory.Collector())
	}
	if err := safe.Register(cfg.Registry); err != nil {
		s.log.Error("register the panics counter", "error", err)
	}
	s.testPanicPath = testPanicPathFromEnv()
	s.promh = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	s.srv = &fasthttp.Server{
		Handler:                       s.recoverHTTP("http", s.handle),
		Name:                          "edge",
		ReadTimeout:                   cfg.ReadTimeout,
		WriteTimeout:                  cfg.WriteTimeout,
		IdleTimeout:                   cfg.IdleTimeout,
		MaxRequestBodySize:            4 << 10, // viewers send no bodies
		DisablePreParseMultipartForm:  true,
		ReduceMemoryUsage:             false,
		NoDefaultContentType:          true,
		TCPKeepalive:                  true,
		CloseOnShutdown:               true,
		DisableHeaderNamesNormalizing: false,
		Logger:                        fasthttpLogger{s.log},
	}
	return s
}

// Serve accepts connections on ln until Shutdown. It returns nil after
// Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.Serve(ln)
	if s.base.Err() != nil {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, cancels the archive calls of
// requests in flight and waits for them to finish, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.replMu.Lock()
	s.cancel()
	s.replMu.Unlock()
	s.shutdownReplication(ctx)
	return s.srv.ShutdownWithContext(ctx)
}

type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug("fasthttp", "msg", format, "args", args)
}

// The CORS headers of every answer, as bytes in canonical form: set with
// SetCanonical, they are not normalised again on each request.
var (
	headerAllowOrigin   = []byte("Access-Control-Allow-Origin")
	allowOriginAny      = []byte("*")
	headerExposeHeaders = []byte("Access-Control-Expose-Headers")
	exposedHeaders      = []byte("Content-Length, Content-Range, Content-Disposition, X-Edge-Export-Truncated")
)

// handle is the one fasthttp handler: it routes, runs the handler, and
// turns its error into an answer.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	if isM4F(ctx) {
		s.handleM4F(ctx)
		return
	}
	if isReload(ctx) {
		s.handleReload(ctx)
		return
	}
	began := time.Now()
	h := &ctx.Response.Header
	h.SetCanonical(headerAllowOrigin, allowOriginAny)
	h.SetCanonical(headerExposeHeaders, exposedHeaders)
	var req request
	err := s.dispatch(ctx, &req)
	rt := req.route
	if err != nil {
		s.writeError(ctx, req, err)
	}
	size := 0
	if !ctx.IsHead() {
		if ctx.Response.IsBodyStream() {
			size = max(0, ctx.Response.Header.ContentLength())
		} else {
			size = len(ctx.Response.Body())
		}
	}
	s.metrics.observe(rt, ctx.Response.StatusCode(), size, time.Since(began))
}

// dispatch parses the request into *req and runs its handler.
func (s *Server) dispatch(ctx *fasthttp.RequestCtx, req *request) error {
	switch {
	case ctx.IsGet(), ctx.IsHead():
	case ctx.IsOptions():
		h := &ctx.Response.Header
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Range, If-None-Match, If-Modified-Since")
		h.Set("Access-Control-Max-Age", "86400")
		h.Set("Allow", "GET, HEAD, OPTIONS")
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		req.route = routeOptions
		return nil
	default:
		ctx.Response.Header.Set("Allow", "GET, HEAD, OPTIONS")
		return &httpError{status: fasthttp.StatusMethodNotAllowed, msg: "method not allowed"}
	}
	path := b2s(ctx.Request.Header.RequestURI())
	if i := indexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	var err error
	*req, err = parsePath(path, s.cfg.Now().UnixMilli())
	if err != nil {
		return err
	}
	if adminRoute(req.route) {
		if err := s.checkAdmin(ctx); err != nil {
			return err
		}
	}
	switch req.route {
	case routeMetrics:
		s.promh(ctx)
		return nil
	case routeAPIStreams:
		return s.serveAPIStreams(ctx)
	case routeAPIStream:
		return s.serveAPIStream(ctx, req.name)
	case routeAPICluster:
		return s.serveAPICluster(ctx)
	case routeAPINode:
		return s.serveAPINode(ctx)
	case routeAPIPlugins:
		return s.serveAPIPlugins(ctx)
	case routeOpenAPI:
		return s.serveOpenAPI(ctx)
	case routeUI:
		return s.serveUI(ctx, req.name)
	}
	if s.routeCluster(ctx, req.name) {
		return nil
	}
	st, ok := s.cfg.Backend.Stream(req.name)
	if !ok {
		return s.redirect(ctx, req.name)
	}
	if s.balanceViewer(ctx, req.route, req.name) {
		return nil
	}
	se, err := s.authorize(ctx, *req)
	if err != nil {
		return err
	}
	if se != nil {
		defer s.applySession(ctx, se)
	}
	switch req.route {
	case routeLive, routeRewind, routeEvent, routeTimeshiftRel, routeTSLive:
		// Live playlists only: players reload them every few seconds,
		// which keeps an on-demand stream pulled; segment and init URLs
		// are shared with archive playlists and must not start live pulls.
		// Watch bounds its own wait.
		watch(s.base, st)
		s.viewers.touch(req.name, viewerKey(ctx), s.cfg.Now())
	}
	if req.route == routeLive {
		// The live playlist calls no archive: no deadline to set up (under
		// wrk, one was 7% of the node's CPU).
		return s.serveLive(ctx, st, req.ts)
	}
	actx, cancel := context.WithTimeout(s.base, s.cfg.ArchiveTimeout)
	defer cancel()
	switch req.route {
	case routeTimeshiftRel:
		return s.serveTimeshiftRel(actx, ctx, st, *req)
	case routeTSSegment:
		return s.serveTSSegment(actx, ctx, st, req.start)
	case routeTSLive, routeTSRange:
		return s.serveTSStream(actx, ctx, st, *req)
	case routeArchive:
		return s.serveArchive(actx, ctx, st, *req)
	case routeEvent:
		return s.serveEvent(actx, ctx, st, *req)
	case routeRewind:
		return s.serveRewind(actx, ctx, st, *req)
	case routeExport:
		return s.serveExport(actx, ctx, st, *req)
	case routeRecordingStatus:
		return s.serveRecordingStatus(actx, ctx, st)
	case routeInit:
		return s.serveInit(actx, ctx, st, req.hash)
	case routeSegment:
		return s.serveSegment(actx, ctx, st, req.start)
	}
	return notFound("no such resource")
}

// writeError turns a handler error into an answer: a one-line reason for
// 4xx, a generic one for 5xx (the cause is logged).
func (s *Server) writeError(ctx *fasthttp.RequestCtx, req request, err error) {
	status := statusOf(err)
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	rt := req.route
	switch {
	case err == errOnPlayUnavailable:
		// Logged once per burst by logFailure.
	case status == 503:
		s.log.Warn("request failed", "stream", req.name, "route", rt.String(), "path", string(ctx.Path()), "err", err)
		msg = "archive temporarily unavailable"
	case status >= 500:
		s.log.Error("request failed", "stream", req.name, "route", rt.String(), "path", string(ctx.Path()), "err", err)
		msg = "internal error"
	}
	if status != 416 { // a 416 keeps its "Content-Range: bytes */size"
		ctx.Response.Header.Del("Content-Range")
	}
	ctx.Response.ResetBody()
	ctx.Response.Header.Del("Content-Disposition")
	ctx.Response.Header.Del("Cache-Control")
	ctx.Response.Header.Del("Content-Length")
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBodyString(msg + "\n")
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// b2s copies: request buffers are reused after the handler returns.
func b2s(b []byte) string { return string(b) }

var errNoLive = notFound("stream is not live on this node")
