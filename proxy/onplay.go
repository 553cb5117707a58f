package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"golang.org/x/sync/singleflight"
)

// Viewer authorization through an HTTP backend (on_play), as
// docs/http-api.md describes it for operators.
const (
	// DefaultSessionIdle is how long a viewer session lives unused, unless
	// the backend's X-AuthDuration says otherwise.
	DefaultSessionIdle = 3 * time.Minute
	// MaxSessionIdle bounds X-AuthDuration.
	MaxSessionIdle = 24 * time.Hour
	// OnPlayTimeout is the deadline of one call to the backend.
	OnPlayTimeout = 2 * time.Second
	// AuthDurationHeader is the backend's answer header that sets the
	// session's idle time, in whole seconds (1 to 86400).
	AuthDurationHeader = "X-AuthDuration"
	// sessionDir starts the path element that carries a session id in the
	// segment and init URLs of a playlist: /{name}/session-{id}/s-1.m4s.
	sessionDir = "session-"
	// failureLogEvery is how often a failing backend is logged at most.
	failureLogEvery = 10 * time.Second
	// sweepEvery is how often expired sessions are dropped.
	sweepEvery = 10 * time.Second
)

// Policy is who may watch and who may steer; SetPolicy swaps it in whole
// (at start and on each reload).
type Policy struct {
	// AdminKey is the credential of the admin surfaces (admin.go). By
	// default, empty: only loopback callers reach them.
	AdminKey string
	// OnPlay returns the on_play backend URL of a stream, "" when its
	// viewers are not checked. By default, nil: nobody is checked.
	OnPlay func(stream string) string
	// FailOpen lets viewers in when the backend cannot answer. By
	// default, false: they get 503.
	FailOpen bool
}

// SetPolicy swaps in p for the requests that start from now on. Sessions
// already allowed stay allowed until they expire.
func (s *Server) SetPolicy(p Policy) { s.policy.Store(&p) }

// onPlay is the server's state of viewer authorization.
type onPlay struct {
	sessions *sessions
	client   *http.Client
	group    singleflight.Group
	metrics  *onPlayMetrics

	logMu  sync.Mutex
	bursts map[string]*failureBurst // backend URL -> failures not logged yet
}

type failureBurst struct {
	logged     time.Time
	suppressed int
}

type onPlayMetrics struct {
	sessions *prometheus.CounterVec
	errors   prometheus.Counter
	latency  prometheus.Histogram
}

func newOnPlay(reg prometheus.Registerer) *onPlay {
	o := &onPlay{
		sessions: newSessions(),
		client: &http.Client{
			Timeout: OnPlayTimeout,
			// A redirect is not an answer: it counts as a failure.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		bursts: map[string]*failureBurst{},
	}
	o.metrics = &onPlayMetrics{
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "on_play", Name: "sessions_total",
			Help: "Viewer sessions asked for, by result: allowed, denied (by the backend), failed_allowed and failed_denied (the backend could not answer; on_play_failure chose).",
		}, []string{"result"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "on_play", Name: "backend_errors_total",
			Help: "Calls to on_play backends that got no answer, a 5xx or another status that neither allows nor denies.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "edge", Subsystem: "on_play", Name: "backend_seconds",
			Help:    "Time of calls to on_play backends, failed ones included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2},
		}),
	}
	active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "edge", Subsystem: "on_play", Name: "sessions",
		Help: "Viewer sessions alive now (expired ones are counted until the next sweep, at most 10 s).",
	}, func() float64 { return float64(o.sessions.count.Load()) })
	for _, r := range []string{"allowed", "denied", "failed_allowed", "failed_denied"} {
		o.metrics.sessions.WithLabelValues(r)
	}
	reg.MustRegister(o.metrics.sessions, o.metrics.errors, o.metrics.latency, active)
	return o
}

// sweepSessions drops expired sessions until ctx ends.
func (s *Server) sweepSessions(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.onplay.sessions.sweep(s.cfg.Now().UnixNano())
		}
	}
}

// playProto is the protocol a route is played with, as the backend is told.
func playProto(rt route) string {
	switch rt {
	case routeExport:
		return "mp4"
	case routeTSLive, routeTSRange:
		return "mpegts"
	case routeRecordingStatus:
		return "recording_status"
	}
	return "hls"
}

// playlistRoute reports whether rt answers a media playlist whose URIs a
// session rewrites.
func playlistRoute(rt route) bool {
	switch rt {
	case routeLive, routeArchive, routeEvent, routeRewind, routeTimeshiftRel:
		return true
	}
	return false
}

// errOnPlayUnavailable answers a viewer when the backend cannot answer and
// the policy is to deny; writeError does not log it (logFailure does, once
// per burst).
var errOnPlayUnavailable = &httpError{status: fasthttp.StatusServiceUnavailable, msg: "authorization backend unavailable; try again"}

var errSessionGone = &httpError{status: fasthttp.StatusForbidden, msg: "forbidden: viewer session expired or unknown; reload the playlist"}

// authorize lets the request on a stream through, or returns why not. For
// a playlist it returns the session whose id the playlist's URIs carry
// (nil when none).
func (s *Server) authorize(ctx *fasthttp.RequestCtx, req request) (*session, error) {
	pol := s.policy.Load()
	if pol == nil || pol.OnPlay == nil {
		return nil, nil
	}
	backend := pol.OnPlay(req.name)
	if backend == "" {
		return nil, nil
	}
	now := s.cfg.Now().UnixNano()
	if req.session != "" {
		se := s.onplay.sessions.byID(req.session, now)
		if se == nil || se.stream != req.name {
			return nil, errSessionGone
		}
		return nil, nil
	}
	if s.adminAuthorized(ctx, pol) {
		return nil, nil // the operator, from the overview's player
	}
	proto := playProto(req.route)
	tokenB := ctx.QueryArgs().Peek("token")
	ipB := ctx.RemoteIP()
	if ip4 := ipB.To4(); ip4 != nil {
		ipB = ip4 // one form per address in the key
	}
	// The key: protocol, stream, IP and token, built on the stack.
	var buf [256]byte
	kb := append(buf[:0], proto...)
	kb = append(kb, 0)
	kb = append(kb, req.name...)
	kb = append(kb, 0)
	kb = append(kb, ipB...)
	kb = append(kb, 0)
	kb = append(kb, tokenB...)
	se := s.onplay.sessions.byKey(kb, now)
	if se == nil {
		key, token, ip := string(kb), string(tokenB), ipB.String()
		v, err, _ := s.onplay.group.Do(key, func() (any, error) {
			// A request that waited on another's call finds its session.
			if se := s.onplay.sessions.byKey([]byte(key), s.cfg.Now().UnixNano()); se != nil {
				return se, nil
			}
			return s.askBackend(backend, pol.FailOpen, req.name, token, ip, proto, key)
		})
		if err != nil {
			return nil, err
		}
		se = v.(*session)
	}
	if playlistRoute(req.route) {
		return se, nil
	}
	return nil, nil
}

// askBackend calls the on_play backend for a new session and stores the
// session it allows.
func (s *Server) askBackend(backend string, failOpen bool, stream, token, ip, proto, key string) (*session, error) {
	o := s.onplay
	id := newSessionID()
	began := time.Now()
	idle, err := o.call(s.base, backend, url.Values{
		"name": {stream}, "token": {token}, "ip": {ip}, "proto": {proto}, "session_id": {id},
	})
	o.metrics.latency.Observe(time.Since(began).Seconds())
	var denied *httpError
	switch {
	case errors.As(err, &denied):
		o.metrics.sessions.WithLabelValues("denied").Inc()
		return nil, err
	case err != nil:
		o.metrics.errors.Inc()
		s.logFailure(backend, stream, err)
		if !failOpen {
			o.metrics.sessions.WithLabelValues("failed_denied").Inc()
			return nil, errOnPlayUnavailable
		}
		o.metrics.sessions.WithLabelValues("failed_allowed").Inc()
		idle = DefaultSessionIdle
	default:
		o.metrics.sessions.WithLabelValues("allowed").Inc()
	}
	se := &session{id: id, key: key, stream: stream, idle: idle}
	o.sessions.add(se, s.cfg.Now().UnixNano())
	return se, nil
}

// call asks backend about one viewer: the idle time of the session on a
// 2xx, an *httpError 403 on a 4xx, another error when the backend did not
// answer either way.
func (o *onPlay) call(ctx context.Context, backend string, q url.Values) (time.Duration, error) {
	u := backend
	if strings.Contains(u, "?") {
		u += "&" + q.Encode()
	} else {
		u += "?" + q.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, OnPlayTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := o.client.Do(req)
	if err != nil {
		// *url.Error repeats the URL, with the viewer's token and the
		// backend's own query: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			return 0, fmt.Errorf("GET %s: %w", redactURL(backend), ue.Err)
		}
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return authDuration(resp.Header.Get(AuthDurationHeader)), nil
	case c >= 400 && c < 500:
		return 0, &httpError{status: fasthttp.StatusForbidden, msg: "forbidden: not allowed to watch this stream"}
	default:
		return 0, fmt.Errorf("backend answered %d", c)
	}
}

// authDuration parses X-AuthDuration: whole seconds from 1 to 86400; an
// absent or bad value gives DefaultSessionIdle.
func authDuration(v string) time.Duration {
	if v == "" {
		return DefaultSessionIdle
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || time.Duration(n)*time.Second > MaxSessionIdle {
		return DefaultSessionIdle
	}
	return time.Duration(n) * time.Second
}

// logFailure logs a failing backend once per failureLogEvery, with how
// many failures it did not log since.
func (s *Server) logFailure(backend, stream string, err error) {
	o := s.onplay
	now := time.Now()
	o.logMu.Lock()
	b := o.bursts[backend]
	if b == nil {
		b = &failureBurst{}
		o.bursts[backend] = b
	}
	if now.Sub(b.logged) < failureLogEvery {
		b.suppressed++
		o.logMu.Unlock()
		return
	}
	suppressed := b.suppressed
	b.logged, b.suppressed = now, 0
	o.logMu.Unlock()
	s.log.Warn("on_play backend failed", "backend", redactURL(backend), "stream", stream,
		"error", err, "not_logged_since_last", suppressed)
}

// redactURL drops the query of a backend URL from logs: it may hold a key.
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}

// withSession returns a copy of playlist with session-{id}/ before every
// URI (segment lines and EXT-X-MAP URI), so segment and init requests carry
// the session in their path even for players that drop query strings.
func withSession(playlist []byte, id string) []byte {
	out := make([]byte, 0, len(playlist)+(len(sessionDir)+sessionIDLen+1)*(1+len(playlist)/64))
	const mapTag = `#EXT-X-MAP:URI="`
	for len(playlist) > 0 {
		line := playlist
		if i := bytes.IndexByte(playlist, '\n'); i >= 0 {
			line = playlist[:i+1]
		}
		playlist = playlist[len(line):]
		switch {
		case len(line) > len(mapTag) && string(line[:len(mapTag)]) == mapTag:
			out = append(out, mapTag...)
			out = appendSessionDir(out, id)
			out = append(out, line[len(mapTag):]...)
		case line[0] != '#' && line[0] != '\n':
			out = appendSessionDir(out, id)
			out = append(out, line...)
		default:
			out = append(out, line...)
		}
	}
	return out
}

func appendSessionDir(b []byte, id string) []byte {
	b = append(b, sessionDir...)
	b = append(b, id...)
	return append(b, '/')
}

// applySession rewrites the playlist just answered so that its URIs carry
// the session's id; such a playlist is one viewer's and no shared cache may
// keep it.
func (s *Server) applySession(ctx *fasthttp.RequestCtx, se *session) {
	if ctx.Response.StatusCode() != fasthttp.StatusOK || ctx.IsHead() || ctx.Response.IsBodyStream() {
		return
	}
	body := ctx.Response.Body()
	var out []byte
	if ctx.UserValue(pooledBody{}) != nil {
		// Rendered into the response's pooled buffer, which another
		// request reuses: never the same rendering twice.
		out = withSession(body, se.id)
	} else if rw := se.rewritten.Load(); rw != nil && len(rw.src) == len(body) && len(body) > 0 && &rw.src[0] == &body[0] {
		out = rw.out // the same shared rendering as last time
	} else {
		out = withSession(body, se.id)
		se.rewritten.Store(&rewrite{src: body, out: out})
	}
	ctx.Response.SetBodyRaw(out)
	ctx.Response.Header.Set("Cache-Control", "private, no-cache")
}
