// Package m4f holds the M4F v1 wire format: the framing of the live push stream, the endpoint paths and the JSON bodies of the archive calls (docs/m4f.md).
//
// A live M4F body is the 4-byte magic "M4F1" followed by frames:
//
//	type      1 byte     'I' init, 'S' segment, 'H' heartbeat, 'E' error/end
//	meta len  uint16 BE  at most MaxMeta (4096)
//	meta      JSON
//	data len  uint32 BE  capped by Limits (init 1 MiB, segment 64 MiB by default)
//	data      init or segment bytes exactly as stored; empty for 'H' and 'E'
//
// Writer produces such a body and Reader consumes one; bytes are never
// re-muxed, so a decoded Segment.Data is exactly what was written.
//
// This package depends only on the standard library and media: the caps
// are defined here (DefaultMaxSegment equals sdk.MaxSegmentSize, which a
// test asserts) and stream names are checked by a function the caller
// passes to ParsePath (sdk.CheckStreamName), because the media tree sits
// below sdk.
package m4f

import (
	"errors"
	"time"

	"github.com/edgedvr/edge/media"
)

// Version is the M4F protocol version this package speaks. It appears in
// the magic ("M4F1") and in the path prefix ("/m4f/v1/").
const Version = 1

// Magic opens every live body.
const Magic = "M4F1"

// Frame types.
const (
	TypeInit      byte = 'I'
	TypeSegment   byte = 'S'
	TypeHeartbeat byte = 'H'
	TypeError     byte = 'E'
)

// Caps of the format.
const (
	// MaxMeta is the largest meta JSON of a frame, in bytes.
	MaxMeta = 4 << 10
	// DefaultMaxSegment is the default cap on a segment's data: 64 MiB,
	// the same as sdk.MaxSegmentSize.
	DefaultMaxSegment = 64 << 20
	// DefaultMaxInit is the default cap on an init segment's data: 1 MiB.
	DefaultMaxInit = 1 << 20
)

// Live stream defaults of the server side (docs/m4f.md).
const (
	// DefaultBacklog is how many segments of the live window a new live
	// response starts with.
	DefaultBacklog = 3
	// HeartbeatInterval is how long a live response may go without a frame:
	// with no segment for this long, the server sends a heartbeat.
	HeartbeatInterval = time.Second
)

// Errors a Reader returns can be matched with errors.Is: ErrTooLarge for a
// frame over its cap, ErrChecksum for segment bytes that do not match their
// checksum (or init bytes that do not match their hash), ErrFormat for
// anything else malformed, and io.ErrUnexpectedEOF for a body cut short.
var (
	ErrTooLarge = errors.New("m4f: frame too large")
	ErrChecksum = errors.New("m4f: checksum mismatch")
	ErrFormat   = errors.New("m4f: malformed stream")
)

// Heartbeat tells a live client the server is alive while no segment closes.
type Heartbeat struct {
	// Time is the server's clock, UTC ms.
	Time int64 `json:"time"`
	// LiveEdge is the start of the newest segment, UTC ms; 0 when there is none yet.
	LiveEdge int64 `json:"live_edge"`
}

// Frame is one decoded frame: Type says which one of Init, Segment,
// Heartbeat and Err is meaningful.
type Frame struct {
	Type      byte
	Init      *media.Init    // TypeInit
	Segment   *media.Segment // TypeSegment
	Heartbeat *Heartbeat     // TypeHeartbeat
	// Err is the server's reason for ending the stream (TypeError); empty
	// means the stream ended normally.
	Err string
}

// Limits caps what a Reader accepts. Zero fields take the defaults.
type Limits struct {
	// MaxSegment is the largest segment data accepted. By default, DefaultMaxSegment.
	MaxSegment int
	// MaxInit is the largest init data accepted. By default, DefaultMaxInit.
	MaxInit int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSegment <= 0 {
		l.MaxSegment = DefaultMaxSegment
	}
	if l.MaxInit <= 0 {
		l.MaxInit = DefaultMaxInit
	}
	return l
}

// kindError is an error with a one-line message that matches a sentinel.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// Meta JSON of each frame type.

type initMeta struct {
	Hash   string `json:"hash"`
	Codecs string `json:"codecs"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

type segmentMeta struct {
	Start    *int64 `json:"start"`
	Duration *int64 `json:"duration"`
	Init     string `json:"init"`
	Checksum string `json:"checksum"`
	Seq      int64  `json:"seq,omitempty"`
	DiscSeq  int64  `json:"disc_seq,omitempty"`
}

type heartbeatMeta struct {
	Time     *int64 `json:"time"`
	LiveEdge *int64 `json:"live_edge"`
}

type errorMeta struct {
	Error string `json:"error"`
}
