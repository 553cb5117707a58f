// This file holds the audio path: audio frames (AAC, MPEG audio, AC-3, E-AC-3) onto the UTC timeline, queued until video passes them, and placed into segments.

package media

import (
	"bytes"

	"github.com/Eyevinn/mp4ff/mp4"
)

// queuedAudio is an audio frame on the UTC timeline, waiting for video to
// pass its time so it lands in the right segment.
type queuedAudio struct {
	t90  int64 // UTC in 90 kHz ticks
	tr   int64 // UTC in sample-rate ticks
	ap   *audioParams
	off  int // its bytes: s.aqData[off:off+size]
	size int
}

func (s *Segmenter) onAudio(pts int64, data []byte) {
	u := s.unwrap(&s.aU, pts, s.audioOnly)
	idx := int64(0)
	if s.aCarryLen > 0 {
		s.aJoin = append(append(s.aJoin[:0], s.aCarry[:s.aCarryLen]...), data...)
		data = s.aJoin
		s.aCarryLen = 0
		idx = -1 // the carried frame started before this PES
	}
	off := 0
	for off < len(data) {
		f, ok := parseAudioFrame(s.acodec, data[off:])
		if !ok {
			j := bytes.IndexByte(data[off+1:], s.acodec.syncByte())
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
		if f.skip {
			s.stats.Unsupported++
			off += f.frameLen
			continue
		}
		ap := s.ap
		if ap == nil || *ap != f.p {
			ap = &audioParams{}
			*ap = f.p
			if s.ap != nil && s.aHave && s.ap.rate != ap.rate {
				s.aNext = s.aNext * int64(ap.rate) / int64(s.ap.rate)
			}
			s.ap = ap
		}
		fu := u + idx*int64(ap.samples)*90000/int64(ap.rate)
		s.onAudioFrame(fu, ap, data[off+f.headerLen:off+f.frameLen])
		idx++
		off += f.frameLen
	}
}

func (s *Segmenter) onAudioFrame(u int64, ap *audioParams, payload []byte) {
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
	slack := 2 * int64(ap.samples)
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
	s.aNext += int64(ap.samples)
	q := queuedAudio{t90: to90(fr, ap.rate), tr: fr, ap: ap}
	if s.audioOnly {
		s.placeAudioOnly(q, payload)
		return
	}
	// payload aliases the PES buffer, which the next PES overwrites: the
	// queue keeps a copy.
	q.off, q.size = len(s.aqData), len(payload)
	s.aqData = append(s.aqData, payload...)
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
		s.placeAudio(*q, s.aqData[q.off:q.off+q.size])
		*q = queuedAudio{}
		s.aqHead++
	}
	if s.aqHead == len(s.aq) {
		s.aq, s.aqHead = s.aq[:0], 0
		s.aqData = s.aqData[:0]
	} else if s.aqHead > 256 {
		n := copy(s.aq, s.aq[s.aqHead:])
		s.aq, s.aqHead = s.aq[:n], 0
		base := s.aq[0].off
		for i := range s.aq {
			s.aq[i].off -= base
		}
		s.aqData = s.aqData[:copy(s.aqData, s.aqData[base:])]
	}
}

// placeAudio puts an audio frame into the segment whose span holds it.
func (s *Segmenter) placeAudio(q queuedAudio, data []byte) {
	if c := s.closing; c != nil {
		if q.t90 < c.end90 {
			if q.t90 >= c.start90 {
				s.addAudio(c, q, data)
			}
			return
		}
		s.closing = nil
		s.emit(c) // audio has passed the end of the cut segment
	}
	if g := s.open; g != nil && q.t90 >= g.start90 {
		s.addAudio(g, q, data)
	}
}

func (s *Segmenter) placeAudioOnly(q queuedAudio, data []byte) {
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
	s.addAudio(g, q, data)
}

// addAudio copies the frame's data into g.
func (s *Segmenter) addAudio(g *segBuilder, q queuedAudio, data []byte) {
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
	g.as = append(g.as, mp4.Sample{Flags: mp4.SyncSampleFlags, Dur: uint32(q.ap.samples), Size: uint32(len(data))})
	g.adata = append(g.adata, data...)
	g.aNext = q.tr + int64(q.ap.samples)
	g.aEnd90 = to90(g.aNext, q.ap.rate)
	s.stats.Frames++
}
