package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"sort"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgedvr/edge/media/m4f"
)

// serveM4FLive answers GET /m4f/v1/live/{stream}: it waits a little for
// the stream's first live segment (503 when none comes), then commits a 200
// whose body is a liveBody streamed on the connection.
func (s *Server) serveM4FLive(ctx *fasthttp.RequestCtx, st Stream, caller string) error {
	wctx, cancel := context.WithTimeout(s.base, s.cfg.M4FLiveWait)
	defer cancel()
	watch(wctx, st) // a downstream node pulling live is a viewer
	if err := waitLive(wctx, st); err != nil {
		return &httpError{status: fasthttp.StatusServiceUnavailable,
			msg: "m4f: stream " + st.Name() + " has no live window on this node yet"}
	}
	h := &ctx.Response.Header
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	ctx.SetContentType(m4f.ContentType)
	body := &liveBody{
		s: s, st: st, conn: ctx.Conn(), timeout: s.cfg.WriteTimeout,
		log: s.log.With("stream", st.Name(), "caller", caller, "remote", ctx.RemoteAddr().String()),
	}
	// Unknown length: fasthttp sends it chunked and, since liveBody is a
	// BodyWriterTo, calls its WriteTo on the connection's writer (one
	// chunk per write, flushed), without the pipe and 4 KiB copies of
	// SetBodyStreamWriter.
	ctx.Response.SetBodyStream(body, -1)
	return nil
}

// waitLive waits until the stream has a live window with a segment.
func waitLive(ctx context.Context, st Stream) error {
	for {
		if l := st.Live(); l != nil {
			pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			err := l.Wait(pctx, math.MinInt64)
			cancel()
			if err == nil {
				return nil
			}
		} else {
			t := time.NewTimer(100 * time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// liveBody is the body of a live M4F response. fasthttp calls WriteTo once,
// on its own connection goroutine, after the handler returned; WriteTo
// returns when the client is gone (a write fails or times out), the stream
// stops, or the server shuts down.
type liveBody struct {
	s       *Server
	st      Stream
	conn    net.Conn      // its write deadline is pushed forward before each frame
	timeout time.Duration // per frame
	log     *slog.Logger
	piped
}

// SupportsBodyWriteTo lets fasthttp use WriteTo (fasthttp.BodyWriterTo).
func (b *liveBody) SupportsBodyWriteTo() bool { return true }

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (b *liveBody) WriteTo(w io.Writer) (int64, error) {
	s := b.s
	mt := s.m4fm
	mt.liveClients.Inc()
	defer mt.liveClients.Dec()
	cw := &countWriter{w: w}
	fw := m4f.NewWriter(cw)
	fl, _ := w.(flusher)
	sent := int64(0)
	defer func() { mt.bytes.Add(float64(cw.n - sent)) }()
	// frame writes one frame with a fresh write deadline and flushes it.
	frame := func(typ string, write func() error) error {
		if b.conn != nil && b.timeout > 0 {
			_ = b.conn.SetWriteDeadline(time.Now().Add(b.timeout))
		}
		err := write()
		if err == nil && fl != nil {
			err = fl.Flush()
		}
		if err != nil {
			return err
		}
		mt.frames.WithLabelValues(typ).Inc()
		mt.bytes.Add(float64(cw.n - sent))
		sent = cw.n
		return nil
	}
	end := func(reason string) (int64, error) {
		err := frame("end", func() error { return fw.WriteError(reason) })
		b.log.Debug("m4f live stream ended", "reason", reason, "err", err)
		return cw.n, err
	}

	l := b.st.Live()
	if l == nil {
		return end("stream is not live on this node")
	}
	view := l.Snapshot()
	backlog := s.cfg.M4FBacklog
	first := max(0, len(view.Segments)-backlog)
	lastSeq, lastStart := int64(math.MinInt64), int64(math.MinInt64)
	if first < len(view.Segments) {
		lastSeq = view.Segments[first].Index - 1
	}
	lastInit := ""
	sameLive := true // lastSeq numbers segments of l
	b.log.Info("m4f live client connected", "backlog", len(view.Segments)-first)
	defer b.log.Info("m4f live client gone")
	for {
		if s.base.Err() != nil {
			return end("node shutting down")
		}
		watch(s.base, b.st) // still pulled: keep an on-demand stream alive
		if nl := b.st.Live(); nl != l {
			if nl == nil {
				return end("stream stopped")
			}
			// A new live window (the stream restarted): its numbering is
			// its own, so go by start times until we have sent one of it.
			l, sameLive, lastSeq = nl, false, math.MinInt64
		}
		view = l.Snapshot()
		segs := view.Segments
		i := sort.Search(len(segs), func(i int) bool { return segs[i].Index > lastSeq })
		for i < len(segs) && segs[i].Start <= lastStart {
			i++
		}
		if i < len(segs) {
			seg := segs[i]
			if sameLive && lastSeq != math.MinInt64 && seg.Index > lastSeq+1 {
				n := seg.Index - lastSeq - 1
				mt.skipped.Add(float64(n))
				b.log.Warn("m4f live client too slow: skipped segments", "skipped", n, "next_start", seg.Start)
			}
			if seg.InitHash != lastInit {
				in, ok := view.Inits[seg.InitHash]
				if !ok {
					return end("init " + seg.InitHash + " missing from the live window")
				}
				if err := frame("init", func() error { return fw.WriteInit(in) }); err != nil {
					return cw.n, err
				}
				lastInit = seg.InitHash
			}
			ms := seg.Segment
			if ms.Data == nil {
				// The archive holds it (cache.Live.Stored): read its file.
				data, err := seg.Bytes()
				if err != nil {
					mt.skipped.Inc()
					b.log.Warn("m4f live: segment file unreadable, skipped", "start", seg.Start, "err", err)
					lastSeq, lastStart = seg.Index, seg.Start
					continue
				}
				ms.Data = data
			}
			if err := frame("segment", func() error { return fw.WriteSegment(ms) }); err != nil {
				return cw.n, err
			}
			lastSeq, lastStart, sameLive = seg.Index, seg.Start, true
			continue
		}
		if last, ok := view.Last(); ok && last.Index > lastSeq {
			lastSeq = last.Index // seen: none of them starts after what was sent
		}
		wctx, cancel := context.WithTimeout(s.base, s.cfg.M4FHeartbeat)
		err := l.Wait(wctx, lastSeq)
		cancel()
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			continue // new segments, or shutting down (checked above)
		}
		if _, ok := s.cfg.Backend.Stream(b.st.Name()); !ok {
			return end("stream removed")
		}
		hb := m4f.Heartbeat{Time: s.cfg.Now().UnixMilli()}
		if last, ok := l.Snapshot().Last(); ok {
			hb.LiveEdge = last.Start
		}
		if err := frame("heartbeat", func() error { return fw.WriteHeartbeat(hb) }); err != nil {
			return cw.n, err
		}
	}
}

// Read serves callers that do not use WriteTo, through a pipe.
func (b *liveBody) Read(p []byte) (int, error) { return b.piped.read(p, b.WriteTo) }

var _ fasthttp.BodyWriterTo = (*liveBody)(nil)
