package mpegts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/asticode/go-astits"
	"github.com/edgedvr/edge/media"
)

const (
	// PCRDelay is how far the PCR runs behind the DTS of the PES it rides
	// on: the decoder's buffering time.
	PCRDelay = 500 * time.Millisecond

	pcrDelay90 = int64(PCRDelay * 90000 / time.Second)
	mask33     = 1<<33 - 1
	// pcrJump90 is how far the PCR may move forward between two PES before
	// the second one carries the discontinuity indicator.
	pcrJump90 = 2 * 90000
	// maxAudioPES90 bounds the span of the audio frames grouped in one PES.
	maxAudioPES90 = 9000
	// firstPID is the PID of the first elementary stream; later ones count up.
	firstPID = 0x100
	// pidPMT is where astits puts the PMT; elementary PIDs stay below.
	pidPMT = 0x1000
)

// Stats counts what a Muxer did. All fields only grow.
type Stats struct {
	Segments       uint64 // segments written
	InitChanges    uint64 // init segments taken (the first one included)
	SkippedTracks  uint64 // tracks of those inits that MPEG-TS does not carry here
	SkippedSamples uint64 // samples of skipped tracks, and empty samples
	Bytes          uint64 // TS bytes written
}

// Muxer writes one continuous MPEG-TS for a sequence of segments of one
// stream: PAT/PMT first and again at each init change and at least once per
// segment, continuity counters continuous across segments, PCR on the video
// PID, timestamps = tfdt converted to 90 kHz modulo 2^33 (so a TS made from
// consecutive segments is continuous; a gap in UTC is a gap in PTS).
//
// A segment that does not parse is an error and writes nothing: the Muxer
// stays usable for the next one. It is not safe for concurrent use.
type Muxer struct {
	w   io.Writer // nil: the TS stays in out (Remux)
	out bytes.Buffer
	ts  *astits.Muxer

	initHash   string
	st         *stream
	pids       []uint16          // PID of each track of st
	streamIDs  []uint8           // PES stream_id of each track of st
	registered map[uint16]esKind // what the PMT holds
	nextPID    uint16
	pcrTrack   int
	lastPCR    int64
	havePCR    bool
	stats      Stats

	// scratch, reused from segment to segment
	samples [][]sample
	units   []unit
	payload []byte
	af      astits.PacketAdaptationField
	pcr     astits.ClockReference
	pts     astits.ClockReference
	dts     astits.ClockReference
	oh      astits.PESOptionalHeader
	ph      astits.PESHeader
	pes     astits.PESData
	md      astits.MuxerData
}

// unit is one PES to write: a video access unit or a few audio frames.
type unit struct {
	track    int
	first, n int   // samples[track][first:first+n]
	order    int64 // write order: the DTS, or the first keyframe's for what precedes it
}

// NewMuxer returns a Muxer that writes to w. Each WriteSegment makes one
// Write call on w with the whole TS of that segment.
func NewMuxer(w io.Writer) *Muxer {
	m := &Muxer{w: w, registered: map[uint16]esKind{}, nextPID: firstPID}
	m.ts = astits.NewMuxer(context.Background(), &m.out)
	m.oh = astits.PESOptionalHeader{MarkerBits: 2, DataAlignmentIndicator: true}
	m.ph.OptionalHeader = &m.oh
	m.pes.Header = &m.ph
	m.md.PES = &m.pes
	return m
}

// Remux returns one standalone TS segment: PAT, PMT, then the first video
// keyframe with its parameter sets in-band, for HLS playlists with MPEG-TS
// segments.
//
// Continuity counters of every PID start at 0 in each standalone segment:
// what the previous segment ended with is not known without remuxing it.
// Players reading HLS take each segment as a new transport stream or
// tolerate the jump (ffmpeg, hls.js, set-top boxes); a viewer that wants
// continuous counters reads the live MPEG-TS of a Muxer instead.
func Remux(init media.Init, seg []byte) ([]byte, error) {
	m := NewMuxer(nil)
	if err := m.WriteSegment(init, seg); err != nil {
		return nil, err
	}
	return m.out.Bytes(), nil
}

// Stats returns the counters so far.
func (m *Muxer) Stats() Stats { return m.stats }

// WriteSegment remuxes one fMP4 media segment that decodes with init.
func (m *Muxer) WriteSegment(init media.Init, seg []byte) error {
	if m == nil || m.ts == nil {
		return errors.New("mpegts: write to a muxer not made by NewMuxer")
	}
	hash := init.Hash
	if hash == "" {
		hash = media.InitHash(init.Data)
	}
	st, newInit := m.st, hash != m.initHash || m.st == nil
	if newInit {
		var err error
		if st, err = parseInit(init.Data); err != nil {
			return fmt.Errorf("mpegts: %w", err)
		}
	}
	m.samples = slices.Grow(m.samples[:0], len(st.tracks))[:len(st.tracks)]
	for i := range m.samples {
		m.samples[i] = m.samples[i][:0]
	}
	skipped, err := parseSegment(st, seg, m.samples)
	if err != nil {
		return fmt.Errorf("mpegts: %w", err)
	}
	if err := m.check(st); err != nil {
		return fmt.Errorf("mpegts: %w", err)
	}
	m.stats.SkippedSamples += uint64(skipped)
	if newInit {
		if err := m.useInit(st, hash); err != nil {
			m.out.Reset()
			return fmt.Errorf("mpegts: %w", err)
		}
	}
	if err := m.writeUnits(st); err != nil {
		m.out.Reset()
		return fmt.Errorf("mpegts: %w", err)
	}
	n := m.out.Len()
	if m.w != nil {
		_, err = m.w.Write(m.out.Bytes())
		m.out.Reset()
		if err != nil {
			return fmt.Errorf("mpegts: write: %w", err)
		}
	}
	m.stats.Segments++
	m.stats.Bytes += uint64(n)
	return nil
}

// useInit makes the PMT describe st. A PID keeps its elementary stream
// while the stream type stays, so counters run on across a change of
// parameter sets; a track of a new type gets a PID never used before.
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

// writeUnits interleaves the samples of m.samples into PES by DTS and
// writes them.
func (m *Muxer) writeUnits(st *stream) error {
	m.units = m.units[:0]
	add := func(ti int) {
		ss := m.samples[ti]
		if st.tracks[ti].codec.video() {
			for j := range ss {
				m.units = append(m.units, unit{track: ti, first: j, n: 1, order: ss[j].dts})
			}
			return
		}
		for j := 0; j < len(ss); {
			n := 1
			for j+n < len(ss) {
				prev, next := &ss[j+n-1], &ss[j+n]
				gap := next.dts - prev.dts - prev.dur
				if gap < -90 || gap > 90 || next.dts+next.dur-ss[j].dts > maxAudioPES90 {
					break
				}
				n++
			}
			m.units = append(m.units, unit{track: ti, first: j, n: n, order: ss[j].dts})
			j += n
		}
	}
	add(m.pcrTrack)
	for ti := range st.tracks {
		if ti != m.pcrTrack {
			add(ti)
		}
	}
	if len(m.units) == 0 {
		return errors.New("segment without samples of a carried track")
	}
	// The first PES on the PCR PID goes first: after PAT and PMT a player
	// finds the keyframe (and the PCR) before anything else.
	if ss := m.samples[m.pcrTrack]; len(ss) > 0 {
		for i := range m.units {
			m.units[i].order = max(m.units[i].order, ss[0].dts)
		}
	}
	slices.SortStableFunc(m.units, func(a, b unit) int {
		switch {
		case a.order < b.order:
			return -1
		case a.order > b.order:
			return 1
		}
		return 0
	})
	m.out.Grow(m.estimate(st))
	first := m.units[0]
	if !(first.track == m.pcrTrack && m.randomAccess(first, true)) {
		// astits writes them by itself in front of a random access PES on the PCR PID.
		if _, err := m.ts.WriteTables(); err != nil {
			return fmt.Errorf("tables: %w", err)
		}
	}
	for i, u := range m.units {
		if err := m.writeUnit(st, u, i == 0); err != nil {
			return err
		}
	}
	return nil
}

// check validates the samples the way writeUnits will use them, so that
// writing cannot fail half-way and leave a hole in the continuity counters.
func (m *Muxer) check(st *stream) error {
	for ti := range st.tracks {
		t := &st.tracks[ti]
		for j := range m.samples[ti] {
			s := &m.samples[ti][j]
			switch t.codec {
			case codecH264, codecH265:
				in, err := scanAVCC(t.codec, t.nalLen, s.data)
				if err != nil {
					return fmt.Errorf("track %d sample %d: %w", t.id, j, err)
				}
				s.nals = in
			case codecAAC:
				if adtsHeaderLength+len(s.data) > maxADTSFrame {
					return fmt.Errorf("track %d sample %d: aac frame of %d bytes does not fit in adts", t.id, j, len(s.data))
				}
			}
		}
	}
	return nil
}

// estimate returns about how many TS bytes m.units make, a little more
// rather than less: payload, headers, and a stuffed last packet per PES.
func (m *Muxer) estimate(st *stream) int {
	n := 0
	for ti, ss := range m.samples {
		for j := range ss {
			n += len(ss[j].data) + adtsHeaderLength
			if ss[j].key {
				n += len(st.tracks[ti].paramSets)
			}
		}
	}
	n += len(m.units) * 32 // PES header, access unit delimiter
	return n/184*188 + (len(m.units)+4)*188
}

// randomAccess reports whether u starts a place a decoder can start at: a
// video keyframe, or the first audio PES of a segment without video.
func (m *Muxer) randomAccess(u unit, first bool) bool {
	if m.st.tracks[u.track].codec.video() {
		return m.samples[u.track][u.first].key
	}
	return first
}

func (m *Muxer) writeUnit(st *stream, u unit, first bool) error {
	t := &st.tracks[u.track]
	ss := m.samples[u.track][u.first : u.first+u.n]
	buf := m.payload[:0]
	var err error
	switch t.codec {
	case codecH264, codecH265:
		buf = appendAnnexB(buf, t, &ss[0])
	case codecAAC:
		for i := range ss {
			if buf, err = appendADTS(buf, t, ss[i].data); err != nil {
				break
			}
		}
	default:
		for i := range ss {
			buf = append(buf, ss[i].data...)
		}
	}
	m.payload = buf
	if err != nil {
		return err
	}
	s := &ss[0]
	m.md.PID = m.pids[u.track]
	m.md.AdaptationField = nil
	if u.track == m.pcrTrack {
		m.af = astits.PacketAdaptationField{HasPCR: true, PCR: &m.pcr, RandomAccessIndicator: m.randomAccess(u, first)}
		pcr := (s.dts - pcrDelay90) & mask33
		if m.havePCR {
			if d := signed33(pcr - m.lastPCR); d < 0 || d > pcrJump90 {
				m.af.DiscontinuityIndicator = true
			}
		}
		m.pcr = astits.ClockReference{Base: pcr}
		m.lastPCR, m.havePCR = pcr, true
		m.md.AdaptationField = &m.af
	}
	m.ph.StreamID = m.streamIDs[u.track]
	m.pts.Base = s.pts & mask33
	m.oh.PTS, m.oh.DTS = &m.pts, nil
	m.oh.PTSDTSIndicator = astits.PTSDTSIndicatorOnlyPTS
	if t.codec.video() && s.dts != s.pts {
		m.dts.Base = s.dts & mask33
		m.oh.DTS = &m.dts
		m.oh.PTSDTSIndicator = astits.PTSDTSIndicatorBothPresent
	}
	m.pes.Data = buf
	if _, err := m.ts.WriteData(&m.md); err != nil {
		return fmt.Errorf("pes of track %d: %w", t.id, err)
	}
	return nil
}

// signed33 returns a 33-bit timestamp difference as a signed value.
func signed33(d int64) int64 {
	d &= mask33
	if d >= 1<<32 {
		d -= 1 << 33
	}
	return d
}
