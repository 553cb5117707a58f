// This file holds PSI handling: program selection from the PAT and track selection from the PMT.

package media

import (
	"github.com/asticode/go-astits"
)

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
