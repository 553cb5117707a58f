package m4f

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"strings"

	"github.com/edgedvr/edge/media"
)

// Writer writes a live M4F body. It is not safe for concurrent use.
//
// Each Write* call issues the frame header (type, meta, data length) as one
// write and the data as a second one, without copying the data (on a
// *net.TCPConn the two go out as one writev). A server that wraps its
// connection in a bufio.Writer flushes after each frame so that segments
// reach the client as soon as they close.
type Writer struct {
	w      io.Writer
	hdr    []byte
	magic  bool
	closed bool
}

// NewWriter returns a Writer on w. The magic is written with the first frame
// (or by WriteMagic), so NewWriter does no I/O.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, hdr: make([]byte, 0, 256)}
}

// WriteMagic writes the magic now if no frame has been written yet; a
// server may call it to commit the response before the first init is ready.
func (w *Writer) WriteMagic() error {
	if w.magic {
		return nil
	}
	if _, err := io.WriteString(w.w, Magic); err != nil {
		return fmt.Errorf("m4f: write magic: %w", err)
	}
	w.magic = true
	return nil
}

// WriteInit writes an init frame. An empty init.Hash is filled in with
// media.InitHash; a non-empty one must be the hash of init.Data, or the
// reader rejects the frame.
func (w *Writer) WriteInit(init media.Init) error {
	if len(init.Data) > DefaultMaxInit {
		return &kindError{fmt.Sprintf("m4f: init of %d bytes exceeds the %d-byte cap", len(init.Data), DefaultMaxInit), ErrTooLarge}
	}
	hash := init.Hash
	if hash == "" {
		hash = media.InitHash(init.Data)
	}
	return w.frame(TypeInit, initMeta{Hash: hash, Codecs: init.Codecs, Width: init.Width, Height: init.Height}, init.Data)
}

// WriteSegment writes a segment frame; its checksum is computed here.
func (w *Writer) WriteSegment(seg media.Segment) error {
	if len(seg.Data) > DefaultMaxSegment {
		return &kindError{fmt.Sprintf("m4f: segment of %d bytes exceeds the %d-byte cap", len(seg.Data), DefaultMaxSegment), ErrTooLarge}
	}
	if seg.InitHash == "" {
		return fmt.Errorf("m4f: segment at %d has no init hash", seg.Start)
	}
	start, dur := seg.Start, seg.Duration
	return w.frame(TypeSegment, segmentMeta{Start: &start, Duration: &dur, Init: seg.InitHash, Checksum: media.Checksum(seg.Data),
		Seq: seg.Seq, DiscSeq: seg.DiscSeq}, seg.Data)
}

// WriteHeartbeat writes a heartbeat frame.
func (w *Writer) WriteHeartbeat(hb Heartbeat) error {
	return w.frame(TypeHeartbeat, heartbeatMeta{Time: &hb.Time, LiveEdge: &hb.LiveEdge}, nil)
}

// maxReason is the longest error reason sent: escaped as JSON (at most 6
// bytes a byte) it stays under MaxMeta.
const maxReason = 600

// WriteError writes the final frame: reason says why the stream ends, empty
// for a normal end; a reason over 600 bytes is cut. Nothing may be written after it.
func (w *Writer) WriteError(reason string) error {
	if len(reason) > maxReason {
		reason = strings.ToValidUTF8(reason[:maxReason], "")
	}
	err := w.frame(TypeError, errorMeta{Error: reason}, nil)
	w.closed = true
	return err
}

func (w *Writer) frame(typ byte, meta any, data []byte) error {
	if w.closed {
		return fmt.Errorf("m4f: write %c frame after the end frame", typ)
	}
	js, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("m4f: encode %c meta: %w", typ, err)
	}
	if len(js) > MaxMeta {
		return &kindError{fmt.Sprintf("m4f: %c meta of %d bytes exceeds the %d-byte cap", typ, len(js), MaxMeta), ErrTooLarge}
	}
	if uint64(len(data)) > math.MaxUint32 {
		return &kindError{fmt.Sprintf("m4f: %c data of %d bytes does not fit a frame", typ, len(data)), ErrTooLarge}
	}
	h := w.hdr[:0]
	if !w.magic {
		h = append(h, Magic...)
	}
	h = append(h, typ)
	h = binary.BigEndian.AppendUint16(h, uint16(len(js)))
	h = append(h, js...)
	h = binary.BigEndian.AppendUint32(h, uint32(len(data)))
	w.hdr = h
	if len(data) == 0 {
		_, err = w.w.Write(h)
	} else if _, ok := w.w.(*net.TCPConn); ok {
		bufs := net.Buffers{h, data}
		_, err = bufs.WriteTo(w.w)
	} else if _, err = w.w.Write(h); err == nil {
		_, err = w.w.Write(data)
	}
	if err != nil {
		return fmt.Errorf("m4f: write %c frame: %w", typ, err)
	}
	w.magic = true
	return nil
}
