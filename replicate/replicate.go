// Package replicate holds the DVR replication job: it copies a source node's archive of one stream into the local store over signed M4F, newest first, each segment verified by its checksum before it is visible, and keeps the copy complete while following live.
//
// It sits beside chain/ rather than in it: chain answers one request at a
// time from whatever holds the video and never writes the archive, while a
// replication job is a long-running writer with its own lifecycle (New
// starts it, Close stops it), rate limit and progress.
package replicate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/edgedvr/edge/internal/safe"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// Source is the archive of the stream on the node replication copies from,
// reached over signed M4F (the wiring adapts plugins/m4f's Client to it).
// Segment and Init return bytes the client has already checked against the
// checksum or hash the source sent with them. Every call is given a
// deadline.
type Source interface {
	// Segments lists the source's segments whose start is in [from, to), in order.
	Segments(ctx context.Context, from, to int64) ([]sdk.SegmentInfo, error)
	// Segment returns the bytes of the segment that starts at start.
	Segment(ctx context.Context, start int64) ([]byte, error)
	// Init returns the init segment with that hash.
	Init(ctx context.Context, hash string) (media.Init, error)
}

// BulkSource is an optional interface of a Source (found by type
// assertion): Bulk fetches the bytes of all the source's segments that
// start in [from, to) with one call and calls each for every one, in order
// of start, with bytes the client has already checked against the checksum
// the source sent with them. A job fetches each batch of consecutive
// missing segments with one Bulk call. An error matching sdk.ErrNotFound
// means the source cannot (a node that predates it, or the stream is
// gone): the job then fetches that batch segment by segment.
type BulkSource interface {
	Bulk(ctx context.Context, from, to int64, each func(media.Segment) error) error
}

// Defaults of Config.
const (
	// DefaultSegmentDuration is used when Config.SegmentDuration is 0.
	DefaultSegmentDuration = 3 * time.Second
	// DefaultFullScan is how often a job that is caught up compares the
	// whole [now - depth, now] again; in between it compares the last
	// RecentWindow only.
	DefaultFullScan = time.Minute
	// RecentWindow is what a pass compares when no full scan is due.
	RecentWindow = 5 * time.Minute
	// ProgressLogInterval is the most often a job logs its progress while it copies.
	ProgressLogInterval = 10 * time.Second
	// maxBackoff bounds the wait after a failed pass.
	maxBackoff = 10 * time.Second
	// listChunk is how much archive one listing call asks for.
	listChunk = 6 * time.Hour
	// callTimeout bounds each listing call and store call.
	callTimeout = 10 * time.Second
	// segmentTimeout bounds each segment fetch (a rate-limited wait excluded).
	segmentTimeout = 60 * time.Second
)

// Config configures the job of one stream.
type Config struct {
	// Stream is the local stream's name.
	Stream string
	// SourceName names the source in logs and the API (e.g. host:port).
	SourceName string
	// Source is the source's archive of the stream. Required.
	Source Source
	// Store returns the local archive store (waiting while its plugin
	// restarts). Required; the stream must be open in it.
	Store func(ctx context.Context) (sdk.Store, error)
	// Depth is how far back to copy; 0 copies all the source has.
	Depth time.Duration
	// SegmentDuration is the stream's target segment length: a job that is
	// caught up compares again this often. By default, DefaultSegmentDuration.
	SegmentDuration time.Duration
	// Speed caps the segment bytes copied per second; 0 is unlimited.
	Speed int64
	// SourceWins: where a source segment overlaps different local ones, the
	// source's replaces them (the source is the stream's first input, so
	// its archive wins, seed 000). Otherwise such segments are left alone
	// and counted as conflicts. Needs a store that implements
	// sdk.SegmentDeleter. By default, false.
	SourceWins bool
	// FullScan: see DefaultFullScan. By default, DefaultFullScan.
	FullScan time.Duration
	// Logger by default is slog.Default().
	Logger *slog.Logger
	// Metrics are shared by the node's jobs. By default, a private set.
	Metrics *Metrics
	// Now is the wall clock. By default, time.Now.
	Now func() time.Time

	// batchSegments bounds a batch; by default maxBatchSegments (tests
	// lower it to see the order of batches).
	batchSegments int
}

// Job copies the archive of one stream. Its goroutine starts in New and
// stops in Close.
type Job struct {
	cfg     Config
	log     *slog.Logger
	m       *Metrics
	limiter *rate.Limiter // nil: unlimited

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	initMu sync.Mutex
	inits  map[string]bool // init hashes known to be in the local store; guarded by initMu

	mu sync.Mutex
	st Status // guarded by mu
	// rate window: bytes copied at the start of the window and when it began.
	rateBytes int64
	rateAt    time.Time
	lastLog   time.Time
}

// Status is a job's progress.
type Status struct {
	// Source names where the job copies from.
	Source string
	// SegmentsCopied and BytesCopied count what this job stored since it started.
	SegmentsCopied int64
	BytesCopied    int64
	// SegmentsMissing and SecondsMissing are what the last comparison
	// found missing here, less what was copied since.
	SegmentsMissing int64
	SecondsMissing  float64
	// Conflicts counts source segments that overlap a different local
	// segment (left alone) at the last comparison.
	Conflicts int64
	// Rate is the copy rate in bytes per second over the last seconds.
	Rate float64
	// ETA is the estimated time to copy what is missing at Rate; 0 when
	// nothing is missing or the rate is unknown.
	ETA time.Duration
	// CaughtUp is true once a full comparison found nothing missing.
	CaughtUp bool
	// LastPass is when the last comparison finished.
	LastPass time.Time
	// LastError is the last failure (empty when none) and when it happened.
	LastError   string
	LastErrorAt time.Time
}

// New validates cfg, fills its defaults and starts the job.
func New(cfg Config) (*Job, error) {
	if err := sdk.CheckStreamName(cfg.Stream); err != nil {
		return nil, fmt.Errorf("replicate: %w", err)
	}
	switch {
	case cfg.Source == nil:
		return nil, fmt.Errorf("replicate: stream %s: no source", cfg.Stream)
	case cfg.Store == nil:
		return nil, fmt.Errorf("replicate: stream %s: no store", cfg.Stream)
	case cfg.Depth < 0:
		return nil, fmt.Errorf("replicate: stream %s: negative depth %v", cfg.Stream, cfg.Depth)
	case cfg.Speed < 0:
		return nil, fmt.Errorf("replicate: stream %s: negative speed %d", cfg.Stream, cfg.Speed)
	}
	if cfg.SegmentDuration <= 0 {
		cfg.SegmentDuration = DefaultSegmentDuration
	}
	if cfg.FullScan <= 0 {
		cfg.FullScan = DefaultFullScan
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.batchSegments <= 0 {
		cfg.batchSegments = maxBatchSegments
	}
	j := &Job{
		cfg:   cfg,
		log:   cfg.Logger.With("stream", cfg.Stream, "source", cfg.SourceName),
		m:     cfg.Metrics,
		done:  make(chan struct{}),
		inits: map[string]bool{},
		st:    Status{Source: cfg.SourceName},
	}
	if cfg.Speed > 0 {
		// A bucket of one second's worth: a segment larger than that is
		// paid for in several waits.
		j.limiter = rate.NewLimiter(rate.Limit(cfg.Speed), int(min(cfg.Speed, 1<<30)))
		// Start with an empty bucket: no burst above the speed at start.
		j.limiter.AllowN(time.Now(), j.limiter.Burst())
	}
	ctx, cancel := context.WithCancel(context.Background())
	j.cancel = cancel
	go j.run(ctx)
	return j, nil
}

// Close stops the job and waits for it; a segment being copied is
// abandoned before it is stored. It is safe to call more than once.
func (j *Job) Close() error {
	j.once.Do(func() {
		j.cancel()
		<-j.done
		j.m.forget(j.cfg.Stream)
	})
	return nil
}

// Status returns the job's progress now.
func (j *Job) Status() Status {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.st
	s.Rate = j.rateLocked(j.cfg.Now())
	if s.Rate > 0 && s.SegmentsMissing > 0 {
		s.ETA = time.Duration(float64(j.missingBytes()) / s.Rate * float64(time.Second))
	}
	return s
}

// missingBytes estimates the bytes still missing from the average size of
// what was copied (mu held).
func (j *Job) missingBytes() int64 {
	if j.st.SegmentsCopied == 0 {
		return 0
	}
	return j.st.SegmentsMissing * (j.st.BytesCopied / j.st.SegmentsCopied)
}

// rateLocked is the copy rate over the current window (mu held). The window
// restarts every ProgressLogInterval so the rate follows changes.
func (j *Job) rateLocked(now time.Time) float64 {
	if j.rateAt.IsZero() {
		return 0
	}
	el := now.Sub(j.rateAt).Seconds()
	if el < 0.5 {
		return 0
	}
	return float64(j.st.BytesCopied-j.rateBytes) / el
}

func (j *Job) run(ctx context.Context) {
	defer close(j.done)
	backoff := time.Second
	var lastFull time.Time
	for {
		full := lastFull.IsZero() || j.cfg.Now().Sub(lastFull) >= j.cfg.FullScan
		// A panic in a pass (on a source's answer) fails the pass; the job
		// goes on.
		var copied int
		err := safe.Call(j.log, "replicate", func() (err error) {
			copied, err = j.pass(ctx, full)
			return err
		})
		if ctx.Err() != nil {
			return
		}
		wait := j.cfg.SegmentDuration
		switch {
		case err != nil:
			j.fail(err)
			lastFull = time.Time{} // compare everything again after a failure
			wait = backoff
			backoff = min(backoff*2, maxBackoff)
		case copied > 0:
			lastFull = time.Time{} // something was missing: compare everything once more
			backoff = time.Second
			wait = 0
		default:
			if full {
				lastFull = j.cfg.Now()
			}
			backoff = time.Second
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// fail records a failure in the status and the metrics and logs it.
func (j *Job) fail(err error) {
	j.m.errors.WithLabelValues(j.cfg.Stream).Inc()
	j.mu.Lock()
	j.st.LastError, j.st.LastErrorAt = err.Error(), j.cfg.Now()
	j.mu.Unlock()
	j.log.Warn("replication pass failed", "error", err)
}

// liveGuard is how far behind now replication stops: three segments and a
// second, the live push's backlog and a segment in flight.
func liveGuard(segDur time.Duration) time.Duration { return 3*segDur + time.Second }

// errStore marks a failure of the local store: the pass stops.
var errStore = errors.New("local store")

// pass compares the local archive with the source's over the window (all
// of [now - depth, now] when full, else the last RecentWindow) and copies
// what is missing, newest first. It returns how many segments it stored.
func (j *Job) pass(ctx context.Context, full bool) (int, error) {
	now := j.cfg.Now()
	// The newest few segments are left to live recording, which brings
	// them anyway (the live push starts with a backlog of three).
	to := now.Add(-liveGuard(j.cfg.SegmentDuration)).UnixMilli()
	from := int64(0)
	if j.cfg.Depth > 0 {
		from = now.Add(-j.cfg.Depth).UnixMilli()
	}
	if !full {
		from = max(from, now.Add(-RecentWindow).UnixMilli())
	}
	missing, breaks, replace, conflicts, err := j.compare(ctx, from, to)
	if err != nil {
		return 0, err
	}
	var secs float64
	for _, s := range missing {
		secs += float64(s.Duration) / 1000
	}
	for _, r := range replace {
		secs += float64(r.seg.Duration) / 1000
	}
	todo := len(missing) + len(replace)
	j.mu.Lock()
	j.st.SegmentsMissing, j.st.SecondsMissing, j.st.Conflicts = int64(todo), secs, int64(conflicts)
	if todo > 0 {
		j.st.CaughtUp = false
	}
	j.mu.Unlock()
	j.m.setMissing(j.cfg.Stream, todo, secs)
	if todo > 0 {
		j.log.Info("replication found missing segments", "segments", len(missing), "replace", len(replace), "seconds", secs, "full", full, "conflicts", conflicts)
	}
	copied, err := j.copyAll(ctx, missing, breaks)
	if err != nil {
		return copied, err
	}
	replaced, err := j.replaceAll(ctx, replace)
	copied += replaced
	if err != nil {
		return copied, err
	}
	j.mu.Lock()
	j.st.LastPass = j.cfg.Now()
	if full && todo == 0 {
		j.st.CaughtUp = true
	}
	j.mu.Unlock()
	return copied, nil
}

// compare lists both archives over [from, to) and returns the source's
// segments that have no local segment at their place, newest first, and
// the starts of those among them whose previous source segment is not
// missing (where a run of consecutive missing segments begins); with
// SourceWins, the source's segments that overlap different local ones,
// newest first; without, how many those are.
func (j *Job) compare(ctx context.Context, from, to int64) (missing []sdk.SegmentInfo, breaks map[int64]bool, replace []replacement, conflicts int, err error) {
	st, err := j.store(ctx)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	breaks = map[int64]bool{}
	chunk := listChunk.Milliseconds()
	// Newest chunk first; a local segment may start up to an hour before
	// the chunk and overlap it.
	for hi := to; hi > from; hi -= chunk {
		lo := max(from, hi-chunk)
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		remote, err := j.cfg.Source.Segments(cctx, lo, hi)
		cancel()
		if err != nil {
			if errors.Is(err, sdk.ErrNotFound) {
				remote = nil
			} else {
				return nil, nil, nil, 0, fmt.Errorf("replicate: list source segments: %w", err)
			}
		}
		if len(remote) == 0 {
			continue
		}
		cctx, cancel = context.WithTimeout(ctx, callTimeout)
		local, err := st.Segments(cctx, j.cfg.Stream, lo-time.Hour.Milliseconds(), hi+time.Hour.Milliseconds())
		cancel()
		if err != nil && !errors.Is(err, sdk.ErrNotFound) {
			return nil, nil, nil, 0, fmt.Errorf("replicate: list local segments: %w: %v", errStore, err)
		}
		k := 0
		prevMissing := false
		for _, r := range remote {
			isMissing := false
			for k < len(local) && local[k].End() <= r.Start {
				k++
			}
			switch {
			case k < len(local) && local[k].Start == r.Start && local[k].Checksum == r.Checksum && local[k].Duration == r.Duration:
				// Already here.
			case k < len(local) && local[k].Start < r.End():
				if !j.cfg.SourceWins {
					conflicts++
					prevMissing = false
					continue
				}
				rp := replacement{seg: r}
				for m := k; m < len(local) && local[m].Start < r.End(); m++ {
					rp.local = append(rp.local, local[m].Start)
				}
				replace = append(replace, rp)
			default:
				missing = append(missing, r)
				isMissing = true
				if !prevMissing {
					breaks[r.Start] = true
				}
			}
			prevMissing = isMissing
		}
	}
	slices.SortFunc(missing, func(a, b sdk.SegmentInfo) int { return cmpInt(b.Start, a.Start) })
	slices.SortFunc(replace, func(a, b replacement) int { return cmpInt(b.seg.Start, a.seg.Start) })
	return missing, breaks, replace, conflicts, nil
}

// replacement is a source segment that replaces the local segments (by
// start) that overlap it (Config.SourceWins).
type replacement struct {
	seg   sdk.SegmentInfo
	local []int64
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (j *Job) store(ctx context.Context) (sdk.Store, error) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	st, err := j.cfg.Store(cctx)
	if err != nil {
		return nil, fmt.Errorf("replicate: %w: %v", errStore, err)
	}
	return st, nil
}
