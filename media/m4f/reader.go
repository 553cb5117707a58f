package m4f

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/edgedvr/edge/media"
)

// firstChunk is the most a Reader allocates for a frame's data before any
// of it has arrived; beyond it, the buffer grows as bytes come in, so a peer
// that announces a huge frame and never sends it costs at most this much.
const firstChunk = 2 << 20

// Reader reads a live M4F body. It is not safe for concurrent use.
//
// Besides the framing, it checks what a client relies on: init data match
// their hash, segment data match their checksum, every segment refers to
// the latest init, and segment starts strictly increase. Any failure ends
// the stream: later calls to Next return the same error.
type Reader struct {
	r         *bufio.Reader
	lim       Limits
	magic     bool
	initHash  string
	lastStart int64
	segments  int
	err       error
}

// NewReader returns a Reader on r. The magic is checked by the first Next,
// so NewReader does no I/O.
func NewReader(r io.Reader, limits Limits) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 32<<10), lim: limits.withDefaults()}
}

// Next returns the next frame. It returns io.EOF when the body ends cleanly
// at a frame boundary or after an error/end frame, an error matching
// io.ErrUnexpectedEOF when it is cut short, and an error matching
// ErrFormat, ErrTooLarge or ErrChecksum when it is malformed.
func (r *Reader) Next() (Frame, error) {
	if r.err != nil {
		return Frame{}, r.err
	}
	f, err := r.next()
	if err != nil {
		r.err = err
		return Frame{}, err
	}
	if f.Type == TypeError {
		r.err = io.EOF
	}
	return f, nil
}

func formatErr(format string, args ...any) error {
	return &kindError{fmt.Sprintf("m4f: "+format, args...), ErrFormat}
}

func truncated(what string) error {
	return fmt.Errorf("m4f: body ended inside %s: %w", what, io.ErrUnexpectedEOF)
}

func (r *Reader) next() (Frame, error) {
	if !r.magic {
		var m [4]byte
		if _, err := io.ReadFull(r.r, m[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return Frame{}, truncated("the magic")
			}
			return Frame{}, fmt.Errorf("m4f: read magic: %w", err)
		}
		if string(m[:]) != Magic {
			if string(m[:3]) == Magic[:3] {
				return Frame{}, formatErr("stream is version %q, this node speaks %q", m[3:], Magic[3:])
			}
			return Frame{}, formatErr("not an M4F stream (starts with %q)", m[:])
		}
		r.magic = true
	}

	var h [3]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return Frame{}, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Frame{}, truncated("a frame header")
		}
		return Frame{}, fmt.Errorf("m4f: read frame header: %w", err)
	}
	typ := h[0]
	var max int
	var what string
	switch typ {
	case TypeInit:
		max, what = r.lim.MaxInit, "init"
	case TypeSegment:
		max, what = r.lim.MaxSegment, "segment"
	case TypeHeartbeat:
		what = "heartbeat"
	case TypeError:
		what = "error frame"
	default:
		return Frame{}, formatErr("unknown frame type %q", typ)
	}
	metaLen := int(binary.BigEndian.Uint16(h[1:]))
	if metaLen > MaxMeta {
		return Frame{}, &kindError{fmt.Sprintf("m4f: %s meta of %d bytes exceeds the %d-byte cap", what, metaLen, MaxMeta), ErrTooLarge}
	}
	meta := make([]byte, metaLen+4)
	if _, err := io.ReadFull(r.r, meta); err != nil {
		return Frame{}, readErr(err, what+" meta")
	}
	dataLen := uint64(binary.BigEndian.Uint32(meta[metaLen:]))
	meta = meta[:metaLen]
	if dataLen > uint64(max) {
		if max == 0 {
			return Frame{}, formatErr("%s carries %d bytes of data, it must carry none", what, dataLen)
		}
		return Frame{}, &kindError{fmt.Sprintf("m4f: %s of %d bytes exceeds the %d-byte cap", what, dataLen, max), ErrTooLarge}
	}

	switch typ {
	case TypeInit:
		var m initMeta
		if err := decodeMeta(meta, &m, what); err != nil {
			return Frame{}, err
		}
		if m.Hash == "" {
			return Frame{}, formatErr("init meta has no hash")
		}
		if m.Width < 0 || m.Height < 0 {
			return Frame{}, formatErr("init %s has a negative size %dx%d", m.Hash, m.Width, m.Height)
		}
		data, err := readData(r.r, int(dataLen))
		if err != nil {
			return Frame{}, readErr(err, "init data")
		}
		if got := media.InitHash(data); got != m.Hash {
			return Frame{}, &kindError{fmt.Sprintf("m4f: init data hash %s does not match its meta hash %q", got, m.Hash), ErrChecksum}
		}
		r.initHash = m.Hash
		return Frame{Type: typ, Init: &media.Init{Hash: m.Hash, Data: data, Codecs: m.Codecs, Width: m.Width, Height: m.Height}}, nil

	case TypeSegment:
		var m segmentMeta
		if err := decodeMeta(meta, &m, what); err != nil {
			return Frame{}, err
		}
		switch {
		case m.Start == nil || m.Duration == nil:
			return Frame{}, formatErr("segment meta lacks start or duration")
		case *m.Duration < 0:
			return Frame{}, formatErr("segment at %d has a negative duration %d", *m.Start, *m.Duration)
		case m.Checksum == "":
			return Frame{}, formatErr("segment at %d has no checksum", *m.Start)
		case m.Init == "":
			return Frame{}, formatErr("segment at %d has no init hash", *m.Start)
		case m.Init != r.initHash:
			if r.initHash == "" {
				return Frame{}, formatErr("segment at %d comes before any init", *m.Start)
			}
			return Frame{}, formatErr("segment at %d refers to init %q, the latest init is %s", *m.Start, m.Init, r.initHash)
		case m.Seq < 0 || m.DiscSeq < 0 || (m.Seq == 0) != (m.DiscSeq == 0):
			return Frame{}, formatErr("segment at %d has sequence numbers %d/%d: want both positive or both absent", *m.Start, m.Seq, m.DiscSeq)
		case r.segments > 0 && *m.Start <= r.lastStart:
			return Frame{}, formatErr("segment at %d does not start after the previous one at %d", *m.Start, r.lastStart)
		}
		data, err := readData(r.r, int(dataLen))
		if err != nil {
			return Frame{}, readErr(err, "segment data")
		}
		if got := media.Checksum(data); got != m.Checksum {
			return Frame{}, &kindError{fmt.Sprintf("m4f: segment at %d has checksum %s, its meta says %q", *m.Start, got, m.Checksum), ErrChecksum}
		}
		r.lastStart = *m.Start
		r.segments++
		return Frame{Type: typ, Segment: &media.Segment{Start: *m.Start, Duration: *m.Duration, InitHash: m.Init, Data: data,
			Seq: m.Seq, DiscSeq: m.DiscSeq}}, nil

	case TypeHeartbeat:
		var m heartbeatMeta
		if err := decodeMeta(meta, &m, what); err != nil {
			return Frame{}, err
		}
		if m.Time == nil || m.LiveEdge == nil {
			return Frame{}, formatErr("heartbeat meta lacks time or live_edge")
		}
		return Frame{Type: typ, Heartbeat: &Heartbeat{Time: *m.Time, LiveEdge: *m.LiveEdge}}, nil

	default: // TypeError
		var m errorMeta
		if err := decodeMeta(meta, &m, what); err != nil {
			return Frame{}, err
		}
		return Frame{Type: typ, Err: m.Error}, nil
	}
}

// decodeMeta decodes a frame's meta JSON: one object, nothing after it.
// Unknown fields are ignored so that v1 can grow optional fields.
func decodeMeta(meta []byte, v any, what string) error {
	d := json.NewDecoder(bytes.NewReader(meta))
	if err := d.Decode(v); err != nil {
		return formatErr("bad %s meta: %v", what, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return formatErr("bad %s meta: data after the JSON object", what)
	}
	return nil
}

func readErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return truncated(what)
	}
	return fmt.Errorf("m4f: read %s: %w", what, err)
}

// readData reads exactly n bytes, allocating at most firstChunk before the
// bytes arrive and growing the buffer as they do.
func readData(r io.Reader, n int) ([]byte, error) {
	if n <= firstChunk {
		buf := make([]byte, n)
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	buf := make([]byte, 0, firstChunk)
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		m, err := r.Read(buf[len(buf):min(n, cap(buf))])
		buf = buf[:len(buf)+m]
		if err != nil {
			if err == io.EOF && len(buf) < n {
				return nil, io.ErrUnexpectedEOF
			}
			if len(buf) < n {
				return nil, err
			}
		}
	}
	return buf, nil
}
