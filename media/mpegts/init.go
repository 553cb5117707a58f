package mpegts

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/asticode/go-astits"
)

// codec is what a track carries, as the TS will describe it.
type codec uint8

const (
	codecH264 codec = iota + 1
	codecH265
	codecAAC
	codecMPEG1Audio
	codecMPEG2Audio
	codecAC3
	codecEAC3
)

// streamType is the PMT stream type of each codec.
var streamType = [...]astits.StreamType{
	codecH264:       astits.StreamTypeH264Video,
	codecH265:       astits.StreamTypeH265Video,
	codecAAC:        astits.StreamTypeAACAudio,
	codecMPEG1Audio: astits.StreamTypeMPEG1Audio,
	codecMPEG2Audio: astits.StreamTypeMPEG2Audio,
	codecAC3:        astits.StreamTypeAC3Audio,
	codecEAC3:       astits.StreamTypeEAC3Audio,
}

func (c codec) video() bool { return c == codecH264 || c == codecH265 }

// track is one track of an init segment that goes into the TS.
type track struct {
	id        uint32
	timescale uint32
	codec     codec
	trex      *mp4.TrexBox
	lang      string // ISO 639-2 language of the mdhd
	// video
	nalLen    int    // bytes of the NAL unit length prefix
	paramSets []byte // VPS/SPS/PPS of the sample entry, Annex B with start codes
	// AAC
	adts [7]byte // ADTS header with a zero frame length
}

// stream is a parsed init segment: the tracks the TS carries, in init order.
type stream struct {
	tracks  []track
	skipped int // tracks of the init that are not carried
}

var errNoMoov = errors.New("no moov")

// parseInit parses an init segment (ftyp+moov).
func parseInit(data []byte) (st *stream, err error) {
	defer func() {
		// mp4ff is fuzzed, but a panic on input we did not foresee must stay an error.
		if r := recover(); r != nil {
			st, err = nil, fmt.Errorf("parse init: mp4ff: %v", r)
		}
	}()
	f, err := mp4.DecodeFileSR(bits.NewFixedSliceReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse init: %w", err)
	}
	if f.Init == nil || f.Init.Moov == nil {
		return nil, fmt.Errorf("parse init: %w", errNoMoov)
	}
	moov := f.Init.Moov
	st = &stream{}
	for _, trak := range moov.Traks {
		t, ok, err := parseTrak(trak)
		if err != nil {
			return nil, fmt.Errorf("parse init: %w", err)
		}
		if !ok {
			st.skipped++
			continue
		}
		if moov.Mvex != nil {
			for _, trex := range moov.Mvex.Trexs {
				if trex.TrackID == t.id {
					t.trex = trex
				}
			}
		}
		for _, o := range st.tracks {
			if o.id == t.id {
				return nil, fmt.Errorf("parse init: track id %d twice", t.id)
			}
		}
		st.tracks = append(st.tracks, t)
	}
	if len(st.tracks) == 0 {
		return nil, fmt.Errorf("parse init: no track that MPEG-TS can carry (%d skipped)", st.skipped)
	}
	return st, nil
}

// parseTrak returns the track of trak, or ok false when the TS does not
// carry its codec. An error means the track claims a codec it does not
// describe (an avc1 without avcC, AAC without AudioSpecificConfig).
func parseTrak(trak *mp4.TrakBox) (t track, ok bool, err error) {
	if trak.Tkhd == nil || trak.Mdia == nil || trak.Mdia.Mdhd == nil || trak.Mdia.Minf == nil ||
		trak.Mdia.Minf.Stbl == nil || trak.Mdia.Minf.Stbl.Stsd == nil {
		return t, false, errors.New("trak without tkhd, mdhd or stsd")
	}
	t.id = trak.Tkhd.TrackID
	t.timescale = trak.Mdia.Mdhd.Timescale
	t.lang = trak.Mdia.Mdhd.GetLanguage()
	stsd := trak.Mdia.Minf.Stbl.Stsd
	switch {
	case stsd.AvcX != nil:
		t.codec = codecH264
		err = t.setAVC(stsd.AvcX)
	case stsd.HvcX != nil:
		t.codec = codecH265
		err = t.setHEVC(stsd.HvcX)
	case stsd.Mp4a != nil:
		ok, err = t.setMP4A(stsd.Mp4a)
		if !ok || err != nil {
			return t, false, err
		}
	case stsd.Mp3 != nil:
		t.codec = codecMPEG1Audio
	case stsd.AC3 != nil:
		t.codec = codecAC3
	case stsd.EC3 != nil:
		t.codec = codecEAC3
	default:
		return t, false, nil
	}
	if err != nil {
		return t, false, fmt.Errorf("track %d: %w", t.id, err)
	}
	if t.timescale == 0 {
		return t, false, fmt.Errorf("track %d: timescale 0", t.id)
	}
	return t, true, nil
}

var startCode4 = []byte{0, 0, 0, 1}

func annexB(dst []byte, nalus ...[][]byte) []byte {
	for _, list := range nalus {
		for _, n := range list {
			dst = append(dst, startCode4...)
			dst = append(dst, n...)
		}
	}
	return dst
}

func (t *track) setAVC(e *mp4.VisualSampleEntryBox) error {
	if e.AvcC == nil {
		return errors.New("avc sample entry without avcC")
	}
	c := e.AvcC
	if e.Type() == "avc1" && (len(c.SPSnalus) == 0 || len(c.PPSnalus) == 0) {
		return errors.New("avc1 whose avcC holds no SPS or PPS")
	}
	t.nalLen = 4 // mp4ff accepts no other avcC length size
	t.paramSets = annexB(nil, c.SPSnalus, c.PPSnalus)
	return nil
}

func (t *track) setHEVC(e *mp4.VisualSampleEntryBox) error {
	if e.HvcC == nil {
		return errors.New("hevc sample entry without hvcC")
	}
	c := e.HvcC
	vps, sps, pps := c.GetNalusForType(hevc.NALU_VPS), c.GetNalusForType(hevc.NALU_SPS), c.GetNalusForType(hevc.NALU_PPS)
	if (e.Type() == "hvc1" || e.Type() == "dvh1") && (len(vps) == 0 || len(sps) == 0 || len(pps) == 0) {
		return errors.New("hvc1 whose hvcC holds no VPS, SPS or PPS")
	}
	switch c.LengthSizeMinusOne {
	case 0, 1, 3:
		t.nalLen = int(c.LengthSizeMinusOne) + 1
	default:
		return fmt.Errorf("hvcC NAL length size %d", c.LengthSizeMinusOne+1)
	}
	t.paramSets = annexB(nil, vps, sps, pps)
	return nil
}

// Object type indications of an esds DecoderConfigDescriptor (ISO/IEC 14496-1 and the MP4RA list).
const (
	otiMPEG4Audio    = 0x40
	otiMPEG2AACMain  = 0x66
	otiMPEG2AACLC    = 0x67
	otiMPEG2AACSSR   = 0x68
	otiMPEG2Audio    = 0x69 // MPEG-2 audio part 3 (layers I-III, low sample rates)
	otiMPEG1Audio    = 0x6b
	otiAC3           = 0xa5
	otiEAC3          = 0xa6
	adtsHeaderLength = 7
	maxADTSFrame     = 1<<13 - 1
)

// setMP4A reads an mp4a sample entry. ok is false for codecs the TS does not carry.
func (t *track) setMP4A(e *mp4.AudioSampleEntryBox) (ok bool, err error) {
	if e.Esds == nil || e.Esds.DecConfigDescriptor == nil {
		return false, fmt.Errorf("track %d: mp4a without esds", t.id)
	}
	dcd := e.Esds.DecConfigDescriptor
	switch dcd.ObjectType {
	case otiMPEG1Audio:
		t.codec = codecMPEG1Audio
		return true, nil
	case otiMPEG2Audio:
		t.codec = codecMPEG2Audio
		return true, nil
	case otiAC3:
		t.codec = codecAC3
		return true, nil
	case otiEAC3:
		t.codec = codecEAC3
		return true, nil
	case otiMPEG4Audio, otiMPEG2AACMain, otiMPEG2AACLC, otiMPEG2AACSSR:
	default:
		return false, nil
	}
	if dcd.DecSpecificInfo == nil || len(dcd.DecSpecificInfo.DecConfig) == 0 {
		return false, fmt.Errorf("track %d: aac without AudioSpecificConfig", t.id)
	}
	asc, err := aac.DecodeAudioSpecificConfigHeader(bytes.NewReader(dcd.DecSpecificInfo.DecConfig))
	if err != nil {
		return false, fmt.Errorf("track %d: %w", t.id, err)
	}
	// ADTS names the profile in two bits: object types 1-4. HE-AAC (5, 29)
	// is sent as AAC-LC at the core rate, with SBR/PS found by the decoder
	// (implicit signalling), as every TS muxer does.
	var profile byte
	switch asc.ObjectType {
	case 1, 2, 3, 4: // AAC Main, LC, SSR, LTP
		profile = asc.ObjectType - 1
	case aac.HEAACv1, aac.HEAACv2:
		profile = aac.AAClc - 1
	default:
		return false, nil // USAC, ER AAC, ...: ADTS cannot describe them
	}
	if asc.ChannelConfiguration == 0 || asc.ChannelConfiguration > 7 {
		return false, nil // channels described by a PCE: not expressible in ADTS without one
	}
	h, err := aac.NewADTSHeader(asc.SamplingFrequency, asc.ChannelConfiguration, aac.AAClc, 0)
	if err != nil {
		return false, nil // a sampling rate ADTS has no index for
	}
	enc := h.Encode()
	if len(enc) != adtsHeaderLength {
		return false, fmt.Errorf("track %d: adts header of %d bytes", t.id, len(enc))
	}
	copy(t.adts[:], enc)
	t.adts[2] = t.adts[2]&0x3f | profile<<6
	t.codec = codecAAC
	return true, nil
}
