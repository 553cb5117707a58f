package proxy

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// Backend is what the server needs from the node: the streams it can serve.
// The node implements it; every method must be safe for concurrent use and
// fast (it is called on every request).
type Backend interface {
	// Stream returns the stream of that name, false when this node does not
	// serve it.
	Stream(name string) (Stream, bool)
	// StreamNames lists the streams this node serves, for /api/v1/streams.
	StreamNames() []string
}

// Redirector is an optional interface of a Backend: for a stream this node
// does not serve, it names a live peer that does. The server then answers
// 302 to baseURL followed by the request's path and query.
type Redirector interface {
	// Redirect returns the base URL (scheme://host:port, no trailing slash)
	// of a peer that serves name, false when there is none.
	Redirect(name string) (baseURL string, ok bool)
}

// Stream is one stream as the node holds it.
type Stream interface {
	// Name is the stream's name.
	Name() string
	// Live returns the stream's live window, nil when the stream is not live
	// on this node.
	Live() *cache.Live
	// Archive returns the stream's archive (local store, cache and sources
	// merged by the node), nil when no archive is reachable.
	Archive() Archive
	// Status reports inputs and activity for /api/v1/streams.
	Status() StreamStatus
}

// Watcher is an optional interface of a Stream: Watch is called before a
// viewer's live request (live, rewind and EVENT playlists, an M4F live
// pull), so a node can start pulling a stream it restreams on demand, and
// keep it pulled while it is watched (players reload live playlists every
// few seconds). Listings (the API,
// recording_status.json, /m4f/v1/streams) do not call it. Watch may block
// briefly while a stream that was idle gets its first segment: it bounds
// that wait itself (the server passes a context that ends only at
// shutdown).
type Watcher interface {
	Watch(ctx context.Context)
}

// Replicator is an optional interface of a Stream: a stream that
// replicates its source's archive reports the job's progress, which
// /api/v1/streams shows as "replication". Replication returns nil when
// the stream does not replicate.
type Replicator interface {
	Replication() *ReplicationStatus
}

// ReplicationStatus is the progress of a stream's replication job, as
// /api/v1/streams shows it.
type ReplicationStatus struct {
	// Source is where the job copies from (host:port).
	Source string `json:"source"`
	// SegmentsCopied and BytesCopied count what the job stored since the node started.
	SegmentsCopied int64 `json:"segments_copied"`
	BytesCopied    int64 `json:"bytes_copied"`
	// SegmentsMissing and SecondsMissing are what is still missing here.
	SegmentsMissing int64   `json:"segments_missing"`
	SecondsMissing  float64 `json:"seconds_missing"`
	// Conflicts counts source segments that overlap a different local segment.
	Conflicts int64 `json:"conflicts"`
	// Rate is the copy rate in bytes per second.
	Rate int64 `json:"rate"`
	// ETASeconds estimates the time to copy what is missing; 0 when unknown or nothing is missing.
	ETASeconds int64 `json:"eta_seconds"`
	// CaughtUp is true once a full comparison found nothing missing.
	CaughtUp bool `json:"caught_up"`
	// LastError is the last failure, "" when none; LastErrorAt its UTC Unix seconds.
	LastError   string `json:"last_error,omitempty"`
	LastErrorAt int64  `json:"last_error_at,omitempty"`
}

// watch calls st's Watch when it has one.
func watch(ctx context.Context, st Stream) {
	if w, ok := st.(Watcher); ok {
		w.Watch(ctx)
	}
}

// Archive methods serving a chained M4F archive call find the call's
// X-Edge-Via / X-Edge-Hops in their context with cluster.ChainFrom, so an
// archive that asks its own sources can pass the request on and never loop.
//
// Archive is the archive of one stream: sdk.Store bound to one stream
// name. Every method is given a context with a deadline (Config.ArchiveTimeout).
// Errors: sdk.ErrNotFound (wrapped or not) answers 404; ErrUnavailable or
// context.DeadlineExceeded answers 503; anything else answers 500.
type Archive interface {
	// Ranges returns the recorded stretches that overlap [from, to) (UTC
	// ms), in order.
	Ranges(ctx context.Context, from, to int64) ([]sdk.Range, error)
	// Segments lists the segments whose start is in [from, to) (UTC ms), in
	// order of start.
	Segments(ctx context.Context, from, to int64) ([]sdk.SegmentInfo, error)
	// ReadInit returns the init segment with that hash, or sdk.ErrNotFound.
	ReadInit(ctx context.Context, hash string) (media.Init, error)
	// ReadSegment returns the bytes of the segment that starts at start, or
	// sdk.ErrNotFound. It is called only for segments whose SegmentInfo.Path
	// is empty (or whose file could not be opened).
	ReadSegment(ctx context.Context, start int64) ([]byte, error)
}

// SegmentOpener is an Archive that can hand a segment it fetches from
// elsewhere on as the bytes arrive (chain.Archive). OpenSegment returns the
// segment's size and a reader of its bytes that ends in io.EOF only once
// all of them arrived whole and checked; a body that turns out short or
// corrupt ends the reader in an error before its last byte, and the front
// then cuts its answer. The reader may also have a Bytes() ([]byte, bool)
// method giving the whole segment once read to its end. Errors as
// ReadSegment's.
type SegmentOpener interface {
	OpenSegment(ctx context.Context, start int64) (io.ReadCloser, int64, error)
}

// ErrUnavailable is what an Archive returns (wrapped or not) when the
// archive cannot answer for now (a plugin restarting, a source down); the
// server answers 503.
var ErrUnavailable = errors.New("archive unavailable")

// StreamStatus is the state of a stream's capture, as the node sees it.
type StreamStatus struct {
	// Inputs in priority order.
	Inputs []InputStatus
	// ActiveInput is the URL of the input in use, "" when none.
	ActiveInput string
	// Bitrate in bits per second over the last few segments, 0 when unknown.
	Bitrate int64
	// LastFrame is when the last frame arrived; zero when none ever did.
	LastFrame time.Time
}

// InputStatus is the state of one input of a stream.
type InputStatus struct {
	// URL of the input, as configured.
	URL string `json:"url"`
	// State is "active", "standby" or "failed".
	State string `json:"state"`
	// Error is the last error of the input, "" when none.
	Error string `json:"error,omitempty"`
}

// chainKey is the context key of the cluster.Chain of a chained M4F archive call.
