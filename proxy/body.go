package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/edgedvr/edge/internal/safe"
)

// errUnsatisfiable answers 416.
var errUnsatisfiable = &httpError{status: 416, msg: "range not satisfiable"}

// parseByteRange parses a Range header value for a body of size bytes. It
// returns the inclusive byte span to send and partial=true for a single
// satisfiable range, partial=false to send the whole body (no header, a
// malformed one, or several ranges: those are ignored as RFC 9110 allows),
// or errUnsatisfiable.
func parseByteRange(h string, size int64) (first, last int64, partial bool, err error) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok || strings.IndexByte(spec, ',') >= 0 {
		return 0, size - 1, false, nil
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, size - 1, false, nil
	}
	num := func(s string) (int64, bool) {
		if s == "" || len(s) > 18 {
			return 0, false
		}
		var n int64
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int64(s[i]-'0')
		}
		return n, true
	}
	if a == "" { // suffix: last b bytes
		n, ok := num(b)
		if !ok {
			return 0, size - 1, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, errUnsatisfiable
		}
		return max(0, size-n), size - 1, true, nil
	}
	first, ok = num(a)
	if !ok {
		return 0, size - 1, false, nil
	}
	last = size - 1
	if b != "" {
		if last, ok = num(b); !ok || last < first {
			return 0, size - 1, false, nil
		}
	}
	if first >= size {
		return 0, 0, false, errUnsatisfiable
	}
	return first, min(last, size-1), true, nil
}

// flusher is the buffered writer fasthttp hands to a body's WriteTo.
type flusher interface{ Flush() error }

// fileBody sends n bytes of an open archive file from off. Its WriteTo
// flushes fasthttp's buffer and hands the file to the connection's
// ReadFrom, which on Linux TCP is sendfile(2): the bytes never enter user
// space.
//
// With conn, a TCP connection, WriteTo sends with sendfile(2) at an
// explicit offset straight to the socket, corked with the header
// (sendFileAt); other connections (TLS) get the copy below.
type fileBody struct {
	f      *os.File
	off, n int64
	conn   net.Conn          // the client's connection, nil when unknown
	sr     *io.SectionReader // for Read, when a caller does not use WriteTo
}

func (b *fileBody) WriteTo(w io.Writer) (int64, error) {
	flush := func() error {
		if fl, ok := w.(flusher); ok {
			return fl.Flush()
		}
		return nil
	}
	if b.conn != nil {
		if n, handled, err := sendFileAt(b.conn, b.f, b.off, b.n, flush); handled {
			return n, err
		}
	}
	if _, err := b.f.Seek(b.off, io.SeekStart); err != nil {
		return 0, fmt.Errorf("seek segment file: %w", err)
	}
	if err := flush(); err != nil {
		return 0, err
	}
	lr := &io.LimitedReader{R: b.f, N: b.n}
	if rf, ok := w.(io.ReaderFrom); ok {
		return rf.ReadFrom(lr)
	}
	return io.Copy(w, lr)
}

func (b *fileBody) Read(p []byte) (int, error) {
	if b.sr == nil {
		b.sr = io.NewSectionReader(b.f, b.off, b.n)
	}
	return b.sr.Read(p)
}

func (b *fileBody) Close() error { return b.f.Close() }

// part is one piece of an export: the init or a media segment.
type part struct {
	size  int64
	data  []byte // bytes in memory (init, live window, memory cache); shared, never modified
	path  string // archive file, when data is nil
	start int64  // segment start, for Archive.ReadSegment when data is nil and path is ""
	media bool   // a media segment: its decode times are shifted
}

// exportBody streams bytes [off, off+n) of the concatenation of parts,
// fetching each part only when it is reached. Media segments get their
// decode times shifted so that the file starts at zero (same sizes).
type exportBody struct {
	parts  []part
	off, n int64
	shift  map[uint32]uint64
	read   func(ctx context.Context, p part) ([]byte, error) // fetches a part without data
	conn   net.Conn                                          // its write deadline is pushed forward per part
	idle   time.Duration                                     // write deadline per part
	buf    []byte
	piped
}

func (b *exportBody) WriteTo(w io.Writer) (int64, error) {
	var written int64
	pos := int64(0)
	end := b.off + b.n
	for _, p := range b.parts {
		pStart, pEnd := pos, pos+p.size
		pos = pEnd
		if pEnd <= b.off {
			continue
		}
		if pStart >= end {
			break
		}
		data, err := b.bytesOf(p)
		if err != nil {
			return written, err
		}
		if int64(len(data)) != p.size {
			return written, fmt.Errorf("export: segment %d has %d bytes, expected %d", p.start, len(data), p.size)
		}
		lo := max(b.off, pStart) - pStart
		hi := min(end, pEnd) - pStart
		if b.conn != nil && b.idle > 0 {
			_ = b.conn.SetWriteDeadline(time.Now().Add(b.idle))
		}
		n, err := w.Write(data[lo:hi])
		written += int64(n)
		if err != nil {
			return written, err
		}
	}
	if written != b.n {
		return written, fmt.Errorf("export: wrote %d bytes, expected %d", written, b.n)
	}
	return written, nil
}

// bytesOf returns the bytes of p, shifted when p is a media segment.
func (b *exportBody) bytesOf(p part) ([]byte, error) {
	var src []byte
	switch {
	case p.data != nil:
		src = p.data
	case p.path != "":
		f, err := os.Open(p.path)
		if err != nil {
			// The file may have been removed by retention; the store may
			// still serve it.
			src, err = b.fetch(p)
			if err != nil {
				return nil, err
			}
			break
		}
		if int64(cap(b.buf)) < p.size {
			b.buf = make([]byte, p.size)
		}
		b.buf = b.buf[:p.size]
		_, err = io.ReadFull(f, b.buf)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("export: read %s: %w", p.path, err)
		}
		if !p.media || b.shift == nil {
			return b.buf, nil
		}
		return b.buf, shiftSegment(b.buf, b.shift)
	default:
		var err error
		if src, err = b.fetch(p); err != nil {
			return nil, err
		}
	}
	if !p.media || b.shift == nil {
		return src, nil
	}
	// src may be shared (live window, memory cache): shift a copy.
	b.buf = append(b.buf[:0], src...)
	return b.buf, shiftSegment(b.buf, b.shift)
}

func (b *exportBody) fetch(p part) ([]byte, error) {
	if b.read == nil {
		return nil, errors.New("export: no archive to read from")
	}
	return b.read(context.Background(), p)
}

// Read serves callers that do not use WriteTo, through a pipe.
func (b *exportBody) Read(p []byte) (int, error) { return b.piped.read(p, b.WriteTo) }

// piped gives a body that writes itself (fasthttp.BodyWriterTo) the Read
// and Close of an io.ReadCloser, for callers that do not use WriteTo: the
// body is written into a pipe by a goroutine.
type piped struct{ pr *io.PipeReader }

func (b *piped) read(p []byte, writeTo func(io.Writer) (int64, error)) (int, error) {
	if b.pr == nil {
		pr, pw := io.Pipe()
		b.pr = pr
		go func() {
			// A panic here would end the process: it ends this body instead.
			err := safe.Call(nil, "http_body", func() error {
				_, err := writeTo(pw)
				return err
			})
			pw.CloseWithError(err)
		}()
	}
	return b.pr.Read(p)
}

// Close ends a Read-driven body.
func (b *piped) Close() error {
	if b.pr != nil {
		return b.pr.Close()
	}
	return nil
}
