package mpegts

import (
	"fmt"

	"github.com/asticode/go-astits"
)

// useInit makes the PMT describe st. A PID keeps its elementary stream
// while its kind (stream type, language) stays, so counters run on across a
// change of parameter sets; a track of a new kind gets a new PID.
func (m *Muxer) useInit(st *stream, hash string) error {
	pids := make([]uint16, len(st.tracks))
	ids := make([]uint8, len(st.tracks))
	taken := map[uint16]bool{}
	var nVideo, nAudio uint8
	for i, t := range st.tracks {
		kind := t.kind()
		pid := uint16(0)
		for _, old := range m.pids { // old order first: a stable layout stays as it was
			if k, ok := m.registered[old]; ok && k == kind && !taken[old] {
				pid = old
				break
			}
		}
		if pid == 0 {
			pid = m.newPID(taken)
		}
		taken[pid] = true
		pids[i] = pid
		switch {
		case t.codec.video():
			ids[i] = 0xe0 + nVideo&0x0f
			nVideo++
		case t.codec == codecAC3 || t.codec == codecEAC3:
			ids[i] = 0xbd // private_stream_1, as ATSC A/52 says
		default:
			ids[i] = 0xc0 + nAudio&0x1f
			nAudio++
		}
	}
	for pid := range m.registered {
		if !taken[pid] {
			if err := m.ts.RemoveElementaryStream(pid); err != nil {
				return fmt.Errorf("pmt: %w", err)
			}
			delete(m.registered, pid)
		}
	}
	for i, pid := range pids {
		if _, ok := m.registered[pid]; ok {
			continue
		}
		kind := st.tracks[i].kind()
		es := astits.PMTElementaryStream{ElementaryPID: pid, StreamType: kind.typ, ElementaryStreamDescriptors: kind.descriptors()}
		if err := m.ts.AddElementaryStream(es); err != nil {
			return fmt.Errorf("pmt: %w", err)
		}
		m.registered[pid] = kind
	}
	pcrTrack := 0
	for i, t := range st.tracks {
		if t.codec.video() {
			pcrTrack = i
			break
		}
	}
	m.ts.SetPCRPID(pids[pcrTrack])
	m.st, m.initHash, m.pids, m.streamIDs, m.pcrTrack = st, hash, pids, ids, pcrTrack
	m.stats.InitChanges++
	m.stats.SkippedTracks += uint64(st.skipped)
	return nil
}

// esKind is what the PMT says of an elementary stream.
type esKind struct {
	typ  astits.StreamType
	lang string // ISO 639-2 code of an audio track, "" when undetermined
}

func (t *track) kind() esKind {
	k := esKind{typ: streamType[t.codec]}
	if !t.codec.video() && len(t.lang) == 3 && t.lang != "und" {
		k.lang = t.lang
	}
	return k
}

// descriptors are the PMT descriptors of an elementary stream: the
// registration of AC-3 and E-AC-3 (ATSC A/52 stream types 0x81 and 0x87)
// and the language of an audio track.
func (k esKind) descriptors() []*astits.Descriptor {
	var ds []*astits.Descriptor
	var format uint32
	switch k.typ {
	case astits.StreamTypeAC3Audio:
		format = 'A'<<24 | 'C'<<16 | '-'<<8 | '3'
	case astits.StreamTypeEAC3Audio:
		format = 'E'<<24 | 'A'<<16 | 'C'<<8 | '3'
	}
	if format != 0 {
		ds = append(ds, &astits.Descriptor{Tag: astits.DescriptorTagRegistration, Length: 4,
			Registration: &astits.DescriptorRegistration{FormatIdentifier: format}})
	}
	if k.lang != "" {
		ds = append(ds, &astits.Descriptor{Tag: astits.DescriptorTagISO639LanguageAndAudioType, Length: 4,
			ISO639LanguageAndAudioType: &astits.DescriptorISO639LanguageAndAudioType{Language: []byte(k.lang)}})
	}
	return ds
}

// newPID returns a PID that no elementary stream has had yet, or after
// 3840 of them one that neither the PMT nor taken holds now.
func (m *Muxer) newPID(taken map[uint16]bool) uint16 {
	for {
		pid := m.nextPID
		m.nextPID++
		if m.nextPID >= pidPMT {
			m.nextPID = firstPID
		}
		if _, ok := m.registered[pid]; !ok && !taken[pid] {
			return pid
		}
	}
}
