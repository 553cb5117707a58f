// This file holds the Segmenter: its configuration, counters, state and entry points (Write, Flush, Reanchor, Stats).

package media

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/asticode/go-astits"
)

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
	// ReuseData makes a Segment's Data valid only until OnSegment returns:
	// the segmenter builds later segments in the same memory, so a stream
	// costs no new segment-sized allocation per segment. OnSegment must
	// copy the bytes it keeps. By default each segment's Data is its own.
	ReuseData bool
	// Logger receives the segmenter's log lines (tracks not recorded,
	// timestamp jumps, ...), with the component added. By default,
	// slog.Default().
	Logger *slog.Logger
}

// Stats counts what a Segmenter saw. All fields only grow.
type Stats struct {
	Packets         uint64 // TS packets parsed
	GarbageBytes    uint64 // bytes skipped while looking for TS sync
	CCErrors        uint64 // continuity-counter errors
	PTSWraps        uint64 // 33-bit PTS wraps handled
	Discontinuities uint64 // timestamp jumps that re-anchored the timeline
	Unsupported     uint64 // PMTs that list no supported codec, PMT tracks not carried (once per PMT change), frames that cannot be carried dropped
	Frames          uint64 // access units (video + audio) taken into segments
	Segments        uint64 // segments emitted
}

const (
	tsPacketSize = 188
	tsSync       = 0x47
	mask33       = 1<<33 - 1
	// jump90 is how far past the expected next frame a timestamp may land
	// before it counts as a jump that re-anchors the timeline.
	jump90 = 2 * 90000
	// audioBack90 is how far before the expected next audio frame a
	// timestamp may land before it counts as a backwards jump.
	audioBack90 = 90000 / 2
	// audioWait90 is how long (in video time) a cut segment waits for the
	// audio that belongs to it before it is emitted anyway.
	audioWait90 = 2 * 90000
	// maxAudioQueue bounds the audio frames held while video catches up.
	maxAudioQueue = 512
	// maxSegBytes bounds the media bytes (video and audio) of one segment:
	// half the 64 MiB a segment may have to cross a plugin boundary
	// (sdk.MaxSegmentSize, M4F's default cap), which leaves room for the
	// moof and the audio that still joins a cut segment. A source that
	// sends no keyframe for that long has its segment cut at a non-key
	// frame; the frames up to the next random access point are dropped, so
	// every segment still starts on one and stays playable.
	maxSegBytes = 32 << 20
	// writeChunk bounds the bytes taken from one Write at a time.
	writeChunk = 64 << 10
	// defaultFrame90 is the video frame duration assumed before one is known.
	defaultFrame90 = 3600
)

// Segmenter turns an MPEG-TS byte stream into an fMP4 init segment and
// keyframe-aligned media segments anchored to UTC.
//
// It is not safe for concurrent use.
type Segmenter struct {
	cfg   SegmenterConfig
	log   *slog.Logger
	stats Stats

	// input and demux
	in        []byte
	locked    bool
	rd        packetReader      // the PSI packet astits reads
	dmx       *astits.Demuxer   // PAT and PMT
	pmtPIDs   [8192 / 64]uint64 // the PIDs astits takes for PMTs
	psiRep    [2]psiRepeat      // the PAT and PMT packets last parsed
	pes       pesLayer          // video and audio PIDs
	cc        [8192]uint8       // last continuity counter + 1 per PID, 0 = none yet
	queued    uint64            // TS packets synced so far
	ccResetAt uint64            // forget cc after this many packets (ExpectDiscontinuity); 0 = no

	// program
	pmtPID, program     int
	videoPID, audioPID  int
	vcodec              videoCodec
	acodec              audioCodec
	dropped, dropBuf    []uint32 // the PMT's tracks not carried (PID<<8 | stream type), as last logged; scratch
	audioOnly           bool
	pmtSeen             bool
	unsupported         bool
	missingProgramShown bool

	// timeline
	target90  int64
	maxSeg90  int64 // longest a segment may grow waiting for a keyframe
	anchored  bool
	soft      anchor // the timeline before Reanchor, kept if the source continues it
	maxVPT    int64  // latest video presentation time so far, UTC in 90 kHz ticks
	cur, prev anchor
	lastEnd90 int64 // end of the last emitted segment
	vU, aU    unwrapper
	lastU     int64
	haveU     bool
	forceCut  bool // cut at the next video frame (timeline jump)
	cutAtKey  bool // cut at the next keyframe whatever the duration

	// video
	nals     []nalRange
	au       accessUnit
	vp       *videoParams
	vHave    bool
	lastVT   int64
	lastVDur int64

	// audio
	ap        *audioParams
	aHave     bool
	aNext     int64 // next audio sample time, sample-rate ticks
	lastAT    int64 // UTC (90 kHz) of the last audio frame, as its timestamp maps
	aFloor90  int64 // audio may not restart before this (after Reanchor)
	aq        []queuedAudio
	aqHead    int
	aqData    []byte // the queued frames' bytes
	aCarry    []byte
	aCarryLen int
	aJoin     []byte // scratch: a carried frame joined to the next PES

	// output
	open, closing *segBuilder
	free          []*segBuilder
	noPages       bool         // the system refused a mapping: segments are built in Go memory
	hdr           bytes.Buffer // moof and mdat header of the segment being emitted
	gap           int          // room left before a new segment's video samples for its header
	segHint       int          // bytes to allocate for a new segment's samples
	initV         *videoParams
	initA         *audioParams
	init          Init
	haveInit      bool
	lastHash      string
	lastStartMs   int64
	emitted       bool
	seq           uint32
}

// NewSegmenter returns a Segmenter with cfg's defaults filled in.
func NewSegmenter(cfg SegmenterConfig) *Segmenter {
	if cfg.TargetDuration <= 0 {
		cfg.TargetDuration = 3 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnInit == nil {
		cfg.OnInit = func(Init) {}
	}
	if cfg.OnSegment == nil {
		cfg.OnSegment = func(Segment) {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Segmenter{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "media.segmenter"),
		pmtPID:   -1,
		videoPID: -1,
		audioPID: -1,
		target90: cfg.TargetDuration.Microseconds() * 9 / 100,
		maxSeg90: max(cfg.TargetDuration.Microseconds()*9/100*8, 30*90000),
		lastVDur: defaultFrame90,
		gap:      minGap,
	}
	s.pes.emit = s.onPES
	s.dmx = astits.NewDemuxer(context.Background(), &s.rd, astits.DemuxerOptPacketSize(tsPacketSize))
	return s
}

// Write feeds TS bytes in any alignment. Garbage is skipped and counted; it
// returns an error only for misuse, never for bad input. A frame is handed
// on when the next one starts, or by Flush.
// OnInit and OnSegment are called from inside Write, Flush and Reanchor.
func (s *Segmenter) Write(p []byte) (int, error) {
	if s == nil || s.dmx == nil {
		return 0, errors.New("media: write to a segmenter not made by NewSegmenter")
	}
	n := len(p)
	for len(p) > 0 {
		c := min(len(p), writeChunk)
		s.in = append(s.in, p[:c]...)
		p = p[c:]
		s.syncPackets()
	}
	return n, nil
}

// Reanchor flushes the open segment and makes the next keyframe start a new
// timeline anchored to the wall clock, unless its timestamps plainly
// continue the old one (see anchorAt). Inputs call it after a source gap.
func (s *Segmenter) Reanchor() {
	s.Flush()
	if s.anchored {
		s.soft = s.cur
	}
	s.anchored = false
	s.prev = anchor{}
	s.aFloor90 = max(s.aFloor90, s.lastEnd90)
	s.resetTracks()
	s.vHave, s.aHave = false, false
	s.lastVDur = defaultFrame90
}

// Flush finishes the open segment, if it holds a keyframe, and emits it.
func (s *Segmenter) Flush() {
	if s == nil || s.dmx == nil {
		return
	}
	// Let astits finish the PSI it still holds, and hand over the frames
	// still held for want of a next one.
	s.rd.buf, s.rd.off = s.rd.buf[:0], 0
	s.rd.eof = true
	s.demux()
	s.rd.eof = false
	s.pes.flush()
	s.finish()
	// The source has stopped or jumped: what was kept for its next
	// segment goes back too.
	for _, g := range s.free {
		if g.pages != nil {
			g.pages.Release(0, g.populated)
			g.populated = 0
		}
	}
}

// Stats returns the counters so far.
func (s *Segmenter) Stats() Stats { return s.stats }
