package proxy

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/edgedvr/edge/cache"
)

// openable returns the stream's archive as a SegmentOpener when the
// request is a whole-body GET (a Range or HEAD request waits for the whole
// checked segment through ReadSegment instead).
func openable(ctx *fasthttp.RequestCtx, st Stream) (SegmentOpener, bool) {
	if ctx.IsHead() || len(ctx.Request.Header.Peek("Range")) != 0 {
		return nil, false
	}
	op, ok := st.Archive().(SegmentOpener)
	return op, ok
}

// serveOpened answers with a segment handed on as its bytes arrive
// (SegmentOpener). The answer declares the whole size; should the body
// turn out short or corrupt, the reader fails before its last byte and
// fasthttp closes the connection, so no client takes it for whole. A
// segment read to its checked end goes into the memory cache.
func (s *Server) serveOpened(actx context.Context, ctx *fasthttp.RequestCtx, op SegmentOpener, key cache.Key, ctype string) error {
	r, size, err := op.OpenSegment(actx, key.Start)
	if err != nil {
		return archiveError("read segment "+strconv.FormatInt(key.Start, 10), err)
	}
	ctx.SetContentType(ctype)
	ctx.Response.Header.Set("Accept-Ranges", "bytes")
	body := &openedBody{r: r, size: size}
	if m := s.cfg.Memory; m != nil {
		body.keep = func(b []byte) { m.Add(key, b) }
	}
	ctx.Response.SetBodyStream(body, int(size))
	return nil
}

// openedBody sends a SegmentOpener's reader, flushing each stretch to the
// client as it comes.
type openedBody struct {
	r    io.ReadCloser
	size int64
	keep func([]byte) // given the whole segment once sent to its end
}

// flushWriter writes through fasthttp's buffered writer and flushes.
type flushWriter struct{ w io.Writer }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		if fl, ok := f.w.(flusher); ok {
			err = fl.Flush()
		}
	}
	return n, err
}

func (b *openedBody) WriteTo(w io.Writer) (int64, error) {
	n, err := io.Copy(flushWriter{w}, b.r)
	if err != nil {
		return n, fmt.Errorf("segment body: %w", err)
	}
	if n != b.size {
		return n, fmt.Errorf("segment body: %d of %d bytes", n, b.size)
	}
	if bs, ok := b.r.(interface{ Bytes() ([]byte, bool) }); ok && b.keep != nil {
		if whole, ok := bs.Bytes(); ok {
			b.keep(whole)
		}
	}
	return n, nil
}

func (b *openedBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *openedBody) Close() error { return b.r.Close() }
