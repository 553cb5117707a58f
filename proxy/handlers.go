package proxy

import (
	"context"
	"math"

	"github.com/valyala/fasthttp"

	"github.com/edgedvr/edge/cache"
)

const (
	ctypePlaylist = "application/vnd.apple.mpegurl"
	ctypeMP4      = "video/mp4"
	ctypeSegment  = "video/iso.segment"
	ctypeJSON     = "application/json"

	cacheShort     = "public, max-age=1"
	cacheImmutable = "public, max-age=31536000, immutable"

	// settledMs is how far behind now the end of an archive range must be
	// for its playlist to be cached as immutable.
	settledMs = 60_000
)

// liveView returns the stream's live window, empty when not live.
func liveView(st Stream) (cache.LiveView, bool) {
	l := st.Live()
	if l == nil {
		return cache.LiveView{}, false
	}
	return l.Snapshot(), true
}

func (s *Server) writePlaylist(ctx *fasthttp.RequestCtx, kind playlistKind, seq, discSeq int64, es []entry, cacheControl string) {
	s.writePlaylistBody(ctx, appendPlaylist(nil, kind, seq, discSeq, es), cacheControl)
}

// writePlaylistBody answers with a playlist's text; buf is not modified,
// so a cached one may be shared by many responses.
func (s *Server) writePlaylistBody(ctx *fasthttp.RequestCtx, buf []byte, cacheControl string) {
	ctx.SetContentType(ctypePlaylist)
	ctx.Response.Header.Set("Cache-Control", cacheControl)
	if ctx.IsHead() {
		ctx.Response.Header.SetContentLength(len(buf))
		return
	}
	ctx.Response.SetBodyRaw(buf)
}

// renderedPlaylist is a live playlist as last written for a live window.
type renderedPlaylist struct {
	lastSeq int64 // the newest segment it lists
	body    []byte
}

// serveLive answers /{name}/index.m3u8: the last LiveSegments segments of
// the live window, numbered by the window. The text is rendered once per
// pushed segment and reused until the next one.
func (s *Server) serveLive(ctx *fasthttp.RequestCtx, st Stream) error {
	l := st.Live()
	if l == nil {
		return errNoLive
	}
	view := l.Snapshot()
	if len(view.Segments) == 0 {
		return errNoLive
	}
	lastSeq := view.Segments[len(view.Segments)-1].Seq
	if c, ok := s.livePlaylists.Load(l); ok && c.(*renderedPlaylist).lastSeq == lastSeq {
		s.writePlaylistBody(ctx, c.(*renderedPlaylist).body, cacheShort)
		return nil
	}
	segs := view.Segments[max(0, len(view.Segments)-s.cfg.LiveSegments):]
	es := make([]entry, len(segs))
	for i := range segs {
		ls := &segs[i]
		es[i] = entry{start: ls.Start, dur: ls.Duration, init: ls.InitHash, disc: i > 0 && ls.Disc}
	}
	body := appendPlaylist(nil, playlistLive, segs[0].Seq, segs[0].DiscSeq, es)
	s.livePlaylists.Store(l, &renderedPlaylist{lastSeq: lastSeq, body: body})
	s.writePlaylistBody(ctx, body, cacheShort)
	return nil
}

// serveArchive answers archive-{from}-{dur}.m3u8: a VOD playlist of the
// segments that start in [from, from+dur).
func (s *Server) serveArchive(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, req request) error {
	view, _ := liveView(st)
	es, err := timeline(actx, st.Archive(), view, req.from, req.from+req.dur)
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return notFound("no recording in range")
	}
	cc := cacheShort
	if req.from+req.dur <= s.cfg.Now().UnixMilli()-settledMs {
		cc = cacheImmutable
	}
	s.writePlaylist(ctx, playlistVOD, 0, 0, es, cc)
	return nil
}

// serveEvent answers archive-{from}-now.m3u8: an EVENT playlist from from
// up to the newest segment.
func (s *Server) serveEvent(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, req request) error {
	view, _ := liveView(st)
	es, err := timeline(actx, st.Archive(), view, req.from, math.MaxInt64)
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return notFound("no recording since from")
	}
	s.writePlaylist(ctx, playlistEvent, 0, 0, es, cacheShort)
	return nil
}

// serveRewind answers rewind-{n}.m3u8: a sliding playlist of the segments
// that start in the last n seconds, numbered back from the live window's
// numbers (see sequenceFromLive).
func (s *Server) serveRewind(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, req request) error {
	view, ok := liveView(st)
	if !ok || len(view.Segments) == 0 {
		return errNoLive
	}
	es, err := timeline(actx, st.Archive(), view, s.cfg.Now().UnixMilli()-req.dur, math.MaxInt64)
	if err != nil {
		return err
	}
	seq, discSeq, ok := sequenceFromLive(es)
	if !ok {
		return notFound("no live segment in the rewind window")
	}
	s.writePlaylist(ctx, playlistLive, seq, discSeq, es, cacheShort)
	return nil
}
