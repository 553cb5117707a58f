package m4f

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/media"
	mm "github.com/edgedvr/edge/media/m4f"
	"github.com/edgedvr/edge/sdk"
)

// Reconnect timing of a capture.
const (
	// DefaultMinBackoff is the first wait before reconnecting after a failure.
	DefaultMinBackoff = 200 * time.Millisecond
	// DefaultMaxBackoff caps the wait as it doubles with each failure in a row.
	DefaultMaxBackoff = 2 * time.Second
	// DefaultForbiddenBackoff is the wait after the source refused our
	// signature: a wrong key does not fix itself quickly.
	DefaultForbiddenBackoff = 5 * time.Second
	// logEvery limits how often the same failure is logged at warn level.
	logEvery = 30 * time.Second
)

// Ingest captures m4f:// inputs: the live push of a stream from another
// node. It may run many captures at once. Zero fields take their defaults;
// set them before the first Capture.
type Ingest struct {
	logger *slog.Logger

	// MaxSegment is the largest segment accepted from a source. By default,
	// 64 MiB (sdk.MaxSegmentSize).
	MaxSegment int
	// IdleTimeout drops a connection that delivers no frame for this long.
	// By default, DefaultIdleTimeout (three heartbeat intervals).
	IdleTimeout time.Duration
	// MinBackoff, MaxBackoff: the wait before reconnecting starts at
	// MinBackoff and doubles up to MaxBackoff with each failure in a row; a
	// good segment resets it. By default, DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// ForbiddenBackoff is the wait after a 403. By default, DefaultForbiddenBackoff.
	ForbiddenBackoff time.Duration
	// ClientOptions are passed to each capture's Client after the above
	// (tests). By default, none.
	ClientOptions []Option
	// Now is the wall clock that tells a timeline dated in the future
	// (media.RestartsTimeline). By default, time.Now.
	Now func() time.Time
}

var _ sdk.Ingest = (*Ingest)(nil)

// New returns an Ingest that logs to logger (slog.Default() when nil).
func New(logger *slog.Logger) *Ingest {
	if logger == nil {
		logger = slog.Default()
	}
	return &Ingest{logger: logger}
}

// Capture pulls the live stream named by req.URL (m4f://HOST:PORT/STREAM)
// from the node there, signing as req.Node with req.Key, and emits each
// init and segment exactly as received. It reconnects on any failure, with
// a backoff, and never emits a segment that does not start at or after the
// end of the last one it emitted. It returns nil when ctx is done, emit's
// error when emit fails, and an error at once for a bad URL or request.
func (in *Ingest) Capture(ctx context.Context, req sdk.CaptureRequest, emit func(sdk.Event) error) error {
	src, err := ParseURL(req.URL)
	if err != nil {
		return err
	}
	if req.Node == "" {
		return fmt.Errorf("m4f: capture of %s: the request has no node name to sign as", src)
	}
	log := in.logger.With("stream", req.Stream, "url", src.String(), "node", req.Node)
	opts := []Option{WithLimits(mm.Limits{MaxSegment: in.MaxSegment}), WithIdleTimeout(or(in.IdleTimeout, DefaultIdleTimeout))}
	opts = append(opts, in.ClientOptions...)
	c := &capture{
		log:    log,
		client: NewClient(src.Addr, cluster.Signer{Node: req.Node, Key: req.Key}, opts...),
		stream: src.Stream,
		emit:   emit,
		now:    in.Now,
	}
	if c.now == nil {
		c.now = time.Now
	}
	defer c.client.CloseIdleConnections()

	minWait, maxWait := or(in.MinBackoff, DefaultMinBackoff), or(in.MaxBackoff, DefaultMaxBackoff)
	wait := minWait
	var lastMsg string
	var lastLog time.Time
	for {
		good, err := c.safeSession(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errEmit) {
			return err
		}
		if good {
			wait = minWait
		}
		next := wait
		wait = min(2*wait, maxWait)
		msg, attrs := "source failed, reconnecting", []any{"err", err.Error()}
		switch {
		case errors.Is(err, ErrForbidden):
			next = or(in.ForbiddenBackoff, DefaultForbiddenBackoff)
			msg = "source refused our signature: check cluster_key (or the input's key) on both nodes"
		case errors.Is(err, sdk.ErrNotFound):
			msg = "source does not have the stream, retrying"
		case errors.Is(err, ErrStalled):
			msg = "source stalled, reconnecting"
		case errors.Is(err, mm.ErrFormat), errors.Is(err, mm.ErrChecksum), errors.Is(err, mm.ErrTooLarge), errors.Is(err, io.ErrUnexpectedEOF):
			msg = "bad data from source, reconnecting"
		case err == io.EOF:
			msg = "source ended the stream, reconnecting"
		}
		attrs = append(attrs, "retry_in", next.String())
		if text := msg + err.Error(); text != lastMsg || time.Since(lastLog) >= logEvery {
			log.Warn(msg, attrs...)
			lastMsg, lastLog = text, time.Now()
		} else {
			log.Debug(msg, attrs...)
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// or returns d, or def when d is not positive.
func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// errEmit marks emit's failure: the host has gone and Capture returns.
var errEmit = errors.New("m4f: host refused an event")

// capture is the state of one Capture call that outlives connections.
type capture struct {
	log    *slog.Logger
	client *Client
	stream string
	emit   func(sdk.Event) error

	lastEnd  int64 // end of the last emitted segment, UTC ms
	emitted  bool  // a segment has been emitted
	segments uint64
	now      func() time.Time
}

// safeSession is session, with a panic on the source's data turned into
// the session's error (logged with its stack): the capture reconnects
// instead of taking the plugin process, and every capture it runs, down.
func (c *capture) safeSession(ctx context.Context) (good bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic recovered", "where", "m4f_ingest", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("m4f: panic in the capture session: %v", r)
		}
	}()
	return c.session(ctx)
}

// session runs one connection until it fails. good reports whether it
// emitted a segment (which resets the backoff).
func (c *capture) session(ctx context.Context) (good bool, err error) {
	ls, err := c.client.Live(ctx, c.stream)
	if err != nil {
		return false, err
	}
	defer ls.Close()
	skipped := 0
	for {
		f, err := ls.Next()
		if err != nil {
			return good, err
		}
		switch f.Type {
		case mm.TypeInit:
			if err := c.send(ls, sdk.Event{Init: f.Init}); err != nil {
				return good, err
			}
		case mm.TypeSegment:
			s := f.Segment
			if c.emitted && s.Start < c.lastEnd && !media.RestartsTimeline(c.lastEnd, s.Start, c.now()) {
				// The server replays the last few segments on connect.
				skipped++
				if skipped == 2*mm.DefaultBacklog+1 {
					c.log.Warn("source sends segments older than those already captured, skipping them",
						"start", s.Start, "captured_until", c.lastEnd)
				}
				continue
			}
			if c.emitted && s.Start < c.lastEnd {
				c.log.Warn("captured timeline is ahead of the wall clock, starting a new one", "start", s.Start, "captured_until", c.lastEnd)
			}
			if err := c.send(ls, sdk.Event{Segment: s}); err != nil {
				return good, err
			}
			c.lastEnd, c.emitted, good = s.End(), true, true
		case mm.TypeError:
			if f.Err != "" {
				return good, fmt.Errorf("m4f: source ended the stream: %s", oneLine(f.Err, 200))
			}
			return good, io.EOF
		}
		// Heartbeats only keep the LiveStream's watchdog fed.
	}
}

// send emits one event with the capture's counters.
func (c *capture) send(ls *LiveStream, ev sdk.Event) error {
	if ev.Segment != nil {
		c.segments++
	}
	ev.Stats = media.Stats{Segments: c.segments}
	ls.Busy(true)
	err := c.emit(ev)
	ls.Busy(false)
	if err != nil {
		return fmt.Errorf("%w: %w", errEmit, err)
	}
	return nil
}
