// This file holds the rule that keeps a timeline that ran ahead of the wall
// clock (a segment dated in the future, a clock that stepped back) from
// refusing every later segment.

package media

import "time"

// MaxAhead is how far the end of a taken timeline may run ahead of the wall
// clock and still be trusted to refuse an earlier segment as an overlap.
// Live segments are taken after they end, so a timeline of real, correctly
// dated video is never ahead of the clock by more than the clock skew
// between two nodes.
const MaxAhead = 10 * time.Second

// RestartsTimeline reports whether a segment starting at start (UTC ms),
// which starts before lastEnd, the end of the segments taken so far, begins
// a new timeline instead of overlapping the old one: the old timeline ends
// more than MaxAhead after now, while start is not that far ahead. It then
// came from a segment dated in the future, or from a clock that has since
// stepped back, and refusing every segment until the clock catches up
// would drop real video for as long as the step.
//
// A source that is ahead of the clock all along keeps its timeline: its
// segments are ahead too, so replays and overlaps among them are still
// refused.
func RestartsTimeline(lastEnd, start int64, now time.Time) bool {
	limit := now.UnixMilli() + MaxAhead.Milliseconds()
	return start < lastEnd && lastEnd > limit && start <= limit
}
