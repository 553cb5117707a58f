package proxy

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/edgedvr/edge/cache"
)

// openable returns the stream's archive as a SegmentOpener, for any GET
// or HEAD of a segment (ranges included).
func openable(st Stream) (SegmentOpener, bool) {
	op, ok := st.Archive().(SegmentOpener)
	return op, ok
}

// serveOpened answers with a segment handed on as its bytes arrive
// (SegmentOpener). The answer declares its whole length; should the body
// turn out short or corrupt, the reader fails before its last byte and
// fasthttp closes the connection, so no client takes it for whole. A
// Range is answered from the same fetch: the bytes before the range are
// read and dropped, and the range's last byte is sent only once the whole
// segment has arrived and matched its checksum, so a partial answer is no
// more trusted than a whole one. A HEAD answers once the size is known;
// the fetch goes on into the caches. A segment read to its checked end
// goes into the memory cache.
func (s *Server) serveOpened(actx context.Context, ctx *fasthttp.RequestCtx, op SegmentOpener, key cache.Key, ctype string) error {
	r, size, err := op.OpenSegment(actx, key.Start)
	if err != nil {
		return archiveError("read segment "+strconv.FormatInt(key.Start, 10), err)
	}
	first, last, err := byteRange(ctx, size)
	if err != nil {
		r.Close()
		return err
	}
	ctx.SetContentType(ctype)
	if ctx.IsHead() {
		r.Close()
		ctx.Response.Header.SetContentLength(int(last - first + 1))
		return nil
	}
	body := &openedBody{r: r, size: size, first: first, last: last}
	if m := s.cfg.Memory; m != nil {
		body.keep = func(b []byte) { m.Add(key, b) }
	}
	ctx.Response.SetBodyStream(body, int(last-first+1))
	return nil
}

// openedBody sends bytes [first, last] of a SegmentOpener's reader of size
// bytes, flushing each stretch to the client as it comes.
type openedBody struct {
	r           io.ReadCloser
	size        int64
	first, last int64
	keep        func([]byte) // given the whole segment once sent to its end
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

// rangeWriter passes on the bytes of a body that fall in [first, last),
// keeps the one at last, and drops the others.
type rangeWriter struct {
	w           io.Writer
	off         int64 // of the next byte written to it, in the body
	first, last int64
	held        byte
}

func (rw *rangeWriter) Write(p []byte) (int, error) {
	n := len(p)
	start, end := rw.off, rw.off+int64(n)
	rw.off = end
	if rw.last >= start && rw.last < end {
		rw.held = p[rw.last-start]
	}
	from, to := max(start, rw.first), min(end, rw.last)
	if from < to {
		if _, err := rw.w.Write(p[from-start : to-start]); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (b *openedBody) WriteTo(w io.Writer) (int64, error) {
	whole := b.first == 0 && b.last == b.size-1
	var dst io.Writer = flushWriter{w}
	var rw *rangeWriter
	if !whole {
		rw = &rangeWriter{w: dst, first: b.first, last: b.last}
		dst = rw
	}
	n, err := io.Copy(dst, b.r)
	if err != nil {
		return n, fmt.Errorf("segment body: %w", err)
	}
	if n != b.size {
		return n, fmt.Errorf("segment body: %d of %d bytes", n, b.size)
	}
	if rw != nil {
		// The whole segment arrived and matched: the range's last byte.
		if _, err := (flushWriter{w}).Write([]byte{rw.held}); err != nil {
			return n, err
		}
		n = b.last - b.first + 1
	}
	if bs, ok := b.r.(interface{ Bytes() ([]byte, bool) }); ok && b.keep != nil {
		if whole, ok := bs.Bytes(); ok {
			b.keep(whole)
		}
	}
	return n, nil
}

func (b *openedBody) Read(p []byte) (int, error) {
	if b.first != 0 || b.last != b.size-1 {
		return 0, fmt.Errorf("segment body: a range is sent by WriteTo only")
	}
	return b.r.Read(p)
}

func (b *openedBody) Close() error { return b.r.Close() }
