// This file holds segment building: collecting samples, closing, and encoding and emitting finished segments.

package media

import (
	"github.com/Eyevinn/mp4ff/mp4"
)

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
