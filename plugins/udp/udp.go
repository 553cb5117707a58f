// Package udp is the ingest plugin for MPEG-TS over UDP (unicast and multicast) and for looping MPEG-TS files (udp:// and file:// inputs).
package udp

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// Timing of the capture loops.
const (
	// silenceAfter is how long a source may send nothing before the open
	// segment is flushed and the timeline re-anchored.
	silenceAfter = time.Second
	// readTimeout bounds one blocking read so that silence is noticed.
	readTimeout = 500 * time.Millisecond
	// silentReadTimeout bounds one blocking read once the source is known
	// to be silent: nothing is left to notice, so an input with no source
	// wakes its plugin twice a minute instead of twice a second (ctx still
	// wakes a read at once).
	silentReadTimeout = 30 * time.Second
	// logEvery limits the rate of logs about bad input, per stream.
	logEvery = 10 * time.Second
)

// Ingest captures udp:// and file:// inputs. It may run many captures at once.
type Ingest struct {
	logger *slog.Logger

	mu       sync.Mutex
	captures map[string]*counters // by stream
}

var _ sdk.Ingest = (*Ingest)(nil)

// New returns an Ingest that logs to logger (slog.Default() when nil).
func New(logger *slog.Logger) *Ingest {
	if logger == nil {
		logger = slog.Default()
	}
	return &Ingest{logger: logger, captures: map[string]*counters{}}
}

// Capture captures req.URL until ctx is done (it returns nil) or the input
// cannot be opened (it returns the error at once), calling emit for each init
// and media segment. It returns emit's error if emit fails. A media
// segment's Data is valid only until emit returns: each stream builds its
// segments in the same memory (the gRPC transport of `edge plugin udp` has
// marshalled the event by then); an emit that keeps the bytes copies them.
func (in *Ingest) Capture(ctx context.Context, req sdk.CaptureRequest, emit func(sdk.Event) error) error {
	src, err := ParseURL(req.URL)
	if err != nil {
		return err
	}
	log := in.logger.With("stream", req.Stream, "url", req.URL)
	c := &counters{}
	in.mu.Lock()
	in.captures[req.Stream] = c
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		if in.captures[req.Stream] == c {
			delete(in.captures, req.Stream)
		}
		in.mu.Unlock()
	}()

	s := newSink(log, c, src.Program, req.SegmentDuration, emit)
	switch src.Scheme {
	case "udp":
		return captureUDP(ctx, src, s)
	case "file":
		return captureFile(ctx, src, s)
	}
	return fmt.Errorf("udp: unsupported scheme %q", src.Scheme)
}

// Stats returns the counters of the running capture of stream, if any.
func (in *Ingest) Stats(stream string) (Stats, bool) {
	in.mu.Lock()
	c := in.captures[stream]
	in.mu.Unlock()
	if c == nil {
		return Stats{}, false
	}
	return c.snapshot(), true
}

// sink feeds a Segmenter and turns its callbacks into emit calls. It is used
// by one capture goroutine only.
type sink struct {
	log  *slog.Logger
	c    *counters
	seg  *media.Segmenter
	emit func(sdk.Event) error
	err  error // first error of emit; nothing is emitted after it

	lastData time.Time // when bytes last arrived
	silent   bool      // silence handled since lastData

	lastLog   time.Time
	loggedBad badCounts
}

// badCounts are the counters about bad input that are worth a log line.
type badCounts struct {
	garbage, cc, unsupported, truncated uint64
}

func newSink(log *slog.Logger, c *counters, program int, target time.Duration, emit func(sdk.Event) error) *sink {
	s := &sink{log: log, c: c, emit: emit, lastData: time.Now()}
	s.seg = media.NewSegmenter(media.SegmenterConfig{
		TargetDuration: target,
		Program:        program,
		// emit keeps nothing of a segment once it returns (sdk.Ingest):
		// the segmenter writes the next one into the same buffer, and
		// the SDK sends a segment to the host from it without a copy.
		ReuseData: true,
		Logger:    log,
		OnInit: func(init media.Init) {
			if s.err != nil {
				return
			}
			s.err = s.emit(sdk.Event{Init: &init, Stats: s.seg.Stats()})
		},
		OnSegment: func(seg media.Segment) {
			if s.err != nil {
				return
			}
			s.err = s.emit(sdk.Event{Segment: &seg, Stats: s.seg.Stats()})
		},
	})
	return s
}

// write feeds p to the segmenter and returns emit's error, if any.
func (s *sink) write(p []byte, now time.Time) error {
	s.lastData = now
	s.silent = false
	if _, err := s.seg.Write(p); err != nil && s.err == nil {
		return fmt.Errorf("udp: segmenter: %w", err)
	}
	return s.err
}

// idle handles a read that returned nothing at now: after silenceAfter of
// silence it flushes the open segment and re-anchors the timeline, once.
func (s *sink) idle(now time.Time) error {
	s.publish(now) // bad input seen just before the silence is reported too
	if s.silent || now.Sub(s.lastData) < silenceAfter {
		return s.err
	}
	s.silent = true
	s.log.Info("udp: source silent, flushing", "after", now.Sub(s.lastData).Round(time.Millisecond))
	s.seg.Flush()
	s.seg.Reanchor()
	s.c.setSegmenter(s.seg.Stats())
	s.c.silences.Add(1) // after the flush, so a reader of Stats sees its segment emitted
	return s.err
}

// publish copies the segmenter's counters for Stats and logs bad input at
// most once per logEvery. It is called after each batch of writes.
func (s *sink) publish(now time.Time) {
	st := s.seg.Stats()
	s.c.setSegmenter(st)
	cur := s.bad(st)
	if cur == s.loggedBad || now.Sub(s.lastLog) < logEvery {
		return
	}
	// Tell the host too: a source sending nothing but bad input has no
	// segment to carry the counters.
	if s.err == nil {
		s.err = s.emit(sdk.Event{Stats: st})
	}
	s.log.Warn("udp: bad input",
		"garbage_bytes", cur.garbage-s.loggedBad.garbage,
		"cc_errors", cur.cc-s.loggedBad.cc,
		"unsupported", cur.unsupported-s.loggedBad.unsupported,
		"truncated_datagrams", cur.truncated-s.loggedBad.truncated)
	s.loggedBad = cur
	s.lastLog = now
}

// bad is the counters about bad input, from st and the socket's.
func (s *sink) bad(st media.Stats) badCounts {
	return badCounts{garbage: st.GarbageBytes, cc: st.CCErrors, unsupported: st.Unsupported, truncated: s.c.truncated.Load()}
}

// readWait is how long the next read may block: readTimeout while the
// source sends, or while bad input seen before a silence still waits for
// its report (publish), and silentReadTimeout once nothing is left to
// notice.
func (s *sink) readWait() time.Duration {
	if !s.silent || s.bad(s.seg.Stats()) != s.loggedBad {
		return readTimeout
	}
	return silentReadTimeout
}

// finish flushes the open segment when the capture ends.
func (s *sink) finish() {
	s.seg.Flush()
	s.c.setSegmenter(s.seg.Stats())
}
