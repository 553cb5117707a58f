package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/media/m4f"
	"github.com/edgedvr/edge/sdk"
)

// The server side of M4F v1 (docs/m4f.md): every call under /m4f/ is
// checked with cluster.Verifier before anything else, then routed by
// m4f.ParsePath.

var m4fPrefix = []byte("/m4f/")

// isM4F reports whether the request is a node-to-node call.
func isM4F(ctx *fasthttp.RequestCtx) bool {
	return bytes.HasPrefix(ctx.Request.Header.RequestURI(), m4fPrefix)
}

// m4fCall is a parsed M4F request.
type m4fCall struct {
	route m4f.Route
	node  string // the calling node, once verified
	// archiveOnly: the call came in on the replication listener, which
	// answers the archive endpoints only.
	archiveOnly bool
}

// handleM4F answers one /m4f/ call.
func (s *Server) handleM4F(ctx *fasthttp.RequestCtx) {
	s.handleM4FCall(ctx, false)
}

func (s *Server) handleM4FCall(ctx *fasthttp.RequestCtx, archiveOnly bool) {
	call := m4fCall{archiveOnly: archiveOnly}
	err := s.dispatchM4F(ctx, &call)
	if err != nil {
		s.writeM4FError(ctx, call, err)
	}
	s.m4fm.observe(call.route.Endpoint.String(), ctx.Response.StatusCode())
	if archiveOnly {
		s.m4fm.replication.WithLabelValues(call.route.Endpoint.String(), strconv.Itoa(ctx.Response.StatusCode())).Inc()
	}
}

// m4fHeader returns a request header's value, "" when absent.
func m4fHeader(ctx *fasthttp.RequestCtx) func(string) string {
	return func(name string) string { return string(ctx.Request.Header.Peek(name)) }
}

func (s *Server) dispatchM4F(ctx *fasthttp.RequestCtx, call *m4fCall) error {
	uri := string(ctx.Request.Header.RequestURI())
	get := m4fHeader(ctx)
	v := cluster.Verifier{Key: s.cfg.ClusterKey, Window: s.cfg.ClusterWindow, Now: s.cfg.Now}
	node, err := v.Verify(string(ctx.Method()), uri, get)
	if err != nil {
		reason := authReason(err)
		s.m4fm.authFailures.WithLabelValues(reason).Inc()
		claimed := get(cluster.HeaderNode)
		if len(claimed) > 64 {
			claimed = claimed[:64]
		}
		s.log.Warn("m4f call refused", "remote", ctx.RemoteAddr().String(), "claimed_node", claimed,
			"path", truncate(uri, 200), "reason", err.Error())
		return &httpError{status: fasthttp.StatusForbidden, msg: err.Error()}
	}
	call.node = node
	if !ctx.IsGet() {
		ctx.Response.Header.Set("Allow", "GET")
		return &httpError{status: fasthttp.StatusMethodNotAllowed, msg: "m4f: method not allowed"}
	}
	path := uri
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path == cluster.StatePath {
		return s.serveClusterState(ctx)
	}
	call.route, err = m4f.ParsePath(path, sdk.CheckStreamName)
	if err != nil {
		if errors.Is(err, m4f.ErrUnknownPath) {
			return notFound(err.Error())
		}
		return badRequest(err.Error())
	}
	rt := call.route
	if call.archiveOnly && (rt.Endpoint == m4f.EndpointStreams || rt.Endpoint == m4f.EndpointLive) {
		return notFound("m4f: this is a replication listener: it answers archive calls only")
	}
	if rt.Endpoint == m4f.EndpointStreams {
		return s.serveM4FStreams(ctx)
	}
	if rt.Endpoint == m4f.EndpointLive {
		st, ok := s.cfg.Backend.Stream(rt.Stream)
		if !ok {
			return notFound("m4f: unknown stream " + rt.Stream)
		}
		return s.serveM4FLive(ctx, st, node)
	}

	// Archive calls: chain, window, then the stream.
	actx, cancel := context.WithTimeout(s.base, s.cfg.ArchiveTimeout)
	defer cancel()
	via, hops := get(cluster.HeaderVia), get(cluster.HeaderHops)
	if via != "" || hops != "" {
		chain, err := cluster.ParseChain(via, hops)
		if err != nil {
			return badRequest(err.Error())
		}
		if s.cfg.Node != "" && chain.Has(s.cfg.Node) {
			s.log.Warn("m4f chained call looped back", "stream", rt.Stream, "remote", ctx.RemoteAddr().String(),
				"caller", node, "via", via, "endpoint", rt.Endpoint.String())
			return &httpError{status: fasthttp.StatusLoopDetected,
				msg: "m4f: loop: node " + strconv.Quote(s.cfg.Node) + " is already in " + cluster.HeaderVia}
		}
		actx = cluster.WithChain(actx, chain)
	}
	// newCtx is for the calls of a body written after the handler returns.
	newCtx := func() (context.Context, context.CancelFunc) {
		c, cancel := context.WithTimeout(s.base, s.cfg.ArchiveTimeout)
		if ch, ok := cluster.ChainFrom(actx); ok {
			c = cluster.WithChain(c, ch)
		}
		return c, cancel
	}
	var from, to int64
	if rt.Endpoint == m4f.EndpointRanges || rt.Endpoint == m4f.EndpointSegments || rt.Endpoint == m4f.EndpointBulk {
		args := ctx.QueryArgs()
		from, to, err = m4f.ParseWindow(func(k string) string { return string(args.Peek(k)) })
		if err != nil {
			return badRequest(err.Error())
		}
	}
	st, ok := s.cfg.Backend.Stream(rt.Stream)
	if !ok {
		return notFound("m4f: unknown stream " + rt.Stream)
	}
	switch rt.Endpoint {
	case m4f.EndpointRanges:
		return s.serveM4FRanges(actx, ctx, st, from, to)
	case m4f.EndpointSegments:
		return s.serveM4FSegments(actx, ctx, st, from, to)
	case m4f.EndpointSegment:
		return s.serveM4FSegment(actx, ctx, st, rt.Start)
	case m4f.EndpointBulk:
		return s.serveM4FBulk(actx, ctx, st, from, to, newCtx)
	case m4f.EndpointInit:
		b, err := s.initBytes(actx, st, rt.Hash)
		if err != nil {
			return err
		}
		ctx.Response.Header.Set("Cache-Control", cacheImmutable)
		return serveBytes(ctx, b, ctypeMP4)
	}
	return notFound("m4f: no such endpoint")
}

// writeM4FError answers a failed M4F call with a one-line reason: the
// error's own message for 4xx and for the server's own 503s, a generic one
// for archive failures (the cause is logged).
func (s *Server) writeM4FError(ctx *fasthttp.RequestCtx, call m4fCall, err error) {
	status := statusOf(err)
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	var he *httpError
	own := errors.As(err, &he)
	switch {
	case status == 503 && !own:
		s.log.Warn("m4f call failed", "stream", call.route.Stream, "endpoint", call.route.Endpoint.String(), "caller", call.node, "err", err)
		msg = "archive temporarily unavailable"
	case status >= 500 && !own:
		s.log.Error("m4f call failed", "stream", call.route.Stream, "endpoint", call.route.Endpoint.String(), "caller", call.node, "err", err)
		msg = "internal error"
	}
	ctx.Response.ResetBody()
	ctx.Response.Header.Del("Content-Range")
	ctx.Response.Header.Del("Content-Length")
	for _, h := range [...]string{m4f.HeaderDuration, m4f.HeaderInit, m4f.HeaderChecksum} {
		ctx.Response.Header.Del(h)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBodyString(msg + "\n")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// serveM4FStreams answers GET /m4f/v1/streams.
func (s *Server) serveM4FStreams(ctx *fasthttp.RequestCtx) error {
	names := s.cfg.Backend.StreamNames()
	sort.Strings(names)
	resp := m4f.StreamsResponse{Node: s.cfg.Node, Streams: make([]m4f.StreamInfo, 0, len(names))}
	for _, n := range names {
		st, ok := s.cfg.Backend.Stream(n)
		if !ok {
			continue
		}
		view, _ := liveView(st)
		resp.Streams = append(resp.Streams, m4f.StreamInfo{Name: n, Live: len(view.Segments) > 0, DVR: st.Archive() != nil})
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	return writeJSON(ctx, resp)
}

// serveM4FRanges answers GET /m4f/v1/ranges/{stream}: the archive's
// ranges; an empty list when the stream has no archive.
func (s *Server) serveM4FRanges(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, from, to int64) error {
	resp := m4f.RangesResponse{Ranges: []m4f.Range{}}
	if ar := st.Archive(); ar != nil {
		rs, err := ar.Ranges(actx, from, to)
		if err != nil {
			return archiveError("ranges", err)
		}
		for _, r := range rs {
			resp.Ranges = append(resp.Ranges, m4f.Range{From: r.From, To: r.To})
		}
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	return writeJSON(ctx, resp)
}

// serveM4FSegments answers GET /m4f/v1/segments/{stream}; an empty list
// when the stream has no archive.
func (s *Server) serveM4FSegments(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, from, to int64) error {
	resp := m4f.SegmentsResponse{Segments: []m4f.SegmentInfo{}}
	if ar := st.Archive(); ar != nil {
		infos, err := ar.Segments(actx, from, to)
		if err != nil {
			return archiveError("segments", err)
		}
		for _, si := range infos {
			resp.Segments = append(resp.Segments, m4f.SegmentInfo{Start: si.Start, Duration: si.Duration,
				Size: si.Size, Init: si.InitHash, Checksum: si.Checksum})
		}
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	return writeJSON(ctx, resp)
}

// serveM4FSegment answers GET /m4f/v1/segment/{stream}/{start} from the
// live window, else the archive: a local file is sent with sendfile
// (serveFile), bytes read through Archive.ReadSegment go through the
// memory cache as on the viewer route.
func (s *Server) serveM4FSegment(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, start int64) error {
	h := &ctx.Response.Header
	h.Set("Cache-Control", cacheImmutable)
	setInfo := func(dur int64, init, sum string) {
		h.Set(m4f.HeaderDuration, strconv.FormatInt(dur, 10))
		h.Set(m4f.HeaderInit, init)
		h.Set(m4f.HeaderChecksum, sum)
	}
	if l := st.Live(); l != nil {
		if seg, ok := l.Segment(start); ok {
			if seg.Data != nil {
				setInfo(seg.Duration, seg.InitHash, media.Checksum(seg.Data))
				return serveBytes(ctx, seg.Data, ctypeMP4)
			}
			if f, size, ok := openSized(seg.Path, seg.Size); ok {
				setInfo(seg.Duration, seg.InitHash, seg.Checksum)
				return serveFile(ctx, f, size, ctypeMP4)
			}
			// Its file went (retention): the archive answers below.
		}
	}
	notHere := notFound("m4f: no segment at " + strconv.FormatInt(start, 10))
	ar := st.Archive()
	if ar == nil {
		return notHere
	}
	infos, err := ar.Segments(actx, start, start+1)
	if err != nil {
		return archiveError("segments", err)
	}
	if len(infos) == 0 || infos[0].Start != start {
		return notHere
	}
	info := infos[0]
	sum := func(b []byte) string {
		if info.Checksum != "" {
			return info.Checksum // the index's: the client checks the body against it
		}
		return media.Checksum(b)
	}
	if p := info.Path; p != "" {
		f, err := os.Open(p)
		if err == nil {
			fi, err := f.Stat()
			if err == nil && fi.Mode().IsRegular() && fi.Size() == info.Size {
				if info.Checksum != "" {
					setInfo(info.Duration, info.InitHash, info.Checksum)
					return serveFile(ctx, f, fi.Size(), ctypeMP4)
				}
				b, err := io.ReadAll(io.LimitReader(f, info.Size))
				f.Close()
				if err == nil && int64(len(b)) == info.Size {
					setInfo(info.Duration, info.InitHash, sum(b))
					return serveBytes(ctx, b, ctypeMP4)
				}
			} else {
				f.Close()
			}
		}
		// Removed by retention or rewritten: let the store answer.
	}
	key := cache.Key{Stream: st.Name(), Start: start}
	var b []byte
	if m := s.cfg.Memory; m != nil {
		b, _ = m.Get(key)
	}
	if op, ok := openable(st); ok && b == nil && info.Checksum != "" {
		// Handed on as it arrives, checked against the listing's checksum
		// (sent in the header before the bytes).
		setInfo(info.Duration, info.InitHash, info.Checksum)
		return s.serveOpened(actx, ctx, op, key, ctypeMP4)
	}
	if b == nil {
		if b, err = ar.ReadSegment(actx, start); err != nil {
			return archiveError("read segment "+strconv.FormatInt(start, 10), err)
		}
		if m := s.cfg.Memory; m != nil {
			m.Add(key, b)
		}
	}
	setInfo(info.Duration, info.InitHash, sum(b))
	return serveBytes(ctx, b, ctypeMP4)
}
