// Package chain holds the archive lookup of one stream across the local store, the disk segment cache and the stream's sources (remote_dvr modes, loop rules, merging, request coalescing).
//
// See README.md for the lookup order, the modes and the loop rules.
package chain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sync/singleflight"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/config"
	"github.com/edgedvr/edge/internal/safe"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// Remote is the archive of one source node, reached over M4F. via and hops
// are the X-Edge-Via and X-Edge-Hops values to send with the call (see
// cluster.Chain). The wiring adapts the M4F client to it.
//
// Errors: sdk.ErrNotFound (wrapped or not) when the source has no such
// stream, segment or init; ErrLoop (wrapped or not) when the source answered
// 508 because it found itself in via; anything else is a failure of the
// source (down, timeout, bad answer). Every call is given a deadline.
type Remote interface {
	Ranges(ctx context.Context, stream string, from, to int64, via, hops string) ([]sdk.Range, error)
	Segments(ctx context.Context, stream string, from, to int64, via, hops string) ([]sdk.SegmentInfo, error)
	Segment(ctx context.Context, stream string, start int64, via, hops string) ([]byte, error)
	Init(ctx context.Context, stream, hash string, via, hops string) (media.Init, error)
}

// CheckedRemote is a Remote whose segment reads also return the
// description the source sent with the bytes (start, duration, init,
// size), with a Checksum the remote has already checked the bytes against
// (the M4F client checks them against the X-Edge-Checksum header). The
// lookup then compares that checksum with the listing's instead of hashing
// the bytes again, and takes a segment's duration and init from it instead
// of listing the segment. An empty Checksum means not checked.
type CheckedRemote interface {
	Remote
	CheckedSegment(ctx context.Context, stream string, start int64, via, hops string) ([]byte, sdk.SegmentInfo, error)
}

// Local is the local archive of the stream: sdk.Store bound to one stream
// name (the same shape as proxy.Archive). sdk.ErrNotFound means it has
// nothing; any other error is a failure of the store.
type Local interface {
	Ranges(ctx context.Context, from, to int64) ([]sdk.Range, error)
	Segments(ctx context.Context, from, to int64) ([]sdk.SegmentInfo, error)
	ReadInit(ctx context.Context, hash string) (media.Init, error)
	ReadSegment(ctx context.Context, start int64) ([]byte, error)
}

// ErrLoop is what a Remote returns (wrapped or not) when the source answered
// 508: it found itself in the call's Via. The wiring maps the M4F client's
// 508 error to it. The lookup treats such a source as empty and logs it.
// Archive methods return it (wrapped) when the incoming chained request
// already names this node in its Via; the front answers 508.
var ErrLoop = errors.New("chain loop")

// ErrUnavailable is the Unavailable error used when Config.Unavailable is nil.
var ErrUnavailable = errors.New("archive unavailable")

// The remote_dvr modes of a source.
const (
	ModeNoChain = config.RemoteDVRNoChain
	ModeChain   = config.RemoteDVRChain
	ModeNone    = config.RemoteDVRNone
)

// Source is one source of the stream, in priority order in Config.Sources.
type Source struct {
	// Name names the source in logs and metrics (e.g. its node name).
	Name string
	// Remote is the source's archive.
	Remote Remote
	// Mode is remote_dvr: "nochain" (by default) asks the source for its own
	// archive only; "chain" lets the source ask its own sources in turn;
	// "none" asks the source (for its own archive) only while InUse reports
	// true.
	Mode string
	// InUse reports whether this source is the input in use now. Only read
	// for Mode "none"; nil means never.
	InUse func() bool
}

// Config configures the archive lookup of one stream.
type Config struct {
	// Self is this node's name, added to Via on every call to a source.
	Self string
	// Stream is the stream's name.
	Stream string
	// Local is the local archive of the stream; nil when there is none.
	Local Local
	// Disk is the disk segment cache; nil when there is none.
	Disk *cache.Disk
	// Sources in priority order.
	Sources []Source
	// HopLimit is the X-Edge-Hops of a chain this node starts. By default,
	// cluster.DefaultHopLimit.
	HopLimit int
	// Timeout bounds each call to a source. By default, 3 s.
	Timeout time.Duration
	// NegativeTTL is how long an empty or failed answer is remembered (and a
	// failed source skipped). By default, 2 s.
	NegativeTTL time.Duration
	// ListingTTL is how long a segment listed by a source answers a
	// one-segment listing of it (Segments(start, start+1), what the front
	// asks before reading a segment) on the same route, instead of asking
	// the sources again. Archive segments do not change: the worst a stale
	// record does is announce a segment that retention removed since, and
	// its read is then a clean not-found. By default, 30 s (a viewer at
	// normal speed reads about that much of the look-ahead, listAhead, in
	// that time); negative: never.
	ListingTTL time.Duration
	// Unavailable is wrapped in errors for "nothing here and the sources
	// that may have it failed" (the wiring sets proxy.ErrUnavailable). By
	// default, ErrUnavailable.
	Unavailable error
	// Logger by default is slog.Default().
	Logger *slog.Logger
	// Metrics are shared by the node's lookups. By default, a private set
	// that is not registered anywhere.
	Metrics *Metrics
}

// Defaults of Config.
const (
	DefaultTimeout     = 3 * time.Second
	DefaultNegativeTTL = 2 * time.Second
	DefaultListingTTL  = 30 * time.Second
)

// maxOrigins bounds how many segment origins (which source listed a segment)
// an Archive remembers.
const maxOrigins = 1 << 16

// maxNegative bounds the negative cache before it is swept.
const maxNegative = 4096

// Archive is the archive of one stream as this node can serve it: the local
// store, the disk cache and the sources, merged. It satisfies proxy.Archive.
// It is safe for concurrent use.
type Archive struct {
	cfg   Config
	log   *slog.Logger
	m     *Metrics
	group singleflight.Group

	down []atomic.Int64 // per source: unix nanos until which it is skipped

	// waiting counts callers that have joined a flight and wait for it (for tests).
	waiting atomic.Int64

	mu      sync.Mutex
	neg     map[string]negEntry               // guarded by mu
	origins *simplelru.LRU[int64, origin]     // guarded by mu
	listed  *simplelru.LRU[listedKey, origin] // guarded by mu: what a listing on a route gave
	wantPut map[int64]struct{}                // guarded by mu: segments a caller wants on disk
	fills   map[string]*fill                  // guarded by mu: segments being streamed from a source, by flight key
}

type negEntry struct {
	until time.Time
	err   error // nil: an empty answer
}

// origin is where a listed remote segment came from, and until when it may
// answer a one-segment listing on the route it was listed on.
type origin struct {
	src   int
	info  sdk.SegmentInfo
	until time.Time
}

// listedKey names a segment listed on a route (chainKey).
type listedKey struct {
	start int64
	route string
}

// New returns the lookup of cfg.Stream.
func New(cfg Config) (*Archive, error) {
	if err := sdk.CheckStreamName(cfg.Stream); err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	if cfg.Self == "" {
		return nil, errors.New("chain: node name (Self) is empty")
	}
	for i, s := range cfg.Sources {
		if s.Remote == nil {
			return nil, fmt.Errorf("chain: source %d (%s) has no remote", i, s.Name)
		}
		switch s.Mode {
		case "":
			cfg.Sources[i].Mode = ModeNoChain
		case ModeNoChain, ModeChain, ModeNone:
		default:
			return nil, fmt.Errorf("chain: source %s: remote_dvr %q: want nochain, chain or none", s.Name, s.Mode)
		}
	}
	if cfg.HopLimit <= 0 {
		cfg.HopLimit = cluster.DefaultHopLimit
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = DefaultNegativeTTL
	}
	if cfg.ListingTTL == 0 {
		cfg.ListingTTL = DefaultListingTTL
	}
	if cfg.Unavailable == nil {
		cfg.Unavailable = ErrUnavailable
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	origins, err := simplelru.NewLRU[int64, origin](maxOrigins, nil)
	if err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	listed, err := simplelru.NewLRU[listedKey, origin](maxOrigins, nil)
	if err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	return &Archive{
		cfg:     cfg,
		log:     cfg.Logger.With("stream", cfg.Stream, "node", cfg.Self),
		m:       cfg.Metrics,
		down:    make([]atomic.Int64, len(cfg.Sources)),
		neg:     make(map[string]negEntry),
		origins: origins,
		listed:  listed,
		wantPut: make(map[int64]struct{}),
		fills:   make(map[string]*fill),
	}, nil
}

// route returns the Via and Hops to send to source i for a request with
// context ctx, or ok false when the source must not be asked (mode none and
// not in use, or no hops left).
func (a *Archive) route(ctx context.Context, i int) (via, hops string, ok bool) {
	s := &a.cfg.Sources[i]
	if s.Mode == ModeNone && (s.InUse == nil || !s.InUse()) {
		return "", "", false
	}
	c, chained := cluster.ChainFrom(ctx)
	if !chained {
		// A chain that starts here: the first call carries HopLimit.
		c = cluster.Chain{Hops: a.cfg.HopLimit + 1}
	}
	via, hops, ok = c.Forward(a.cfg.Self)
	if !ok {
		return "", "", false
	}
	if s.Mode != ModeChain {
		// The source answers from its own archive: no hops left after this call.
		hops = "1"
	}
	return via, hops, true
}

// chainKey names the route of an incoming request, for coalescing and
// negative caching: requests on different routes may get different answers.
func chainKey(ctx context.Context) string {
	c, ok := cluster.ChainFrom(ctx)
	if !ok {
		return "-"
	}
	k := strconv.Itoa(c.Hops)
	for _, v := range c.Via {
		k += "," + v
	}
	return k
}

// checkLoop returns an error wrapping ErrLoop when the incoming request has
// already passed this node.
func (a *Archive) checkLoop(ctx context.Context) error {
	if c, ok := cluster.ChainFrom(ctx); ok && c.Has(a.cfg.Self) {
		return fmt.Errorf("chain: request for %s came back to %s: %w", a.cfg.Stream, a.cfg.Self, ErrLoop)
	}
	return nil
}

func (a *Archive) isDown(i int) bool {
	return time.Now().UnixNano() < a.down[i].Load()
}

func (a *Archive) markDown(i int) {
	a.down[i].Store(time.Now().Add(a.cfg.NegativeTTL).UnixNano())
}

// negative returns a remembered empty (err nil) or failed answer for key.
func (a *Archive) negative(key string) (negEntry, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.neg[key]
	if !ok {
		return negEntry{}, false
	}
	if time.Now().After(e.until) {
		delete(a.neg, key)
		return negEntry{}, false
	}
	return e, true
}

func (a *Archive) remember(key string, err error) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.neg) >= maxNegative {
		for k, e := range a.neg {
			if now.After(e.until) {
				delete(a.neg, k)
			}
		}
		if len(a.neg) >= maxNegative {
			clear(a.neg)
		}
	}
	a.neg[key] = negEntry{until: now.Add(a.cfg.NegativeTTL), err: err}
}

// do runs fn once for all concurrent callers with the same key. fn gets a
// context that keeps ctx's values but not its cancellation (its calls have
// their own deadlines); a caller whose ctx ends stops waiting.
func (a *Archive) do(ctx context.Context, kind, key string, fn func(context.Context) (any, error)) (any, error) {
	led := false
	detached := context.WithoutCancel(ctx)
	ch := a.group.DoChan(key, func() (v any, err error) {
		led = true
		// DoChan re-raises a panic where nothing can recover it: a bug
		// met on a peer's answer would end the process.
		err = safe.Call(a.log, "chain", func() error {
			v, err = fn(detached)
			return err
		})
		return v, err
	})
	a.waiting.Add(1)
	defer a.waiting.Add(-1)
	select {
	case r := <-ch:
		if !led {
			a.m.coalesced.WithLabelValues(kind).Inc()
		}
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, fmt.Errorf("chain: %s of %s: %w", kind, a.cfg.Stream, ctx.Err())
	}
}

// sourceCall makes one call to source i with the per-call deadline and
// classifies the answer: found (err nil), empty (NotFound or loop: ok
// true, err nil, found false) or failed (err set; the source is marked down).
func (a *Archive) sourceCall(ctx context.Context, i int, kind, via string, call func(context.Context) error) (found bool, err error) {
	s := &a.cfg.Sources[i]
	if a.isDown(i) {
		return false, fmt.Errorf("chain: source %s is down", s.Name)
	}
	a.m.calls.WithLabelValues(s.Name, kind).Inc()
	cctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	err = call(cctx)
	cancel()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrLoop):
		a.m.loops.WithLabelValues(s.Name).Inc()
		a.log.Info("source answered loop (508), treating it as empty", "source", s.Name, "kind", kind, "via", via)
		return false, nil
	case errors.Is(err, sdk.ErrNotFound):
		return false, nil
	default:
		a.m.errors.WithLabelValues(s.Name, kind).Inc()
		a.markDown(i)
		a.log.Warn("source call failed", "source", s.Name, "kind", kind, "err", err)
		return false, fmt.Errorf("chain: %s from source %s: %w", kind, s.Name, err)
	}
}

func isNotFound(err error) bool { return errors.Is(err, sdk.ErrNotFound) }
