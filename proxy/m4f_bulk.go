package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/media/m4f"
	"github.com/edgedvr/edge/sdk"
)

// serveM4FBulk answers GET /m4f/v1/bulk/{stream}?from=&to=: the bytes of
// the archive's segments that start in [from, to), oldest first, in the
// live frame format (an init frame before the first segment and whenever
// the init changes, then an end frame), so a replicating node fetches a
// run of segments with one request. The listing is made before the answer
// starts; a segment removed meanwhile is left out; an error on the way
// ends the body with an error frame. The client checks each segment's
// checksum as with the live push.
func (s *Server) serveM4FBulk(actx context.Context, ctx *fasthttp.RequestCtx, st Stream, from, to int64, newCtx func() (context.Context, context.CancelFunc)) error {
	var infos []sdk.SegmentInfo
	ar := st.Archive()
	if ar != nil {
		var err error
		if infos, err = ar.Segments(actx, from, to); err != nil {
			return archiveError("segments", err)
		}
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType(m4f.ContentType)
	ctx.Response.SetBodyStream(&bulkBody{s: s, st: st, ar: ar, infos: infos, conn: ctx.Conn(), timeout: s.cfg.WriteTimeout, newCtx: newCtx}, -1)
	return nil
}

// bulkBody is the body of a bulk answer; fasthttp calls WriteTo after the
// handler returned.
type bulkBody struct {
	s       *Server
	st      Stream
	ar      Archive
	infos   []sdk.SegmentInfo
	conn    net.Conn      // its write deadline is pushed forward before each frame
	timeout time.Duration // per frame
	newCtx  func() (context.Context, context.CancelFunc)
	piped
}

// SupportsBodyWriteTo lets fasthttp use WriteTo (fasthttp.BodyWriterTo).
func (b *bulkBody) SupportsBodyWriteTo() bool { return true }

func (b *bulkBody) Read(p []byte) (int, error) { return b.piped.read(p, b.WriteTo) }

func (b *bulkBody) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	fw := m4f.NewWriter(cw)
	deadline := func() {
		if b.conn != nil && b.timeout > 0 {
			_ = b.conn.SetWriteDeadline(time.Now().Add(b.timeout))
		}
	}
	end := func(reason string) (int64, error) {
		deadline()
		err := fw.WriteError(reason)
		if fl, ok := w.(flusher); ok && err == nil {
			err = fl.Flush()
		}
		return cw.n, err
	}
	if err := fw.WriteMagic(); err != nil {
		return cw.n, err
	}
	init := ""
	var buf []byte // the file bytes of one segment at a time, reused
	for _, info := range b.infos {
		data, err := b.segment(info, buf)
		if err != nil {
			if os.IsNotExist(err) {
				continue // removed by retention since the listing
			}
			b.s.log.Warn("m4f bulk answer cut short", "stream", b.st.Name(), "start", info.Start, "error", err)
			return end("archive temporarily unavailable")
		}
		if info.InitHash != init {
			ictx, cancel := b.newCtx()
			in, err := b.s.initBytes(ictx, b.st, info.InitHash)
			cancel()
			if err != nil {
				b.s.log.Warn("m4f bulk answer cut short", "stream", b.st.Name(), "init", info.InitHash, "error", err)
				return end("archive temporarily unavailable")
			}
			deadline()
			if err := fw.WriteInit(media.Init{Hash: info.InitHash, Data: in}); err != nil {
				return cw.n, err
			}
			init = info.InitHash
		}
		deadline()
		if err := fw.WriteSegment(media.Segment{Start: info.Start, Duration: info.Duration, InitHash: info.InitHash, Data: data}); err != nil {
			return cw.n, err
		}
		if info.Path != "" {
			buf = data // written out: the next file may reuse it
		}
		b.s.m4fm.bulkSegments.Inc()
	}
	return end("")
}

// segment reads one listed segment: its file when it has one of the
// listed size (into buf when it is large enough: each answer reads its
// files into one buffer rather than a new one each), else through the
// archive.
func (b *bulkBody) segment(info sdk.SegmentInfo, buf []byte) ([]byte, error) {
	if info.Path != "" {
		return readSized(info.Path, info.Size, buf)
	}
	ctx, cancel := b.newCtx()
	defer cancel()
	data, err := b.ar.ReadSegment(ctx, info.Start)
	if err != nil {
		if errors.Is(err, sdk.ErrNotFound) {
			return nil, os.ErrNotExist
		}
		return nil, err
	}
	return data, nil
}

// readSized reads the file at path, which must hold exactly size bytes,
// into buf (grown when short).
func readSized(path string, size int64, buf []byte) ([]byte, error) {
	if size < 0 || size > m4f.DefaultMaxSegment {
		return nil, fmt.Errorf("%s: listed size %d is out of range", path, size)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if int64(cap(buf)) < size+1 {
		buf = make([]byte, size+1)
	}
	// One byte more than listed tells a grown file from a whole one.
	n, err := io.ReadFull(f, buf[:size+1])
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		if int64(n) != size {
			return nil, fmt.Errorf("%s: file has %d bytes, listed %d", path, n, size)
		}
		return buf[:n], nil
	case err != nil:
		return nil, err
	default:
		return nil, fmt.Errorf("%s: file has more than the %d bytes listed", path, size)
	}
}
