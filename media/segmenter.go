package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
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
	// demuxBatch is how many TS packets are buffered before demuxing: about
	// 12 ms at 4 Mbit/s.
	demuxBatch = 32
	// maxSegBytes bounds the video bytes one segment may hold while it waits
	// for a keyframe.
	maxSegBytes = 64 << 20
	// writeChunk bounds the bytes taken from one Write at a time.
	writeChunk = 64 << 10
	// defaultFrame90 is the video frame duration assumed before one is known.
	defaultFrame90 = 3600
)

// errNeedMore is what the demuxer's reader answers when the buffered packets
// are used up; it stops astits without making it flush its partial PES.
var errNeedMore = errors.New("media: need more ts packets")

// packetReader hands whole, aligned TS packets to the astits demuxer.
type packetReader struct {
	buf []byte
	off int
	eof bool // answer io.EOF instead of errNeedMore: astits then flushes partial PES
}

func (r *packetReader) Read(p []byte) (int, error) {
	if r.off >= len(r.buf) {
		if r.eof {
			return 0, io.EOF
		}
		return 0, errNeedMore
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

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

// queuedAudio is an AAC frame on the UTC timeline, waiting for video to
// pass its time so it lands in the right segment.
type queuedAudio struct {
	t90  int64 // UTC in 90 kHz ticks
	tr   int64 // UTC in sample-rate ticks
	ap   *audioParams
	data []byte
}

// segBuilder collects the samples of one segment.
type segBuilder struct {
	start90, end90 int64
	vp             *videoParams
	ap             *audioParams
	vs             []mp4.Sample
	vdata          []byte
	lastVT         int64 // UTC (90 kHz) of the last video sample
	as             []mp4.Sample
	adata          []byte
	aFirst         int64 // tfdt of the audio track, in sample-rate ticks
	aNext          int64 // where the next audio sample should start, sample-rate ticks
	aEnd90         int64
}

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
	rd        packetReader
	dmx       *astits.Demuxer
	cc        [8192]uint8 // last continuity counter + 1 per PID, 0 = none yet
	queued    uint64      // TS packets handed to the demuxer so far
	ccResetAt uint64      // forget cc after this many packets (ExpectDiscontinuity); 0 = no

	// program
	pmtPID, program     int
	videoPID, audioPID  int
	vcodec              videoCodec
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
	aCarry    []byte
	aCarryLen int

	// output
	open, closing *segBuilder
	free          []*segBuilder
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
	s := &Segmenter{
		cfg:      cfg,
		log:      slog.Default().With("component", "media.segmenter"),
		pmtPID:   -1,
		videoPID: -1,
		audioPID: -1,
		target90: cfg.TargetDuration.Microseconds() * 9 / 100,
		maxSeg90: max(cfg.TargetDuration.Microseconds()*9/100*8, 30*90000),
		lastVDur: defaultFrame90,
	}
	s.dmx = astits.NewDemuxer(context.Background(), &s.rd,
		astits.DemuxerOptPacketSize(tsPacketSize),
		astits.DemuxerOptPacketSkipper(s.skipPacket))
	return s
}

// Write feeds TS bytes in any alignment. Garbage is skipped and counted; it
// returns an error only for misuse, never for bad input. Packets are demuxed
// in batches of a few dozen (about 12 ms at 4 Mbit/s); Flush takes the rest.
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
		// astits answers an empty reader with three wrapped errors, so hand
		// it packets in batches rather than datagram by datagram.
		if len(s.rd.buf)-s.rd.off >= demuxBatch*tsPacketSize {
			s.demux()
			s.rd.buf, s.rd.off = s.rd.buf[:0], 0
		}
	}
	return n, nil
}

// syncPackets moves whole TS packets from s.in to the demuxer's buffer,
// skipping (and counting) bytes that are not on a packet boundary. Out of
// lock, a sync byte must be followed by two more at packet distance; in
// lock, by one when the data reaches that far.
func (s *Segmenter) syncPackets() {
	in := s.in
	i := 0
	for len(in)-i >= tsPacketSize {
		if in[i] != tsSync {
			s.locked = false
			j := bytes.IndexByte(in[i+1:], tsSync)
			if j < 0 {
				s.stats.GarbageBytes += uint64(len(in) - i)
				i = len(in)
				break
			}
			s.stats.GarbageBytes += uint64(j + 1)
			i += j + 1
			continue
		}
		next := i + tsPacketSize
		if s.locked {
			if next < len(in) && in[next] != tsSync {
				s.locked = false
				s.stats.GarbageBytes++
				i++
				continue
			}
		} else {
			if next+tsPacketSize >= len(in) {
				break // wait for more data to confirm sync
			}
			if in[next] != tsSync || in[next+tsPacketSize] != tsSync {
				s.stats.GarbageBytes++
				i++
				continue
			}
			s.locked = true
		}
		s.rd.buf = append(s.rd.buf, in[i:next]...)
		s.queued++
		i = next
	}
	s.in = in[:copy(in, in[i:])]
}

// ExpectDiscontinuity tells the segmenter that the bytes written next do
// not continue the ones before in the TS sense (a looped file starting
// over): continuity counters are not checked across that point, so it is
// not counted as an error. Timestamps are handled as always.
func (s *Segmenter) ExpectDiscontinuity() {
	s.ccResetAt = s.queued + uint64(len(s.in)/tsPacketSize)
}

// demux pulls everything astits can give from the buffered packets.
func (s *Segmenter) demux() {
	for {
		d, err := s.dmx.NextData()
		if err != nil {
			if errors.Is(err, errNeedMore) || errors.Is(err, astits.ErrNoMorePackets) {
				return
			}
			continue // a damaged PSI or PES: astits dropped it, go on
		}
		if d != nil {
			s.handle(d)
		}
	}
}

// skipPacket sees every TS packet once its header is parsed: it counts,
// checks continuity, and keeps only the PIDs the segmenter uses.
func (s *Segmenter) skipPacket(p *astits.Packet) bool {
	s.stats.Packets++
	if s.ccResetAt != 0 && s.stats.Packets > s.ccResetAt {
		s.cc = [8192]uint8{}
		s.ccResetAt = 0
	}
	h := &p.Header
	if h.TransportErrorIndicator || h.PID == astits.PIDNull {
		return true
	}
	pid := h.PID
	if p.AdaptationField != nil && p.AdaptationField.DiscontinuityIndicator {
		s.stats.CCErrors++
		s.cc[pid] = 0
	} else if h.HasPayload && s.cc[pid] != 0 {
		last := s.cc[pid] - 1
		if h.ContinuityCounter != (last+1)&15 && h.ContinuityCounter != last {
			s.stats.CCErrors++
		}
	}
	if h.HasPayload {
		s.cc[pid] = h.ContinuityCounter + 1
	}
	id := int(pid)
	return !(pid == astits.PIDPAT || id == s.pmtPID || id == s.videoPID || id == s.audioPID)
}

func (s *Segmenter) handle(d *astits.DemuxerData) {
	switch {
	case d.PAT != nil:
		s.onPAT(d.PAT)
	case d.PMT != nil:
		if int(d.PID) == s.pmtPID && int(d.PMT.ProgramNumber) == s.program {
			s.onPMT(d.PMT)
		}
	case d.PES != nil:
		// A PES whose first packet does not start a payload unit is the
		// tail of a frame damaged by packet loss: drop it.
		if d.FirstPacket == nil || !d.FirstPacket.Header.PayloadUnitStartIndicator {
			return
		}
		oh := d.PES.Header.OptionalHeader
		if oh == nil || oh.PTS == nil || len(d.PES.Data) == 0 {
			return
		}
		pts := oh.PTS.Base
		dts := pts
		if oh.DTS != nil {
			dts = oh.DTS.Base
		}
		switch int(d.PID) {
		case s.videoPID:
			s.onVideo(pts, dts, d.PES.Data)
		case s.audioPID:
			s.onAudio(pts, d.PES.Data)
		}
	}
}

func (s *Segmenter) onPAT(pat *astits.PATData) {
	for _, p := range pat.Programs {
		if p.ProgramNumber == 0 {
			continue
		}
		if s.cfg.Program != 0 && int(p.ProgramNumber) != s.cfg.Program {
			continue
		}
		if int(p.ProgramMapID) != s.pmtPID || int(p.ProgramNumber) != s.program {
			s.pmtPID, s.program = int(p.ProgramMapID), int(p.ProgramNumber)
		}
		return
	}
	if s.cfg.Program != 0 && !s.missingProgramShown {
		s.missingProgramShown = true
		s.log.Warn("program not in pat", "program", s.cfg.Program)
	}
}

func (s *Segmenter) onPMT(pmt *astits.PMTData) {
	vpid, apid, vc := -1, -1, codecNone
	for _, es := range pmt.ElementaryStreams {
		switch es.StreamType {
		case astits.StreamTypeH264Video, astits.StreamTypeH265Video:
			if vpid < 0 {
				vpid = int(es.ElementaryPID)
				vc = codecH264
				if es.StreamType == astits.StreamTypeH265Video {
					vc = codecH265
				}
			}
		case astits.StreamTypeAACAudio:
			if apid < 0 {
				apid = int(es.ElementaryPID)
			}
		}
	}
	if s.pmtSeen && vpid == s.videoPID && apid == s.audioPID && vc == s.vcodec {
		return
	}
	if vpid < 0 && apid < 0 {
		if !s.unsupported {
			s.unsupported = true
			s.stats.Unsupported++
			types := make([]string, 0, len(pmt.ElementaryStreams))
			for _, es := range pmt.ElementaryStreams {
				types = append(types, es.StreamType.String())
			}
			s.log.Warn("pmt lists no supported codec", "program", s.program, "streams", types)
		}
		if s.pmtSeen {
			s.finish()
			s.resetTracks()
		}
		s.videoPID, s.audioPID, s.vcodec, s.pmtSeen = -1, -1, codecNone, false
		return
	}
	s.unsupported = false
	if s.pmtSeen {
		// The track set changed: finish what we have, keep the timeline.
		s.finish()
		s.resetTracks()
	}
	if vc != s.vcodec {
		s.vp = nil
	}
	s.videoPID, s.audioPID, s.vcodec = vpid, apid, vc
	s.audioOnly = vpid < 0
	s.pmtSeen = true
	s.vU.have, s.aU.have = false, false
}

// resetTracks drops what is held for the tracks after a track-set change;
// the anchor and the continuity checks stay, so the UTC timeline continues.
func (s *Segmenter) resetTracks() {
	s.aFloor90 = max(s.aFloor90, s.lastEnd90)
	s.aq, s.aqHead = s.aq[:0], 0
	s.aCarryLen = 0
	s.forceCut, s.cutAtKey = false, false
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

func (s *Segmenter) onVideo(pts, dts int64, data []byte) {
	s.nals = splitAnnexB(data, s.nals[:0])
	if len(s.nals) == 0 {
		return
	}
	scanAU(s.vcodec, data, s.nals, &s.au)
	if s.au.size == 0 {
		return
	}
	u := s.unwrap(&s.vU, dts, true)
	cto := signed33(pts - dts)
	if cto < 0 || cto > 10*90000 {
		cto = 0
	}
	key := s.au.key
	if key && len(s.au.sps) > 0 && len(s.au.pps) > 0 && (s.vcodec == codecH264 || len(s.au.vps) > 0) &&
		!s.vp.sameAs(s.vcodec, s.au.vps, s.au.sps, s.au.pps) {
		s.vp = &videoParams{codec: s.vcodec, vps: cloneNALs(s.au.vps), sps: cloneNALs(s.au.sps), pps: cloneNALs(s.au.pps)}
	}
	if key && s.vp == nil {
		key = false // a keyframe we cannot describe in an init
	}
	if !s.anchored {
		if !key {
			return
		}
		s.anchorAt(u)
	}

	// Map to UTC and check continuity.
	t := s.cur.at(u)
	if s.vHave {
		exp := s.lastVT + s.lastVDur
		ok := func(t int64) bool { return t > s.lastVT && t <= exp+jump90 }
		if !ok(t) {
			switch {
			case s.prev.valid && ok(s.prev.at(u)):
				t = s.prev.at(u)
			case t > s.lastVT && s.aHave && abs(t-s.lastAT) <= jump90:
				// A gap in the video alone: the audio agrees with the anchor.
			default:
				// Continue after the last frame in decode order and also
				// after the last one shown: with B-frames the old GOP's
				// latest presentation time runs past its last decode time.
				exp = max(exp, s.maxVPT+s.lastVDur-cto)
				s.rejump(u, exp, "video")
				t = exp
			}
		}
		if d := t - s.lastVT; d > 0 && d < 90000 {
			s.lastVDur = d
		}
	}
	s.lastVT, s.vHave = t, true
	s.maxVPT = max(s.maxVPT, t+cto)

	g := s.open
	if g != nil {
		cut := false
		if key && (s.forceCut || s.cutAtKey || g.vp != s.vp || t-g.start90 >= s.target90) {
			cut = t/90 > g.start90/90
		} else if s.forceCut {
			cut = true
		} else if t-g.start90 >= s.maxSeg90 || len(g.vdata) >= maxSegBytes {
			// No keyframe for far too long: end the segment here and wait
			// for one rather than hold the stream in memory.
			s.log.Warn("no keyframe, segment cut", "held_ms", (t-g.start90)/90, "bytes", len(g.vdata))
			cut = true
		}
		if cut {
			s.closeOpen(t)
			g = nil
		}
	}
	s.forceCut = false
	if g == nil && key {
		g = s.newSeg(t)
		g.vp = s.vp
		s.open = g
		s.cutAtKey = false
	}
	if g != nil {
		if n := len(g.vs); n > 0 {
			g.vs[n-1].Dur = uint32(t - g.lastVT)
		}
		flags := mp4.NonSyncSampleFlags
		if key {
			flags = mp4.SyncSampleFlags
		}
		g.vs = append(g.vs, mp4.Sample{Flags: flags, Dur: uint32(s.lastVDur), Size: uint32(s.au.size), CompositionTimeOffset: int32(cto)})
		g.vdata = appendAVCC(g.vdata, s.vcodec, data, s.nals)
		g.lastVT = t
		s.stats.Frames++
	}
	if c := s.closing; c != nil && t-c.end90 > audioWait90 {
		s.closing = nil
		s.emit(c)
	}
	s.drainAudio(false)
}

func (s *Segmenter) onAudio(pts int64, data []byte) {
	u := s.unwrap(&s.aU, pts, s.audioOnly)
	idx := int64(0)
	if s.aCarryLen > 0 {
		data = append(s.aCarry[:s.aCarryLen:s.aCarryLen], data...)
		s.aCarryLen = 0
		idx = -1 // the carried frame started before this PES
	}
	off := 0
	for off < len(data) {
		f, ok := parseADTS(data[off:])
		if !ok {
			j := bytes.IndexByte(data[off+1:], 0xff)
			if j < 0 {
				break
			}
			off += j + 1
			continue
		}
		if off+f.frameLen > len(data) {
			if len(data)-off <= 8192 {
				s.aCarry = append(s.aCarry[:0], data[off:]...)
				s.aCarryLen = len(s.aCarry)
			}
			break
		}
		if f.blocks != 1 || f.channels == 0 {
			s.stats.Unsupported++
			off += f.frameLen
			continue
		}
		ap := s.ap
		if !ap.matches(f) {
			ap = &audioParams{objectType: f.objectType, rateIndex: f.rateIndex, channels: f.channels, rate: adtsRates[f.rateIndex]}
			if s.ap != nil && s.aHave && s.ap.rate != ap.rate {
				s.aNext = s.aNext * int64(ap.rate) / int64(s.ap.rate)
			}
			s.ap = ap
		}
		fu := u + idx*aacSamplesPerFrame*90000/int64(ap.rate)
		s.onAACFrame(fu, ap, data[off+f.headerLen:off+f.frameLen])
		idx++
		off += f.frameLen
	}
}

// to rate converts UTC 90 kHz ticks to sample-rate ticks without overflow.
func toRate(t90 int64, rate int) int64 {
	return (t90/90000)*int64(rate) + (t90%90000)*int64(rate)/90000
}

func to90(tr int64, rate int) int64 {
	r := int64(rate)
	return (tr/r)*90000 + (tr%r)*90000/r
}

func (s *Segmenter) onAACFrame(u int64, ap *audioParams, payload []byte) {
	if !s.anchored {
		if !s.audioOnly {
			return // audio waits for the first keyframe
		}
		s.anchorAt(u)
	}
	t := s.cur.at(u)
	if s.aHave {
		exp := to90(s.aNext, ap.rate)
		ok := func(t int64) bool { return t >= exp-audioBack90 && t <= exp+jump90 }
		if !ok(t) {
			switch {
			case s.prev.valid && ok(s.prev.at(u)):
				t = s.prev.at(u)
			case t > exp && s.vHave && abs(t-s.lastVT) <= jump90:
				// A gap in the audio alone: the video agrees with the anchor.
			default:
				s.rejump(u, exp, "audio")
				t = exp
			}
		}
	}
	s.lastAT = t
	tr := toRate(t, ap.rate)
	const slack = 2 * aacSamplesPerFrame
	switch {
	case !s.aHave:
		s.aNext = max(tr, toRate(s.aFloor90, ap.rate))
		s.aHave = true
	case tr > s.aNext+slack:
		s.aNext = tr // a gap in the audio
	case tr < s.aNext-slack:
		return // overlaps audio already taken
	}
	fr := s.aNext
	s.aNext += aacSamplesPerFrame
	q := queuedAudio{t90: to90(fr, ap.rate), tr: fr, ap: ap, data: payload}
	if s.audioOnly {
		s.placeAudioOnly(q)
		return
	}
	s.aq = append(s.aq, q)
	s.drainAudio(false)
}

// drainAudio places queued audio frames once video has passed their time
// (all of them when force is set, or when the queue is too long).
func (s *Segmenter) drainAudio(force bool) {
	for s.aqHead < len(s.aq) {
		q := &s.aq[s.aqHead]
		if !force && len(s.aq)-s.aqHead <= maxAudioQueue && (!s.vHave || q.t90 > s.lastVT) {
			break
		}
		s.placeAudio(*q)
		*q = queuedAudio{}
		s.aqHead++
	}
	if s.aqHead == len(s.aq) {
		s.aq, s.aqHead = s.aq[:0], 0
	} else if s.aqHead > 256 {
		n := copy(s.aq, s.aq[s.aqHead:])
		s.aq, s.aqHead = s.aq[:n], 0
	}
}

// placeAudio puts an audio frame into the segment whose span holds it.
func (s *Segmenter) placeAudio(q queuedAudio) {
	if c := s.closing; c != nil {
		if q.t90 < c.end90 {
			if q.t90 >= c.start90 {
				s.addAudio(c, q)
			}
			return
		}
		s.closing = nil
		s.emit(c) // audio has passed the end of the cut segment
	}
	if g := s.open; g != nil && q.t90 >= g.start90 {
		s.addAudio(g, q)
	}
}

func (s *Segmenter) placeAudioOnly(q queuedAudio) {
	g := s.open
	if g != nil && (s.forceCut || s.cutAtKey || q.t90-g.start90 >= s.target90) && q.t90/90 > g.start90/90 {
		s.closeOpen(q.t90)
		g = nil
	}
	s.forceCut = false
	if g == nil {
		g = s.newSeg(q.t90)
		g.ap = q.ap
		s.open = g
		s.cutAtKey = false
	}
	s.addAudio(g, q)
}

func (s *Segmenter) addAudio(g *segBuilder, q queuedAudio) {
	if g.ap != q.ap {
		if len(g.as) > 0 {
			s.cutAtKey = true // a new audio config starts with the next segment
			return
		}
		g.ap = q.ap
	}
	if n := len(g.as); n == 0 {
		g.aFirst = q.tr
	} else if q.tr > g.aNext {
		g.as[n-1].Dur += uint32(q.tr - g.aNext) // stretch over a gap
	} else if q.tr < g.aNext {
		return
	}
	g.as = append(g.as, mp4.Sample{Flags: mp4.SyncSampleFlags, Dur: aacSamplesPerFrame, Size: uint32(len(q.data))})
	g.adata = append(g.adata, q.data...)
	g.aNext = q.tr + aacSamplesPerFrame
	g.aEnd90 = to90(g.aNext, q.ap.rate)
	s.stats.Frames++
}

func (s *Segmenter) newSeg(start90 int64) *segBuilder {
	var g *segBuilder
	if n := len(s.free); n > 0 {
		g = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		g = &segBuilder{}
	}
	g.start90, g.end90 = start90, start90
	g.ap = s.ap
	return g
}

func (s *Segmenter) recycle(g *segBuilder) {
	*g = segBuilder{vs: g.vs[:0], vdata: g.vdata[:0], as: g.as[:0], adata: g.adata[:0]}
	s.free = append(s.free, g)
}

// closeOpen ends the open segment at end90. With an audio track it waits
// (as closing) for the audio that belongs to it; otherwise it is emitted.
func (s *Segmenter) closeOpen(end90 int64) {
	g := s.open
	s.open = nil
	if g == nil {
		return
	}
	g.end90 = end90
	if n := len(g.vs); n > 0 {
		g.vs[n-1].Dur = uint32(max(end90-g.lastVT, 1))
	}
	if c := s.closing; c != nil {
		s.closing = nil
		s.emit(c)
	}
	if !s.audioOnly && s.audioPID >= 0 {
		s.closing = g
		return
	}
	s.emit(g)
}

// finish emits everything held: queued audio, the cut segment and the open
// one (ending at its last sample's end).
func (s *Segmenter) finish() {
	s.drainAudio(true)
	if c := s.closing; c != nil {
		s.closing = nil
		s.emit(c)
	}
	g := s.open
	if g == nil {
		return
	}
	var end90 int64
	if n := len(g.vs); n > 0 {
		end90 = g.lastVT + max(s.lastVDur, 1)
	} else {
		end90 = g.aEnd90
	}
	s.closeOpen(end90)
	if c := s.closing; c != nil {
		s.closing = nil
		s.emit(c)
	}
}

// emit encodes a finished segment and hands it (after its init, when that
// is new) to the callbacks.
func (s *Segmenter) emit(g *segBuilder) {
	defer s.recycle(g)
	if len(g.vs) == 0 && (len(g.as) == 0 || !s.audioOnly) {
		return
	}
	vp, ap := g.vp, g.ap
	if len(g.vs) == 0 {
		vp = nil
	}
	if ap == nil && len(g.as) == 0 && vp != nil {
		ap = s.ap // audio seen after this segment opened: keep one init
	}
	if !s.haveInit || vp != s.initV || ap != s.initA {
		in, err := buildInit(vp, ap)
		if err != nil {
			s.log.Warn("segment dropped", "err", err)
			return
		}
		s.init, s.initV, s.initA, s.haveInit = in, vp, ap, true
	}
	startMs := floorDiv(g.start90, 90)
	endMs := floorDiv(g.end90, 90)
	if s.emitted && startMs <= s.lastStartMs {
		s.log.Warn("segment dropped: start does not increase", "start_ms", startMs, "last_start_ms", s.lastStartMs)
		return
	}
	var vTrack, aTrack uint32
	if vp != nil {
		vTrack = 1
	}
	if ap != nil {
		aTrack = vTrack + 1
	}
	data, err := encodeFragment(s.seq+1, vTrack, uint64(max(g.start90, 0)), g.vs, g.vdata, aTrack, uint64(max(g.aFirst, 0)), g.as, g.adata)
	if err != nil {
		s.log.Warn("segment dropped", "err", err)
		return
	}
	if s.init.Hash != s.lastHash {
		s.lastHash = s.init.Hash
		s.cfg.OnInit(s.init)
	}
	s.seq++
	s.stats.Segments++
	s.emitted, s.lastStartMs = true, startMs
	s.lastEnd90 = max(s.lastEnd90, g.end90, g.aEnd90)
	s.cfg.OnSegment(Segment{Start: startMs, Duration: max(endMs-startMs, 0), InitHash: s.init.Hash, Data: data})
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
	// Let astits hand over the PES it still holds for want of a next one.
	s.rd.eof = true
	s.demux()
	s.rd.eof = false
	s.rd.buf, s.rd.off = s.rd.buf[:0], 0
	s.finish()
}

// Stats returns the counters so far.
func (s *Segmenter) Stats() Stats { return s.stats }
