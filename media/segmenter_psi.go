// This file holds PSI handling: program selection from the PAT and track selection from the PMT.

package media

import (
	"fmt"
	"slices"

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
			s.forgetPSI()
		}
		return
	}
	if s.cfg.Program != 0 && !s.missingProgramShown {
		s.missingProgramShown = true
		s.log.Warn("program not in pat", "program", s.cfg.Program)
	}
}

func (s *Segmenter) onPMT(pmt *astits.PMTData) {
	vpid, apid, vc, ac := -1, -1, codecNone, audioAAC
	aacPID := -1
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
			if aacPID < 0 {
				aacPID = int(es.ElementaryPID)
			}
		default:
			if c, ok := otherAudio(es); ok && apid < 0 {
				apid, ac = int(es.ElementaryPID), c
			}
		}
	}
	if aacPID >= 0 {
		// AAC first, as before other codecs were taken: a stream recorded
		// before keeps its track.
		apid, ac = aacPID, audioAAC
	}
	same := s.pmtSeen && vpid == s.videoPID && apid == s.audioPID && vc == s.vcodec && ac == s.acodec
	if vpid >= 0 || apid >= 0 {
		s.noteDropped(pmt, vpid, apid)
	}
	if same {
		return
	}
	if vpid < 0 && apid < 0 {
		s.dropped = s.dropped[:0]
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
	s.videoPID, s.audioPID, s.vcodec, s.acodec = vpid, apid, vc, ac
	s.audioOnly = vpid < 0
	s.pmtSeen = true
	s.vU.have, s.aU.have = false, false
}

// resetTracks drops what is held for the tracks after a track-set change;
// the anchor and the continuity checks stay, so the UTC timeline continues.
func (s *Segmenter) resetTracks() {
	s.aFloor90 = max(s.aFloor90, s.lastEnd90)
	s.aq, s.aqHead = s.aq[:0], 0
	s.aqData = s.aqData[:0]
	s.aCarryLen = 0
	s.forceCut, s.cutAtKey = false, false
}

// otherAudio reports whether es is an audio track the segmenter carries
// besides AAC, and its codec: MPEG-1/2 audio (stream types 0x03, 0x04),
// AC-3 and E-AC-3 as ATSC sends them (0x81, 0x87) or as DVB does (private
// data 0x06 with an AC-3 or enhanced AC-3 descriptor).
func otherAudio(es *astits.PMTElementaryStream) (audioCodec, bool) {
	switch es.StreamType {
	case astits.StreamTypeMPEG1Audio, astits.StreamTypeMPEG2Audio:
		return audioMPEG, true
	case astits.StreamTypeAC3Audio:
		return audioAC3, true
	case astits.StreamTypeEAC3Audio:
		return audioEAC3, true
	case astits.StreamTypePrivateData:
		for _, d := range es.ElementaryStreamDescriptors {
			switch d.Tag {
			case astits.DescriptorTagAC3:
				return audioAC3, true
			case astits.DescriptorTagEnhancedAC3:
				return audioEAC3, true
			}
		}
	}
	return 0, false
}

// noteDropped counts (Stats.Unsupported) and logs the tracks of the PMT
// that are not recorded: every elementary stream but the chosen video and
// audio (a second audio language, subtitles, teletext, SCTE-35, a codec
// not carried). It counts and logs once per change of that list, so a
// stream logs it once, not with every PMT repetition.
func (s *Segmenter) noteDropped(pmt *astits.PMTData, vpid, apid int) {
	cur := s.dropBuf[:0]
	for _, es := range pmt.ElementaryStreams {
		pid := int(es.ElementaryPID)
		if pid == vpid || pid == apid {
			continue
		}
		cur = append(cur, uint32(pid)<<8|uint32(es.StreamType))
	}
	s.dropBuf = cur
	if slices.Equal(cur, s.dropped) {
		return
	}
	s.dropped = slices.Clone(cur)
	if len(cur) == 0 {
		return
	}
	list := make([]string, len(cur))
	for i, d := range cur {
		list[i] = fmt.Sprintf("%d:%s", d>>8, astits.StreamType(d&0xff).String())
	}
	s.stats.Unsupported += uint64(len(list))
	s.log.Warn("tracks not recorded", "program", int(pmt.ProgramNumber), "tracks", list)
}
