package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/media/mpegts"
)

const ctypeTS = "video/mp2t"

// tsLiveIdle ends a live MPEG-TS response when the stream delivers no new
// segment for this long (it stopped, or its source died).
const tsLiveIdle = 30 * time.Second

// tsMetrics count the MPEG-TS outputs (namespace "edge", subsystem "mpegts").
type tsMetrics struct {
	remuxed prometheus.Counter
	viewers prometheus.Gauge
	bytes   prometheus.Counter
}

func newTSMetrics(reg prometheus.Registerer) *tsMetrics {
	m := &tsMetrics{
		remuxed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "mpegts", Name: "remuxed_segments_total",
			Help: "fMP4 segments remuxed into standalone MPEG-TS segments (each once, then served from the memory cache).",
		}),
		viewers: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "edge", Subsystem: "mpegts", Name: "stream_viewers",
			Help: "Open MPEG-TS stream responses (live mpegts, timeshift_abs .ts, archive .ts).",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "mpegts", Name: "stream_bytes_total",
			Help: "Bytes sent in MPEG-TS stream responses.",
		}),
	}
	reg.MustRegister(m.remuxed, m.viewers, m.bytes)
	return m
}

// findEntry returns the timeline entry of the segment that starts at start:
// from the live window, else from the archive.
func (s *Server) findEntry(actx context.Context, st Stream, start int64) (entry, error) {
	if l := st.Live(); l != nil {
		if seg, ok := l.Segment(start); ok {
			return liveEntry(&seg), nil
		}
	}
	ar := st.Archive()
	if ar == nil {
		return entry{}, notFound("no segment at " + strconv.FormatInt(start, 10))
	}
	infos, err := ar.Segments(actx, start, start+1)
	if err != nil {
		return entry{}, archiveError("segments", err)
	}
	if len(infos) == 0 || infos[0].Start != start {
		return entry{}, notFound("no segment at " + strconv.FormatInt(start, 10))
	}
	si := infos[0]
	return entry{start: si.Start, dur: si.Duration, size: si.Size, init: si.InitHash, path: si.Path}, nil
}

// tsSegment returns the segment that starts at start as a standalone
// MPEG-TS segment. Each segment is remuxed once: the result goes into the
// memory cache, and concurrent requests for one segment share one remux.
func (s *Server) tsSegment(actx context.Context, st Stream, start int64) ([]byte, error) {
	key := cache.Key{Stream: st.Name(), Start: start, Format: cache.MPEGTS}
	if m := s.cfg.Memory; m != nil {
		if b, ok := m.Get(key); ok {
			return b, nil
		}
	}
	v, err, _ := s.tsGroup.Do(st.Name()+"/"+strconv.FormatInt(start, 10), func() (any, error) {
		e, err := s.findEntry(actx, st, start)
		if err != nil {
			return nil, err
		}
		data, err := s.segmentBytes(actx, st, &e)
		if err != nil {
			return nil, err
		}
		initData, err := s.initBytes(actx, st, e.init)
		if err != nil {
			return nil, err
		}
		b, err := mpegts.Remux(media.Init{Hash: e.init, Data: initData}, data)
		if err != nil {
			return nil, fmt.Errorf("mpegts: segment %d: %w", start, err)
		}
		s.tsm.remuxed.Inc()
		if m := s.cfg.Memory; m != nil {
			m.Add(key, b)
		}
		return b, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// serveTSSegment answers s-{start}.ts, the segments of the MPEG-TS HLS
// flavour (.ts.m3u8 playlists).
func (s *Server) serveTSSegment(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, start int64) error {
	b, err := s.tsSegment(actx, st, start)
	if err != nil {
		return err
	}
	ctx.Response.Header.Set("Cache-Control", cacheImmutable)
	return serveBytes(ctx, b, ctypeTS)
}

// serveTSStream answers the MPEG-TS streams, remuxed from the stored fMP4
// as they are sent, over chunked HTTP:
//
//	/{name}/mpegts                  live, from the newest segment on, endless
//	timeshift_abs-{from}.ts         from from, through the archive into live, endless
//	archive-{from}-{dur}.ts         the range, finite (dur "now": up to now)
//	archive/{from}/{dur}/mpegts     the same (Ministra's legacy form)
func (s *Server) serveTSStream(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, req request) error {
	b := &tsBody{s: s, st: st, conn: ctx.Conn(), timeout: s.cfg.WriteTimeout,
		log: s.log.With("stream", st.Name(), "remote", ctx.RemoteAddr().String())}
	switch {
	case req.route == routeTSLive:
		view, ok := liveView(st)
		if !ok || len(view.Segments) == 0 {
			return errNoLive
		}
		b.follow = true
		b.lastStart = view.Segments[len(view.Segments)-1].Start - 1 // start with the newest segment
	default:
		to := int64(math.MaxInt64)
		switch {
		case req.dur > 0:
			to = req.from + req.dur
		case !req.endless:
			to = s.cfg.Now().UnixMilli() // archive-{from}-now.ts
		}
		view, _ := liveView(st)
		es, err := timeline(actx, st.Archive(), view, req.from, to)
		if err != nil {
			return err
		}
		if len(es) == 0 && !req.endless {
			return notFound("no recording in range")
		}
		b.es, b.follow = es, req.endless
		b.lastStart = req.from - 1
		if len(es) > 0 {
			b.lastStart = es[len(es)-1].start
		}
	}
	h := &ctx.Response.Header
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	ctx.SetContentType(ctypeTS)
	if ctx.IsHead() {
		return nil
	}
	ctx.Response.SetBodyStream(b, -1)
	return nil
}

// tsBody is the body of an MPEG-TS stream response: es remuxed one
// segment at a time through one Muxer (continuity counters and timestamps
// run on across segments), then, when follow is set, every new segment of
// the live window. fasthttp calls WriteTo on its connection goroutine after
// the handler returned; it returns when the range is sent, the client is
// gone, the stream stops, or the server shuts down.
type tsBody struct {
	s         *Server
	st        Stream
	conn      net.Conn      // its write deadline is pushed forward per segment
	timeout   time.Duration // per segment
	log       *slog.Logger
	es        []entry
	follow    bool
	lastStart int64 // follow: send live segments that start after this
	piped
}

// SupportsBodyWriteTo lets fasthttp use WriteTo (fasthttp.BodyWriterTo).
func (b *tsBody) SupportsBodyWriteTo() bool { return true }

func (b *tsBody) Read(p []byte) (int, error) { return b.piped.read(p, b.WriteTo) }

func (b *tsBody) WriteTo(w io.Writer) (int64, error) {
	s := b.s
	s.tsm.viewers.Inc()
	defer s.tsm.viewers.Dec()
	cw := &countWriter{w: w}
	mux := mpegts.NewMuxer(cw)
	fl, _ := w.(flusher)
	sent := int64(0)
	defer func() { s.tsm.bytes.Add(float64(cw.n - sent)) }()
	send := func(e *entry) error {
		actx, cancel := context.WithTimeout(s.base, s.cfg.ArchiveTimeout)
		defer cancel()
		data, err := s.segmentBytes(actx, b.st, e)
		if err != nil {
			return err
		}
		initData, err := s.initBytes(actx, b.st, e.init)
		if err != nil {
			return err
		}
		if b.conn != nil && b.timeout > 0 {
			_ = b.conn.SetWriteDeadline(time.Now().Add(b.timeout))
		}
		if err := mux.WriteSegment(media.Init{Hash: e.init, Data: initData}, data); err != nil {
			return err
		}
		if fl != nil {
			if err := fl.Flush(); err != nil {
				return err
			}
		}
		s.tsm.bytes.Add(float64(cw.n - sent))
		sent = cw.n
		return nil
	}
	for i := range b.es {
		if err := send(&b.es[i]); err != nil {
			b.log.Debug("mpegts stream ended", "error", err)
			return cw.n, err
		}
	}
	if !b.follow {
		return cw.n, nil
	}
	lastNew := time.Now()
	for {
		if s.base.Err() != nil {
			return cw.n, nil
		}
		watch(s.base, b.st) // a TS viewer keeps an on-demand stream pulled
		l := b.st.Live()
		var next *cache.LiveSegment
		if l != nil {
			view := l.Snapshot()
			for i := range view.Segments {
				if view.Segments[i].Start > b.lastStart {
					next = &view.Segments[i]
					break
				}
			}
			if next == nil {
				after := int64(math.MinInt64)
				if last, ok := view.Last(); ok {
					after = last.Index
				}
				wctx, cancel := context.WithTimeout(s.base, time.Second)
				_ = l.Wait(wctx, after)
				cancel()
			}
		} else {
			t := time.NewTimer(time.Second)
			select {
			case <-t.C:
			case <-s.base.Done():
				t.Stop()
			}
		}
		if next == nil {
			if time.Since(lastNew) > tsLiveIdle {
				b.log.Info("mpegts stream ended: no new segment", "idle", tsLiveIdle)
				return cw.n, nil
			}
			continue
		}
		e := liveEntry(next)
		if err := send(&e); err != nil {
			b.log.Debug("mpegts stream ended", "error", err)
			return cw.n, err
		}
		b.lastStart, lastNew = next.Start, time.Now()
	}
}
