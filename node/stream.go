package node

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/config"
	"github.com/edgedvr/edge/internal/safe"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// captureRetry is the pause before a failed Capture call (plugin restarting,
// bad file) is tried again. A source that merely goes quiet does not end
// Capture, so recording resumes at the source's first keyframe without it.
const captureRetry = 500 * time.Millisecond

// input is one entry of a stream's inputs, in priority order.
type input struct {
	index  int
	url    string       // as written in the topology, key redacted
	target string       // what the plugin is given (file paths resolved, no key)
	key    string       // signs m4f:// requests; never logged
	remote *RemoteInput // set for m4f:// inputs
	ingest func(ctx context.Context) (sdk.Ingest, error)

	cancel context.CancelFunc // non-nil while its capture runs
	done   chan struct{}      // closed when its capture goroutine ends

	init    *media.Init // latest init this input announced
	lastSeg time.Time   // wall time its last segment arrived
	stats   media.Stats // latest counters from the plugin
}

// inputEvent is an ingest event tagged with the input it came from.
type inputEvent struct {
	input int
	ev    sdk.Event
}

// Stream runs one stream: it captures the inputs that failover needs, picks
// the active one, and records its segments into the live window and the
// archive.
type Stream struct {
	name    string
	node    string // this node's name
	cfg     *config.Stream
	log     *slog.Logger
	metrics *Metrics
	live    *cache.Live
	rec     *recorder // nil when the stream has no DVR

	timeout time.Duration
	segDur  time.Duration

	events chan inputEvent
	inputs []*input

	mu       sync.Mutex // guards the fields below, read by Status
	active   int        // index into inputs; -1 before anything delivered
	since    time.Time  // when active was chosen
	lastEnd  int64      // UTC ms end of the last accepted segment
	lastInit string
	bitrate  float64 // bits/s of the last accepted segment
	lastSeg  time.Time

	dropped atomic.Uint64 // segments dropped because they overlapped
	// clock is the wall clock accept compares timelines with; nil means
	// time.Now (tests set it).
	clock func() time.Time

	// On demand: a stream restreamed from a source without a DVR runs
	// only while watched, and stops idle after its last viewer.
	onDemand   bool
	idle       time.Duration
	lastAccess atomic.Int64 // unix ns of the last Watch

	runMu      sync.Mutex // guards the run state below
	running    bool
	stopRun    context.CancelFunc
	runDone    chan struct{}
	recStarted bool
	replStop   func() // stops the replication job; nil when none runs
}

// run is the stream's single event loop: every decision about inputs and
// every accepted segment happens here, in order.
func (s *Stream) run(ctx context.Context) {
	s.mu.Lock()
	s.active = 0
	s.since = time.Now()
	s.mu.Unlock()
	s.startInput(ctx, 0)
	if s.onDemand {
		s.log.Info("on-demand stream pulling")
	}

	// The tick checks input timeouts and on-demand idleness; a stream with
	// one input that is always on has neither, and an idle node then costs
	// no wakeups for it (a nil channel never fires).
	var tickC <-chan time.Time
	if s.onDemand || len(s.inputs) > 1 {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		tickC = tick.C
	}
	for {
		select {
		case <-ctx.Done():
			s.drain()
			return
		case ie := <-s.events:
			s.handle(ctx, ie)
		case now := <-tickC:
			if s.onDemand && now.Sub(time.Unix(0, s.lastAccess.Load())) > s.idle {
				s.log.Info("on-demand stream idle, released", "idle_timeout", s.idle)
				s.drain()
				s.live.Reset() // its segments are stale by the time a viewer wakes it again
				return
			}
			s.checkTimeout(ctx, now)
		}
	}
}

// drain stops every capture gracefully (the plugins flush their open
// segments) and records what they still deliver.
func (s *Stream) drain() {
	var wg sync.WaitGroup
	for _, in := range s.inputs {
		if in.cancel == nil {
			continue
		}
		in.cancel()
		in.cancel = nil
		wg.Add(1)
		go func(done chan struct{}) { <-done; wg.Done() }(in.done)
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	for {
		select {
		case ie := <-s.events:
			s.handle(context.Background(), ie)
		case <-finished:
			for {
				select {
				case ie := <-s.events:
					s.handle(context.Background(), ie)
				default:
					return
				}
			}
		}
	}
}

func (s *Stream) handle(ctx context.Context, ie inputEvent) {
	defer s.recoverEvent(ie)
	in := s.inputs[ie.input]
	in.stats = ie.ev.Stats
	s.metrics.observeStats(s.name, in.url, ie.ev.Stats)
	if ie.ev.Init != nil {
		init := *ie.ev.Init
		in.init = &init
		return
	}
	seg := ie.ev.Segment
	if seg == nil || in.init == nil {
		return
	}
	in.lastSeg = time.Now()

	s.mu.Lock()
	active := s.active
	s.mu.Unlock()

	switch {
	case ie.input < active:
		// A higher-priority input delivers again: it takes over at once,
		// on this segment's keyframe. The lower ones stop; this segment is
		// recorded unless it overlaps what the fallback already recorded,
		// in which case the input's next segment is the first one taken.
		s.switchTo(ie.input, "higher-priority input is back")
	case ie.input > active:
		// A lower-priority input still running (being stopped): ignore.
		return
	}
	s.accept(ctx, in, *seg)
}

// accept records seg from the active input.
func (s *Stream) accept(ctx context.Context, in *input, seg media.Segment) {
	s.mu.Lock()
	restart, prevEnd := false, s.lastEnd
	if seg.Start < s.lastEnd {
		if !media.RestartsTimeline(s.lastEnd, seg.Start, s.wallClock()) {
			s.mu.Unlock()
			s.dropped.Add(1)
			s.log.Debug("segment overlaps the recorded timeline, dropped", "start", seg.Start, "last_end", prevEnd)
			return
		}
		// The timeline ran ahead of the wall clock (a segment dated in
		// the future, a clock that stepped back): waiting for the clock
		// to reach it would drop every segment until then.
		restart = true
	}
	s.lastEnd = seg.End()
	s.lastInit = in.init.Hash
	s.lastSeg = time.Now()
	if seg.Duration > 0 {
		s.bitrate = float64(len(seg.Data)) * 8000 / float64(seg.Duration)
	}
	s.mu.Unlock()

	if restart {
		s.log.Warn("recorded timeline is ahead of the wall clock, starting a new one",
			"start", seg.Start, "last_end", prevEnd, "input", in.url)
		s.live.Reset() // its window would refuse every earlier segment too
	}
	s.live.Push(*in.init, seg)
	s.metrics.SegmentsIn.WithLabelValues(s.name).Inc()
	if s.rec != nil {
		s.rec.enqueue(ctx, *in.init, seg)
	}
}

// wallClock is the time now, by clock when set.
func (s *Stream) wallClock() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// switchTo makes input i active and stops the lower-priority inputs.
func (s *Stream) switchTo(i int, why string) {
	s.mu.Lock()
	prev := s.active
	s.active = i
	s.since = time.Now()
	s.mu.Unlock()
	for _, in := range s.inputs[i+1:] {
		s.stopInput(in)
	}
	s.metrics.InputSwitches.WithLabelValues(s.name).Inc()
	s.log.Info("input switched", "from", s.inputs[prev].url, "to", s.inputs[i].url, "reason", why)
}

// checkTimeout fails over to the next input when the active one has been
// silent for source_timeout. Higher-priority inputs keep running so that
// their return is noticed.
func (s *Stream) checkTimeout(ctx context.Context, now time.Time) {
	s.mu.Lock()
	active, since := s.active, s.since
	s.mu.Unlock()
	in := s.inputs[active]
	last := in.lastSeg
	if since.After(last) {
		last = since
	}
	if now.Sub(last) < s.timeout {
		return
	}
	if active+1 >= len(s.inputs) {
		// The last input is silent too: keep every capture running; the
		// first to deliver takes over.
		return
	}
	next := active + 1
	s.startInput(ctx, next)
	s.mu.Lock()
	s.active = next
	s.since = now
	s.mu.Unlock()
	s.metrics.InputSwitches.WithLabelValues(s.name).Inc()
	s.log.Warn("input timed out, switching to the next", "from", in.url, "to", s.inputs[next].url, "source_timeout", s.timeout)
}

// startInput starts capturing input i if it is not running.
func (s *Stream) startInput(ctx context.Context, i int) {
	in := s.inputs[i]
	if in.cancel != nil {
		return
	}
	cctx, cancel := context.WithCancel(ctx)
	in.cancel = cancel
	in.done = make(chan struct{})
	go s.capture(cctx, in)
}

// stopInput stops capturing in; its goroutine ends by itself.
func (s *Stream) stopInput(in *input) {
	if in.cancel == nil {
		return
	}
	in.cancel()
	in.cancel = nil
	in.init = nil
}

// capture calls the plugin's Capture for in until ctx ends, retrying when
// the plugin fails or restarts.
func (s *Stream) capture(ctx context.Context, in *input) {
	defer close(in.done)
	req := sdk.CaptureRequest{Stream: s.name, URL: in.target, SegmentDuration: s.segDur, Node: s.node, Key: in.key}
	emit := func(ev sdk.Event) error {
		select {
		case s.events <- inputEvent{input: in.index, ev: ev}:
			return nil
		case <-ctx.Done():
			// Still deliver what a graceful stop flushes, unless the loop is gone.
			select {
			case s.events <- inputEvent{input: in.index, ev: ev}:
				return nil
			case <-time.After(2 * time.Second):
				return ctx.Err()
			}
		}
	}
	for {
		ing, err := in.ingest(ctx)
		if err == nil {
			// A panic on what the plugin sends would end the node: it
			// fails this Capture call, which is retried.
			err = safe.Call(s.log.With("input", in.url), "ingest", func() error { return ing.Capture(ctx, req, emit) })
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			s.metrics.CaptureErrors.WithLabelValues(s.name).Inc()
			s.log.Warn("capture failed, retrying", "input", in.url, "err", err, "retry_in", captureRetry)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(captureRetry):
		}
	}
}

// Name is the stream's name.
func (s *Stream) Name() string { return s.name }

// inputURLs are the stream's inputs as logged and shown: keys redacted.
func (s *Stream) inputURLs() []string {
	out := make([]string, len(s.inputs))
	for i, in := range s.inputs {
		out[i] = in.url
	}
	return out
}

// Live is the stream's live window.
func (s *Stream) Live() *cache.Live { return s.live }

// Records reports whether the stream records into the archive.
func (s *Stream) Records() bool { return s.rec != nil }

// Replicates reports whether the stream records and copies its source's
// archive (dvr replicate).
func (s *Stream) Replicates() bool { return s.rec != nil && s.cfg.DVR != nil && s.cfg.DVR.Replicate }

// InputStatus is the state of one input.
type InputStatus struct {
	URL   string
	State string // "active", "standby" (running or waiting) or "failed" (timed out)
}

// Status is a snapshot of a stream's capture.
type Status struct {
	Inputs      []InputStatus
	ActiveInput string
	Bitrate     float64 // bits/s of the last accepted segment
	LastFrame   time.Time
}

// Status reports the stream's inputs and activity.
func (s *Stream) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Bitrate: s.bitrate, LastFrame: s.lastSeg}
	for i, in := range s.inputs {
		state := "standby"
		switch {
		case i == s.active && !s.lastSeg.IsZero() && time.Since(s.lastSeg) < s.timeout:
			state = "active"
			st.ActiveInput = in.url
		case i < s.active:
			state = "failed"
		}
		st.Inputs = append(st.Inputs, InputStatus{URL: in.url, State: state})
	}
	return st
}

// RemoteInput is an m4f:// input of a stream: another node whose archive
// the stream's archive lookup may ask.
type RemoteInput struct {
	Index     int    // position in the stream's inputs (priority order)
	Addr      string // host:port
	Stream    string // the stream's name on that node
	RemoteDVR string // nochain, chain or none
	Key       string // signs requests to it; never logged
}

// RemoteInputs lists the stream's m4f:// inputs in priority order.
func (s *Stream) RemoteInputs() []RemoteInput {
	var out []RemoteInput
	for _, in := range s.inputs {
		if in.remote != nil {
			out = append(out, *in.remote)
		}
	}
	return out
}

// ActiveInput is the index of the input in use now, -1 when none.
func (s *Stream) ActiveInput() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// Config is the stream's configuration (for a restreamed stream, the one
// its source block gave it).
func (s *Stream) Config() *config.Stream { return s.cfg }

// NodeName is the name of the node that runs the stream.
func (s *Stream) NodeName() string { return s.node }
