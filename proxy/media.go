package proxy

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgedvr/edge/cache"
)

// initBytes finds an init segment: the live window, then the server's
// small init cache, then the archive.
func (s *Server) initBytes(actx context.Context, st Stream, hash string) ([]byte, error) {
	if l := st.Live(); l != nil {
		if in, ok := l.Init(hash); ok {
			return in.Data, nil
		}
	}
	key := st.Name() + "/" + hash
	if b, ok := s.inits.Get(key); ok {
		return b, nil
	}
	ar := st.Archive()
	if ar == nil {
		return nil, notFound("no init " + hash)
	}
	in, err := ar.ReadInit(actx, hash)
	if err != nil {
		return nil, archiveError("read init "+hash, err)
	}
	s.inits.Add(key, in.Data)
	return in.Data, nil
}

// serveInit answers init-{hash}.mp4.
func (s *Server) serveInit(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, hash string) error {
	b, err := s.initBytes(actx, st, hash)
	if err != nil {
		return err
	}
	ctx.Response.Header.Set("Cache-Control", cacheImmutable)
	return serveBytes(ctx, b, ctypeMP4)
}

// serveSegment answers s-{start}.m4s from, in order: the live window, the
// memory cache, the archive. An archive segment with a local file is sent
// from the file with sendfile(2) (the kernel's page cache is its hot tier)
// and is not copied into the memory cache; one read through
// Archive.ReadSegment (a plugin or a remote node: a copy that costs) goes
// into the memory cache.
func (s *Server) serveSegment(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, start int64) error {
	ctx.Response.Header.Set("Cache-Control", cacheImmutable)
	if l := st.Live(); l != nil {
		if seg, ok := l.Segment(start); ok {
			if seg.Data != nil {
				return serveBytes(ctx, seg.Data, ctypeSegment)
			}
			if f, size, ok := openSized(seg.Path, seg.Size); ok {
				return serveFile(ctx, f, size, ctypeSegment)
			}
			// Its file went (retention): the archive answers below.
		}
	}
	key := cache.Key{Stream: st.Name(), Start: start}
	if m := s.cfg.Memory; m != nil {
		if b, ok := m.Get(key); ok {
			return serveBytes(ctx, b, ctypeSegment)
		}
	}
	e, err := s.findEntry(actx, st, start)
	if err != nil {
		return err
	}
	if e.data != nil { // it reached the live window meanwhile
		return serveBytes(ctx, e.data, ctypeSegment)
	}
	if f, size, ok := openSized(e.path, e.size); ok {
		return serveFile(ctx, f, size, ctypeSegment)
	}
	// No file, or removed by retention or rewritten: let the store answer.
	if op, ok := openable(st); ok {
		return s.serveOpened(actx, ctx, op, key, ctypeSegment)
	}
	b, err := st.Archive().ReadSegment(actx, start)
	if err != nil {
		return archiveError("read segment "+strconv.FormatInt(start, 10), err)
	}
	if m := s.cfg.Memory; m != nil {
		m.Add(key, b)
	}
	return serveBytes(ctx, b, ctypeSegment)
}

// openSized opens the regular file path when it holds size bytes; the
// caller owns the file.
func openSized(path string, size int64) (*os.File, int64, bool) {
	if path == "" {
		return nil, 0, false
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		f.Close()
		return nil, 0, false
	}
	return f, size, true
}

// serveBytes answers with b (shared, not copied), honouring Range.
func serveBytes(ctx *fasthttp.RequestCtx, b []byte, ctype string) error {
	first, last, err := byteRange(ctx, int64(len(b)))
	if err != nil {
		return err
	}
	ctx.SetContentType(ctype)
	if ctx.IsHead() {
		ctx.Response.Header.SetContentLength(int(last - first + 1))
		return nil
	}
	ctx.Response.SetBodyRaw(b[first : last+1])
	return nil
}

// serveFile answers with an open file of size bytes, honouring Range; the
// response owns f.
func serveFile(ctx *fasthttp.RequestCtx, f *os.File, size int64, ctype string) error {
	first, last, err := byteRange(ctx, size)
	if err != nil {
		f.Close()
		return err
	}
	ctx.SetContentType(ctype)
	n := last - first + 1
	if ctx.IsHead() {
		f.Close()
		ctx.Response.Header.SetContentLength(int(n))
		return nil
	}
	ctx.Response.SetBodyStream(&fileBody{f: f, off: first, n: n, conn: ctx.Conn()}, int(n))
	return nil
}

// byteRange applies the request's Range header to a body of size bytes:
// it sets Accept-Ranges, and for a partial answer 206 and Content-Range.
func byteRange(ctx *fasthttp.RequestCtx, size int64) (first, last int64, err error) {
	ctx.Response.Header.Set("Accept-Ranges", "bytes")
	h := ctx.Request.Header.Peek("Range")
	if len(h) == 0 {
		return 0, size - 1, nil
	}
	first, last, partial, err := parseByteRange(string(h), size)
	if err != nil {
		ctx.Response.Header.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		return 0, 0, err
	}
	if partial {
		ctx.SetStatusCode(fasthttp.StatusPartialContent)
		ctx.Response.Header.Set("Content-Range", "bytes "+strconv.FormatInt(first, 10)+"-"+
			strconv.FormatInt(last, 10)+"/"+strconv.FormatInt(size, 10))
	}
	return first, last, nil
}

// segmentBytes returns the bytes of a timeline entry.
func (s *Server) segmentBytes(actx context.Context, st Stream, e *entry) ([]byte, error) {
	if e.data != nil {
		return e.data, nil
	}
	key := cache.Key{Stream: st.Name(), Start: e.start}
	if m := s.cfg.Memory; m != nil {
		if b, ok := m.Get(key); ok {
			return b, nil
		}
	}
	if e.path != "" {
		if b, err := os.ReadFile(e.path); err == nil && int64(len(b)) == e.size {
			return b, nil
		}
	}
	ar := st.Archive()
	if ar == nil {
		return nil, notFound("no segment at " + strconv.FormatInt(e.start, 10))
	}
	b, err := ar.ReadSegment(actx, e.start)
	if err != nil {
		return nil, archiveError("read segment "+strconv.FormatInt(e.start, 10), err)
	}
	if m := s.cfg.Memory; m != nil {
		m.Add(key, b)
	}
	return b, nil
}

// serveExport answers archive-{from}-{dur}.mp4: the init, then every
// segment of the range that uses the same init, as one fragmented MP4
// whose decode times start at zero. The body is streamed segment by
// segment; its length is known up front from the segment sizes, so Range
// works. When the init changes within the range the file stops at the
// change and X-Edge-Export-Truncated says so.
func (s *Server) serveExport(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, req request) error {
	view, _ := liveView(st)
	es, err := timeline(actx, st.Archive(), view, req.from, req.from+req.dur)
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return notFound("no recording in range")
	}
	truncatedAt := int64(-1)
	for i := range es {
		if es[i].init != es[0].init {
			truncatedAt = es[i].start
			es = es[:i]
			break
		}
	}
	initData, err := s.initBytes(actx, st, es[0].init)
	if err != nil {
		return err
	}
	scales, err := trackTimescales(initData)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	first, err := s.segmentBytes(actx, st, &es[0])
	if err != nil {
		return err
	}
	shift, err := timelineShift(first, scales)
	if err != nil {
		return fmt.Errorf("export: first segment: %w", err)
	}
	last := es[len(es)-1]
	initOut, err := exportInit(initData, last.start+last.dur-es[0].start)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	parts := make([]part, 0, len(es)+1)
	parts = append(parts, part{size: int64(len(initOut)), data: initOut})
	total := int64(len(initOut))
	for i := range es {
		e := &es[i]
		p := part{size: e.size, data: e.data, path: e.path, start: e.start, media: true}
		if i == 0 {
			p.data = first
		}
		parts = append(parts, p)
		total += e.size
	}
	h := &ctx.Response.Header
	h.Set("Content-Disposition", `attachment; filename="`+st.Name()+"-"+
		time.UnixMilli(req.from).UTC().Format("20060102-150405")+"-"+strconv.FormatInt(req.dur/1000, 10)+`s.mp4"`)
	if truncatedAt >= 0 {
		h.Set("X-Edge-Export-Truncated", "init-change; at="+strconv.FormatInt(truncatedAt, 10))
	}
	if req.from+req.dur <= s.cfg.Now().UnixMilli()-settledMs {
		h.Set("Cache-Control", cacheImmutable)
	} else {
		h.Set("Cache-Control", cacheShort)
	}
	lo, hi, err := byteRange(ctx, total)
	if err != nil {
		return err
	}
	ctx.SetContentType(ctypeMP4)
	n := hi - lo + 1
	if ctx.IsHead() {
		h.SetContentLength(int(n))
		return nil
	}
	timeout := s.cfg.ArchiveTimeout
	body := &exportBody{
		parts: parts, off: lo, n: n, shift: shift,
		conn: ctx.Conn(), idle: s.cfg.WriteTimeout,
		read: func(_ context.Context, p part) ([]byte, error) {
			c, cancel := context.WithTimeout(s.base, timeout)
			defer cancel()
			return s.segmentBytes(c, st, &entry{start: p.start, size: p.size})
		},
	}
	ctx.Response.SetBodyStream(body, int(n))
	return nil
}
