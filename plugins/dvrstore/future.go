package dvrstore

import (
	"fmt"
	"math"
	"time"
)

// MaxFuture is how far after the wall clock a segment may start and still
// be kept. Retention deletes, in every stream whatever its depth, the
// segments that start later: they were dated by a clock that was wrong
// (a peer's, or this machine's before it was set), and kept they would
// sit at the end of the archive for as long as they are ahead. A day is far
// beyond any clock error that still dates real video: a clock stepped back
// by less than that keeps what it recorded ahead, and that video ages out
// by depth like any other.
const MaxFuture = 24 * time.Hour

// cleanFuture deletes the stream's segments that start more than MaxFuture
// after now (they can only be in its newest hours), then makes the end of
// the newest remaining segment the end that recording appends after.
func (st *stream) cleanFuture(now time.Time) error {
	limit := now.UnixMilli() + MaxFuture.Milliseconds()
	st.mu.RLock()
	ahead := len(st.hours) > 0 && st.hours[len(st.hours)-1].lastEnd() > limit+1
	st.mu.RUnlock()
	if !ahead {
		return nil
	}
	n, err := st.deleteSegments(limit+1, math.MaxInt64)
	if err != nil {
		return fmt.Errorf("dvrstore: retention of future segments of stream %q: %w", st.name, err)
	}
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	st.mu.Lock()
	if k := len(st.hours); k > 0 {
		st.hasLast, st.lastEnd = true, st.hours[k-1].lastEnd()
	} else {
		st.hasLast, st.lastEnd = false, 0
	}
	lastEnd := st.lastEnd
	st.mu.Unlock()
	if n > 0 {
		st.log.Warn("dvrstore: deleted segments dated in the future", "stream", st.name, "segments", n,
			"after", time.UnixMilli(limit).UTC(), "archive_end", time.UnixMilli(lastEnd).UTC())
	}
	return nil
}
