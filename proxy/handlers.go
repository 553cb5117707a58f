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

// writePlaylist renders a playlist of es into the response's own body
// buffer, which fasthttp takes from a pool and gives back after the answer
// is written: a large playlist costs no fresh allocation.
func (s *Server) writePlaylist(ctx *fasthttp.RequestCtx, h playlistHead, es []entry, cacheControl string) {
	ctx.SetContentType(ctypePlaylist)
	ctx.Response.Header.Set("Cache-Control", cacheControl)
	buf := appendPlaylist(ctx.Response.SwapBody(nil)[:0], h, es)
	if ctx.IsHead() {
		ctx.Response.Header.SetContentLength(len(buf))
		buf = buf[:0]
	}
	ctx.Response.SwapBody(buf)
	ctx.SetUserValue(pooledBody{}, true)
}

// pooledBody is the user value set on a request whose body was rendered
// into the response's pooled buffer (applySession must not cache by it).
type pooledBody struct{}

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
	last int64 // Index of the newest segment it lists
	body []byte
}

// liveKey names a rendered live playlist: one per live window and flavour.
type liveKey struct {
	live *cache.Live
	ts   bool
}

// liveTail returns the segments a live playlist lists: the last n of
// segs, none before the newest Break (numbers must follow each other).
func liveTail(segs []cache.LiveSegment, n int) []cache.LiveSegment {
	first := max(0, len(segs)-n)
	for i := len(segs) - 1; i > first; i-- {
		if segs[i].Break {
			first = i
			break
		}
	}
	return segs[first:]
}

// serveLive answers /{name}/index.m3u8 (and video, mono, .fmp4 and .ts
// forms): the last LiveSegments segments of the live window, numbered as
// the capturing node numbered them. The text is rendered once per pushed
// segment and reused until the next one.
func (s *Server) serveLive(ctx *fasthttp.RequestCtx, st Stream, ts bool) error {
	l := st.Live()
	if l == nil {
		return errNoLive
	}
	view := l.Snapshot()
	if len(view.Segments) == 0 {
		return errNoLive
	}
	last := view.Segments[len(view.Segments)-1].Index
	key := liveKey{l, ts}
	if c, ok := s.livePlaylists.Load(key); ok && c.(*renderedPlaylist).last == last {
		s.writePlaylistBody(ctx, c.(*renderedPlaylist).body, cacheShort)
		return nil
	}
	segs := liveTail(view.Segments, s.cfg.LiveSegments)
	es := make([]entry, len(segs))
	for i := range segs {
		ls := &segs[i]
		es[i] = entry{start: ls.Start, dur: ls.Duration, init: ls.InitHash, disc: i > 0 && ls.Disc}
	}
	body := appendPlaylist(nil, playlistHead{kind: playlistLive, target: l.TargetDuration(),
		seq: segs[0].Seq, discSeq: segs[0].DiscSeq, ts: ts}, es)
	s.livePlaylists.Store(key, &renderedPlaylist{last: last, body: body})
	s.writePlaylistBody(ctx, body, cacheShort)
	return nil
}

// liveTarget is the target duration of a stream's live window, 0 when it
// has none (the playlist then computes it from its segments).
func liveTarget(st Stream) int64 {
	if l := st.Live(); l != nil {
		return l.TargetDuration()
	}
	return 0
}

// serveArchive answers archive-{from}-{dur}.m3u8 (and its index-, video-,
// mono- and flavour forms): a VOD playlist of the segments that start in
// [from, from+dur). While the range reaches past the newest segment of a
// live stream it is an EVENT playlist that grows: never a VOD playlist cut
// short. Once the stream has passed its end the EVENT playlist gets
// EXT-X-ENDLIST (a playlist keeps its type for its life, RFC 8216 §6.2.1),
// and once every player that saw it grow has reloaded it since (endedGrace)
// it is served as VOD.
func (s *Server) serveArchive(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, req request) error {
	view, _ := liveView(st)
	end := req.from + req.dur
	es, pooled, err := pooledTimeline(actx, st.Archive(), view, req.from, end)
	defer pooled.release()
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return notFound("no recording in range")
	}
	h := playlistHead{kind: playlistVOD, ts: req.ts}
	growing := false
	if last, ok := view.Last(); ok && last.End() < end {
		growing = true
	}
	if growing || end > s.cfg.Now().UnixMilli()-endedGrace(liveTarget(st)) {
		h.kind, h.target, h.startAtFrom, h.ended = playlistEvent, liveTarget(st), true, !growing
	}
	cc := cacheShort
	if h.kind == playlistVOD && end <= s.cfg.Now().UnixMilli()-settledMs {
		cc = cacheImmutable
	}
	s.writePlaylist(ctx, h, es, cc)
	return nil
}

// endedGrace is how long after its end a range that was growing is still
// served as an EVENT playlist with ENDLIST: four target durations (players
// reload an EVENT playlist about once per target duration), at least 10 s.
func endedGrace(targetSec int64) int64 { return max(10_000, 4*targetSec*1000) }

// serveEvent answers archive-{from}-now.m3u8 and timeshift_abs-{from}.m3u8:
// an EVENT playlist from from up to the newest segment, that players start
// at its first segment (EXT-X-START).
func (s *Server) serveEvent(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, req request) error {
	view, _ := liveView(st)
	es, pooled, err := pooledTimeline(actx, st.Archive(), view, req.from, math.MaxInt64)
	defer pooled.release()
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return notFound("no recording since from")
	}
	s.writePlaylist(ctx, playlistHead{kind: playlistEvent, target: liveTarget(st), startAtFrom: req.startAtFrom, ts: req.ts},
		es, cacheShort)
	return nil
}

// serveRewind answers rewind-{n}.m3u8: a sliding playlist of the segments
// that start in the last n seconds, numbered back from the live window's
// numbers (see numberBack).
func (s *Server) serveRewind(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, req request) error {
	view, ok := liveView(st)
	if !ok || len(view.Segments) == 0 {
		return errNoLive
	}
	es, pooled, err := pooledTimeline(actx, st.Archive(), view, s.cfg.Now().UnixMilli()-req.dur, math.MaxInt64)
	defer pooled.release()
	if err != nil {
		return err
	}
	h, first, ok := numberBack(es)
	if !ok {
		return notFound("no live segment in the rewind window")
	}
	h.target, h.ts = liveTarget(st), req.ts
	s.writePlaylist(ctx, h, es[first:], cacheShort)
	return nil
}

// serveTimeshiftRel answers timeshift_rel-{n}.m3u8: the stream delayed by
// n seconds, as a sliding live playlist (no ENDLIST) of the LiveSegments
// segments that start before now-n. Its segments are numbered back from
// the live window like rewind's, so a segment keeps its numbers across
// reloads.
func (s *Server) serveTimeshiftRel(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, req request) error {
	view, ok := liveView(st)
	if !ok || len(view.Segments) == 0 {
		return errNoLive
	}
	target := liveTarget(st)
	end := s.cfg.Now().UnixMilli() - req.dur
	lead := max(60_000, 2*int64(s.cfg.LiveSegments)*target*1000)
	es, pooled, err := pooledTimeline(actx, st.Archive(), view, end-lead, math.MaxInt64)
	defer pooled.release()
	if err != nil {
		return err
	}
	h, first, ok := numberBack(es)
	if !ok {
		return notFound("no live segment to number the delayed window from")
	}
	j := first
	for j < len(es) && es[j].start < end {
		j++
	}
	if j == first {
		return notFound("no recording that long ago")
	}
	i := max(first, j-s.cfg.LiveSegments)
	for k := first + 1; k <= i; k++ {
		if es[k].disc {
			h.discSeq++
		}
	}
	h.seq += int64(i - first)
	h.target, h.ts = target, req.ts
	s.writePlaylist(ctx, h, es[i:j], cacheShort)
	return nil
}
