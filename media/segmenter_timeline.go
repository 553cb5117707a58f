// This file holds timestamp unwrap and anchoring: 33-bit unwrap, the UTC anchor, re-anchoring on jumps and timescale arithmetic.

package media

// anchor ties an unwrapped 90 kHz DTS to a UTC time in 90 kHz ticks.
type anchor struct {
	valid bool
	utc90 int64
	dts   int64
}

func (a anchor) at(u int64) int64 { return a.utc90 + u - a.dts }

// unwrapper follows one PID's 33-bit timestamps.
type unwrapper struct {
	have bool
	raw  int64
	u    int64
}

// signed33 returns a 33-bit timestamp difference as a signed value.
func signed33(d int64) int64 {
	d &= mask33
	if d >= 1<<32 {
		d -= 1 << 33
	}
	return d
}

// unwrap turns a 33-bit timestamp into a monotonic 64-bit one. A PID's
// first timestamp is taken relative to the last one of any PID, so all
// tracks share one unwrapped clock.
func (s *Segmenter) unwrap(w *unwrapper, raw int64, master bool) int64 {
	raw &= mask33
	ref, refRaw := w.u, w.raw
	if !w.have {
		if s.haveU {
			ref = s.lastU
			refRaw = ((s.lastU % (1 << 33)) + (1 << 33)) % (1 << 33)
		} else {
			ref, refRaw = raw, raw
		}
	}
	d := signed33(raw - refRaw)
	u := ref + d
	if master && refRaw+d >= 1<<33 {
		s.stats.PTSWraps++
	}
	w.have, w.raw, w.u = true, raw, u
	s.lastU, s.haveU = u, true
	return u
}

// anchorAt anchors the unwrapped DTS u to the wall clock, never before the
// end of what was emitted.
//
// After Reanchor, the old timeline is kept when u plainly continues it:
// mapped through the old anchor it lands after what was emitted and not in
// the future. A source that stalled (a loaded sender, a network hiccup)
// and resumed with the same clock thus keeps its timing, and only the real
// hole shows; a restarted encoder (timestamps from zero, or far off) gets
// the wall clock.
func (s *Segmenter) anchorAt(u int64) {
	now := s.cfg.Now().UnixMilli() * 90
	if soft := s.soft; soft.valid {
		s.soft = anchor{}
		if t := soft.at(u); t >= s.lastEnd90 && t <= now+softAhead90 {
			s.cur = soft
			s.prev = anchor{}
			s.anchored = true
			return
		}
	}
	now = max(now, s.lastEnd90)
	s.cur = anchor{valid: true, utc90: now, dts: u}
	s.prev = anchor{}
	s.anchored = true
}

// softAhead90 is how far ahead of the wall clock a resumed source's
// timeline may run and still be kept (90 kHz ticks).
const softAhead90 = 90000

// rejump re-anchors the timeline so that u lands on t90 (the continuation
// of the track that saw the jump).
func (s *Segmenter) rejump(u, t90 int64, track string) {
	s.stats.Discontinuities++
	s.prev = s.cur
	s.cur = anchor{valid: true, utc90: t90, dts: u}
	s.forceCut = true
	s.log.Info("timestamp jump, re-anchored", "track", track, "utc_ms", t90/90)
}

// to rate converts UTC 90 kHz ticks to sample-rate ticks without overflow.
func toRate(t90 int64, rate int) int64 {
	return (t90/90000)*int64(rate) + (t90%90000)*int64(rate)/90000
}

func to90(tr int64, rate int) int64 {
	r := int64(rate)
	return (tr/r)*90000 + (tr%r)*90000/r
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
