package media

import "time"

// SegmenterConfig configures a Segmenter.
type SegmenterConfig struct {
	// TargetDuration is the segment length to aim for; a segment is cut on the
	// first video keyframe at or after it. By default, 3 s.
	TargetDuration time.Duration
	// Program selects the MPEG-TS program number to take. By default (0), the first program in the PAT.
	Program int
	// Now returns the wall clock used to anchor the first keyframe. By default, time.Now.
	Now func() time.Time
	// OnInit is called with each new init segment (first one, and on a codec change), before the segments that use it.
	OnInit func(Init)
	// OnSegment is called with each finished media segment, in order.
	OnSegment func(Segment)
}

// Stats counts what a Segmenter saw. All fields only grow.
type Stats struct {
	Packets         uint64 // TS packets parsed
	GarbageBytes    uint64 // bytes skipped while looking for TS sync
	CCErrors        uint64 // continuity-counter errors
	PTSWraps        uint64 // 33-bit PTS wraps handled
	Discontinuities uint64 // timestamp jumps that re-anchored the timeline
	Unsupported     uint64 // PMTs that list no supported codec, or frames of unsupported codecs dropped
	Frames          uint64 // access units (video + audio) taken into segments
	Segments        uint64 // segments emitted
}

// Segmenter turns an MPEG-TS byte stream into an fMP4 init segment and
// keyframe-aligned media segments anchored to UTC.
//
// It is not safe for concurrent use.
type Segmenter struct {
	cfg SegmenterConfig
}

// NewSegmenter returns a Segmenter with cfg's defaults filled in.
func NewSegmenter(cfg SegmenterConfig) *Segmenter {
	panic("TODO: media helper implements this")
}

// Write feeds TS bytes in any alignment. Garbage is skipped and counted; it
// returns an error only for misuse, never for bad input.
func (s *Segmenter) Write(p []byte) (int, error) { panic("TODO") }

// Reanchor makes the next keyframe start a new timeline anchored to the wall
// clock (used after a source gap or a loop of a file input).
func (s *Segmenter) Reanchor() { panic("TODO") }

// Flush finishes the open segment, if it holds a keyframe, and emits it.
func (s *Segmenter) Flush() { panic("TODO") }

// Stats returns the counters so far.
func (s *Segmenter) Stats() Stats { panic("TODO") }
