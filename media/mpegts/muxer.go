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
	// pcrEvery90 is the least PCR interval when PCR-only packets carry it
	// (before the audio PES, which are at most maxAudioPES90 apart).
	pcrEvery90 = 40 * 90
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
	cc         [0x2000]uint8 // continuity counter of the last packet with payload, by PID
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
// Continuity counters of every PID start at 0 in each standalone segment
// (the first packet of a PID has counter 0): what the previous segment
// ended with is not known without remuxing it, and a segment's bytes do not
// depend on which segment a player read before. ffmpeg reads a playlist of
// such segments without an error (TestRemuxHLS); a viewer that needs
// counters continuous across segments reads the TS of one Muxer instead.
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
	if !slices.ContainsFunc(m.samples, func(ss []sample) bool { return len(ss) > 0 }) {
		return errors.New("mpegts: segment without samples of a carried track")
	}
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
	pcrOnly := len(m.samples[m.pcrTrack]) == 0
	for i, u := range m.units {
		if pcrOnly {
			if err := m.writePCROnly(m.samples[u.track][u.first].dts); err != nil {
				return err
			}
		}
		if err := m.writeUnit(st, u, i == 0); err != nil {
			return err
		}
	}
	m.noteCC()
	return nil
}

// writePCROnly writes an adaptation-field-only packet with a PCR on the
// PCR PID, for a segment without samples of the PCR track (video that
// stopped while audio went on), when the last PCR is 40 ms old or more.
// Without payload its continuity counter repeats the PID's last one.
func (m *Muxer) writePCROnly(dts int64) error {
	pcr := (dts - pcrDelay90) & mask33
	if m.havePCR && signed33(pcr-m.lastPCR) >= 0 && signed33(pcr-m.lastPCR) < pcrEvery90 {
		return nil
	}
	af := astits.PacketAdaptationField{HasPCR: true, PCR: &astits.ClockReference{Base: pcr}, StuffingLength: 183 - 7}
	if m.havePCR {
		if d := signed33(pcr - m.lastPCR); d < 0 || d > pcrJump90 {
			af.DiscontinuityIndicator = true
		}
	}
	m.lastPCR, m.havePCR = pcr, true
	p := astits.Packet{
		Header:          astits.PacketHeader{PID: m.pids[m.pcrTrack], HasAdaptationField: true, ContinuityCounter: m.cc[m.pids[m.pcrTrack]]},
		AdaptationField: &af,
	}
	if _, err := m.ts.WritePacket(&p); err != nil {
		return fmt.Errorf("pcr packet: %w", err)
	}
	return nil
}

// noteCC remembers the continuity counter of the last packet with payload
// of every PID in this segment's TS, for writePCROnly.
func (m *Muxer) noteCC() {
	b := m.out.Bytes()
	for i := 0; i+188 <= len(b); i += 188 {
		if b[i+3]&0x10 != 0 {
			m.cc[uint16(b[i+1]&0x1f)<<8|uint16(b[i+2])] = b[i+3] & 0x0f
		}
	}
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
