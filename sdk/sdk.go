// Package sdk holds the plugin contracts: the handshake, one small Go interface per plugin kind, and the go-plugin gRPC glue.
package sdk

import (
	"context"
	"errors"
	"time"

	"github.com/edgedvr/edge/media"
)

// Version is the SDK's own version (semantic versioning, see CHANGELOG.md):
// a minor release adds optional interfaces and helpers, and plugins built
// against an older minor release keep working with a newer host. Only a
// new ProtocolVersion breaks them.
const Version = "1.5.1"

// ProtocolVersion is the plugin protocol version. A host and a plugin with
// different versions refuse each other at the handshake.
const ProtocolVersion = 1

// Plugin kinds, as named in the topology's [plugins] table.
const (
	KindIngest   = "ingest"
	KindDVRStore = "dvrstore"
	KindBalancer = "balancer"
)

// ErrNotFound is returned (also across the plugin boundary) for an unknown
// stream, segment or init.
var ErrNotFound = errors.New("not found")

// CaptureRequest asks an ingest plugin to capture one input of one stream.
type CaptureRequest struct {
	// Stream is the stream's name (already validated by the host).
	Stream string
	// URL is the input, e.g. "udp://239.1.2.3:1234?iface=eth0" or "file:///x.ts".
	URL string
	// SegmentDuration is the target segment length.
	SegmentDuration time.Duration
	// Node is the capturing node's name; inputs that call other nodes
	// (m4f://) sign their requests as this node.
	Node string
	// Key is the cluster key that signs this input's requests to other
	// nodes (the input's own key, its source's, or the global cluster_key).
	// It is a secret: never log it, never send it.
	Key string
}

// IngestStats are counters an ingest plugin reports with its events. They
// only grow for the life of one Capture call.
type IngestStats = media.Stats

// Event is one thing an ingest plugin delivers: at most one of Init and
// Segment is set, and Stats is the plugin's counters at that moment. An
// event with neither is a stats update: plugins send one now and then when
// their counters move without a segment to carry them (bad input).
type Event struct {
	Init    *media.Init
	Segment *media.Segment
	Stats   media.Stats
}

// Ingest captures inputs. It is served by `edge plugin udp` (udp:// and
// file:// inputs) and `edge plugin m4f` (m4f:// inputs), or by a third-party
// executable.
type Ingest interface {
	// Capture is called when the host makes an input active. It captures
	// req.URL and calls emit for each init segment and media segment, in
	// order, until ctx is done (return nil) or the source fails for good
	// (return the error). An Init is always emitted before the first Segment
	// that refers to it. A source that merely goes quiet is not an error: the
	// host decides on timeouts. emit returns an error when the host has gone;
	// Capture must then return. emit keeps nothing of the event once it
	// returns: the plugin may reuse or overwrite the bytes of its Init and
	// Segment at once (media.SegmenterConfig.ReuseData). A large segment
	// is not copied on its way: emit returns once it is written out to
	// the host (or the host has gone).
	Capture(ctx context.Context, req CaptureRequest, emit func(Event) error) error
}

// StreamConfig tells a store where and how long to keep one stream.
type StreamConfig struct {
	Stream string
	// Root is the archive directory; the stream lives under Root/<stream>/.
	Root string
	// Depth is how long segments are kept; 0 means no limit by age.
	Depth time.Duration
	// MaxSize is the byte limit for this stream's segments; 0 means no limit by size.
	MaxSize int64
}

// SegmentInfo describes one stored segment.
type SegmentInfo struct {
	Start    int64  // UTC ms
	Duration int64  // ms
	Size     int64  // bytes
	InitHash string // init segment it decodes with
	Checksum string // media.Checksum of the bytes
	// Path is a local file that holds exactly the segment's bytes, which the
	// host may open and send directly. Empty when the store is not on local
	// disk; the host then uses ReadSegment.
	Path string
}

// End is the UTC end of the segment in milliseconds.
func (s SegmentInfo) End() int64 { return s.Start + s.Duration }

// Range is a stretch of archive with no gap, in UTC ms.
type Range struct {
	From int64
	To   int64 // exclusive
}

// Store keeps a DVR archive. It is served by `edge plugin dvrstore`, or by a
// third-party executable.
type Store interface {
	// OpenStream is called once per stream at start (and again after a plugin
	// restart) before any other call for that stream. It loads the stream's
	// index and starts retention.
	OpenStream(ctx context.Context, cfg StreamConfig) error
	// WriteInit stores an init segment; storing one that exists is a no-op.
	// Errors are classed as WriteSegment's.
	WriteInit(ctx context.Context, stream string, init media.Init) error
	// WriteSegment stores a media segment atomically: after a crash it is
	// either wholly visible or not at all. It must overlap no stored segment
	// of the stream. Live recording appends after the newest segment;
	// replication fills holes before it, newest first. A store that cannot
	// fill holes refuses a segment that starts before the end of the newest
	// one with an error (replication then stalls with that error, recording
	// works).
	//
	// A write that can never succeed (a bad duration, an overlap, an
	// unknown init) returns an error wrapping ErrRefused: the host drops
	// the segment and counts it. A full disk returns one wrapping
	// ErrNoSpace (or syscall.ENOSPC). Any other error is temporary: the
	// host retries the same segment with a backoff.
	//
	// A store may keep seg.Data, unless it is served with
	// ServeConfig.ReuseSegmentData: then the SDK reuses that memory for
	// the next write once WriteSegment returns.
	WriteSegment(ctx context.Context, stream string, seg media.Segment) (SegmentInfo, error)
	// Ranges returns the recorded stretches that overlap [from, to), clipped
	// to whole segments, in order. Segments that touch (within a small
	// tolerance) form one range.
	Ranges(ctx context.Context, stream string, from, to int64) ([]Range, error)
	// Segments lists the segments whose start is in [from, to), in order.
	Segments(ctx context.Context, stream string, from, to int64) ([]SegmentInfo, error)
	// ReadInit returns the init segment with that hash, or ErrNotFound.
	ReadInit(ctx context.Context, stream, hash string) (media.Init, error)
	// ReadSegment returns the bytes of the segment that starts at start, or ErrNotFound.
	ReadSegment(ctx context.Context, stream string, start int64) ([]byte, error)
	// Streams lists the streams that have an archive.
	Streams(ctx context.Context) ([]string, error)
}

// SegmentDeleter is an optional interface of a Store, found by type
// assertion (over the plugin boundary, a store that lacks it answers
// ErrUnsupported). Replication calls DeleteSegments when the source's
// archive wins over local segments that overlap one of its segments (the
// seams of cross-replication), right before it writes the source's
// segment. Retention does not use it.
type SegmentDeleter interface {
	// DeleteSegments removes the stream's segments whose start is in
	// [from, to), and returns how many it removed. After a crash each one
	// is wholly there or wholly gone.
	DeleteSegments(ctx context.Context, stream string, from, to int64) (int, error)
}

// SegmentBatchWriter is an optional interface of a Store, found by type
// assertion (over the plugin boundary, a store that lacks it answers
// ErrUnsupported and the host's StoreClient falls back to WriteSegment).
// Replication calls WriteSegments to store many segments at once, so that
// a store can share the disk flushes of a whole batch between its
// segments.
type SegmentBatchWriter interface {
	// WriteSegments stores several segments of one stream, each as
	// WriteSegment would: atomically (after a crash each one is wholly
	// visible or not at all) and overlapping no stored segment. It returns
	// one result per segment, in the order given; a segment that cannot be
	// stored has Err set and does not stop the others, and may be stored
	// by a later call. An error of the call itself (the stream is not
	// open, the store is closed) is returned alone, with no results.
	// When it returns, every segment with a nil Err is visible and as
	// durable as one stored by WriteSegment. Each segment's Data may be
	// kept as WriteSegment's may.
	WriteSegments(ctx context.Context, stream string, segs []media.Segment) ([]SegmentResult, error)
}

// SegmentResult is the outcome of one segment of
// SegmentBatchWriter.WriteSegments: its info when stored, else Err.
type SegmentResult struct {
	Info SegmentInfo
	Err  error
}

// WriteSegments stores segs in st with one WriteSegments call when st is a
// SegmentBatchWriter, else one WriteSegment call per segment, and returns
// one result per segment in order.
func WriteSegments(ctx context.Context, st Store, stream string, segs []media.Segment) ([]SegmentResult, error) {
	if b, ok := st.(SegmentBatchWriter); ok {
		return b.WriteSegments(ctx, stream, segs)
	}
	return writeEach(ctx, st, stream, segs), nil
}

// writeEach stores segs one WriteSegment call at a time.
func writeEach(ctx context.Context, st Store, stream string, segs []media.Segment) []SegmentResult {
	out := make([]SegmentResult, len(segs))
	for i, seg := range segs {
		out[i].Info, out[i].Err = st.WriteSegment(ctx, stream, seg)
	}
	return out
}

// ErrUnsupported is returned (wrapped) by optional calls that a plugin does
// not implement.
var ErrUnsupported = errors.New("not supported by the plugin")
