// This file holds the video path and its cut policy: where a segment ends and the next one starts on a keyframe.

package media

import (
	"github.com/Eyevinn/mp4ff/mp4"
)

func (s *Segmenter) onVideo(pts, dts int64, data []byte) {
	s.nals = splitAnnexB(data, s.nals[:0])
	if len(s.nals) == 0 {
		return
	}
	scanAU(s.vcodec, data, s.nals, &s.au)
	if s.au.size == 0 {
		return
	}
	if s.au.size > maxSegBytes {
		// One access unit larger than a segment may be: nothing can carry
		// it. Drop it, end the segment that it belonged to at the next
		// frame and wait for a random access point.
		s.stats.Unsupported++
		s.forceCut = true
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
		} else if t-g.start90 >= s.maxSeg90 || g.videoBytes()+len(g.adata)+s.au.size > maxSegBytes {
			// No keyframe for far too long: end the segment here and wait
			// for one rather than hold the stream in memory.
			s.log.Warn("no keyframe, segment cut", "held_ms", (t-g.start90)/90, "bytes", g.videoBytes())
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
		g.grow(len(data) + 4*len(s.nals))
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
