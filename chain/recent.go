package chain

import (
	"context"
	"time"

	"github.com/edgedvr/edge/sdk"
)

// knownSegment answers a one-segment listing, Segments(start, start+1)
// (the front asks it before reading a segment), without asking the sources
// when this node already knows the answer: chosen (what the local archive
// and the disk cache list) has the segment, or a source listed it on the
// same route less than ListingTTL ago. ok is false when the sources must be
// asked.
//
// A recalled listing is never a wrong answer for long: a segment gone
// upstream since makes the read that follows a clean not-found, and the
// record is dropped (forgetOrigin).
func (a *Archive) knownSegment(ctx context.Context, start int64, chosen []sdk.SegmentInfo) (segs []sdk.SegmentInfo, ok bool) {
	for _, s := range chosen {
		if s.Start == start {
			// A source's segment at the same start would be dropped as an overlap.
			return chosen, true
		}
	}
	a.mu.Lock()
	o, ok := a.listed.Get(listedKey{start, chainKey(ctx)})
	a.mu.Unlock()
	if !ok || !time.Now().Before(o.until) || a.isDown(o.src) {
		return nil, false
	}
	if _, _, ok := a.route(ctx, o.src); !ok {
		return nil, false
	}
	a.m.recalled.Inc()
	return mergeSegments(chosen, []sdk.SegmentInfo{o.info}, nil), true
}

// rememberOrigins records which source listed each picked segment (for
// reads) and, for ListingTTL, that it answers a one-segment listing on
// route.
func (a *Archive) rememberOrigins(picked []origin, route string) {
	if len(picked) == 0 {
		return
	}
	var until time.Time
	if a.cfg.ListingTTL > 0 {
		until = time.Now().Add(a.cfg.ListingTTL)
	}
	a.mu.Lock()
	for _, o := range picked {
		o.until = until
		a.origins.Add(o.info.Start, o)
		if a.cfg.ListingTTL > 0 {
			a.listed.Add(listedKey{o.info.Start, route}, o)
		}
	}
	a.mu.Unlock()
}

func (a *Archive) originOf(start int64) (origin, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.origins.Get(start)
}

// forgetOrigin drops what the sources listed at start (on route, for
// listings): a read of it failed or found nothing, so the next listing on
// that route asks them again. A record on another route is dropped when a
// read on that route fails in turn.
func (a *Archive) forgetOrigin(start int64, route string) {
	a.mu.Lock()
	a.origins.Remove(start)
	a.listed.Remove(listedKey{start, route})
	a.mu.Unlock()
}
