package media

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/Eyevinn/mp4ff/mp4"
)

// videoTimescale is the timescale of video tracks: the MPEG-TS 90 kHz clock.
const videoTimescale = 90000

// buildInit makes the init segment (ftyp+moov) for a video track (vp, may
// be nil) and an audio track (ap, may be nil). The video track, when present,
// is track 1 and the audio track follows.
func buildInit(vp *videoParams, ap *audioParams) (Init, error) {
	if vp == nil && ap == nil {
		return Init{}, fmt.Errorf("build init: no track")
	}
	init := mp4.CreateEmptyInit()
	var codecs []string
	out := Init{}
	if vp != nil {
		if len(vp.sps) == 0 || len(vp.pps) == 0 {
			return Init{}, fmt.Errorf("build init: video without sps/pps")
		}
		trak := init.AddEmptyTrack(videoTimescale, "video", "und")
		switch vp.codec {
		case codecH264:
			sps, err := avc.ParseSPSNALUnit(vp.sps[0], false)
			if err != nil {
				return Init{}, fmt.Errorf("build init: parse h264 sps: %w", err)
			}
			if err := trak.SetAVCDescriptor("avc1", vp.sps, vp.pps, true); err != nil {
				return Init{}, fmt.Errorf("build init: avc1: %w", err)
			}
			out.Width, out.Height = int(sps.Width), int(sps.Height)
			codecs = append(codecs, strings.ToLower(avc.CodecString("avc1", sps)))
		case codecH265:
			if len(vp.vps) == 0 {
				return Init{}, fmt.Errorf("build init: h265 without vps")
			}
			sps, err := hevc.ParseSPSNALUnit(vp.sps[0])
			if err != nil {
				return Init{}, fmt.Errorf("build init: parse h265 sps: %w", err)
			}
			if err := trak.SetHEVCDescriptor("hvc1", vp.vps, vp.sps, vp.pps, nil, true); err != nil {
				return Init{}, fmt.Errorf("build init: hvc1: %w", err)
			}
			w, h := sps.ImageSize()
			out.Width, out.Height = int(w), int(h)
			codecs = append(codecs, hevc.CodecString("hvc1", sps))
		default:
			return Init{}, fmt.Errorf("build init: unknown video codec %d", vp.codec)
		}
	}
	if ap != nil {
		trak := init.AddEmptyTrack(uint32(ap.rate), "audio", "und")
		codec, err := setAudioEntry(trak, ap)
		if err != nil {
			return Init{}, err
		}
		codecs = append(codecs, codec)
	}
	var buf bytes.Buffer
	buf.Grow(int(init.Size()))
	if err := init.Encode(&buf); err != nil {
		return Init{}, fmt.Errorf("build init: encode: %w", err)
	}
	out.Data = buf.Bytes()
	out.Hash = InitHash(out.Data)
	out.Codecs = strings.Join(codecs, ",")
	return out, nil
}

// fragmentHeader encodes into hdr (reset first) the moof and the mdat header
// of one fragment whose mdat holds the video samples vs (track vTrack, when
// present) and then the audio samples as (track aTrack). vTrack/aTrack are 0
// when that track has no samples. The sample bytes themselves are not
// touched: the caller lays them out right after the header, so a segment is
// never copied whole to be encoded.
func fragmentHeader(hdr *bytes.Buffer, seq uint32, vTrack uint32, vTfdt uint64, vs []mp4.Sample,
	aTrack uint32, aTfdt uint64, as []mp4.Sample) error {
	hdr.Reset()
	var ids []uint32
	if vTrack != 0 && len(vs) > 0 {
		ids = append(ids, vTrack)
	}
	if aTrack != 0 && len(as) > 0 {
		ids = append(ids, aTrack)
	}
	if len(ids) == 0 {
		return fmt.Errorf("encode fragment: no samples")
	}
	frag, err := mp4.CreateMultiTrackFragment(seq, ids)
	if err != nil {
		return fmt.Errorf("encode fragment: %w", err)
	}
	add := func(track uint32, tfdt uint64, ss []mp4.Sample) error {
		if track == 0 || len(ss) == 0 {
			return nil
		}
		for i := range ss {
			if err := frag.AddSampleToTrack(ss[i], track, tfdt); err != nil {
				return fmt.Errorf("encode fragment: %w", err)
			}
		}
		return nil
	}
	if err := add(vTrack, vTfdt, vs); err != nil {
		return err
	}
	if err := add(aTrack, aTfdt, as); err != nil {
		return err
	}
	for _, traf := range frag.Moof.Trafs {
		traf.Tfdt.Version = 1 // always 64-bit: UTC-based decode times
	}
	frag.SetTrunDataOffsets()
	hdr.Grow(int(frag.Moof.Size()) + 16)
	// The mdat has no data of its own (only its size, from the samples), so
	// this writes the moof and the mdat header only.
	if err := frag.Encode(hdr); err != nil {
		return fmt.Errorf("encode fragment: %w", err)
	}
	return nil
}

// Object type indications of an esds DecoderConfigDescriptor for MPEG
// audio (ISO/IEC 14496-1 table 5, the MP4RA list).
const (
	otiMPEG2Audio = 0x69 // ISO/IEC 13818-3: the low sampling frequencies
	otiMPEG1Audio = 0x6b // ISO/IEC 11172-3
)

// setAudioEntry adds the sample entry of ap to trak and returns its RFC
// 6381 codecs string: mp4a with an AudioSpecificConfig for AAC, mp4a with
// object type 0x6B (0x69 for the MPEG-2 low rates) and no decoder config
// for MPEG audio, as ffmpeg writes them, ac-3 with dac3 and ec-3 with dec3
// (ETSI TS 102 366 annex F).
func setAudioEntry(trak *mp4.TrakBox, ap *audioParams) (string, error) {
	stsd := trak.Mdia.Minf.Stbl.Stsd
	switch ap.codec {
	case audioAAC:
		asc := &aac.AudioSpecificConfig{
			ObjectType:           ap.objectType,
			ChannelConfiguration: ap.channels,
			SamplingFrequency:    ap.rate,
		}
		var buf bytes.Buffer
		if err := asc.Encode(&buf); err != nil {
			return "", fmt.Errorf("build init: aac config: %w", err)
		}
		stsd.AddChild(mp4.CreateAudioSampleEntryBox("mp4a", uint16(ap.channels), 16, uint16(ap.rate), mp4.CreateEsdsBox(buf.Bytes())))
		return fmt.Sprintf("mp4a.40.%d", ap.objectType), nil
	case audioMPEG:
		esds := mp4.CreateEsdsBox(nil)
		oti := byte(otiMPEG1Audio)
		if ap.mpeg2 {
			oti = otiMPEG2Audio
		}
		esds.DecConfigDescriptor.ObjectType = oti
		esds.DecConfigDescriptor.DecSpecificInfo = nil
		stsd.AddChild(mp4.CreateAudioSampleEntryBox("mp4a", uint16(ap.channels), 16, uint16(ap.rate), esds))
		return fmt.Sprintf("mp4a.%X", oti), nil
	case audioAC3:
		dac3 := &mp4.Dac3Box{FSCod: ap.fscod, BSID: ap.bsid, BSMod: ap.bsmod, ACMod: ap.acmod, LFEOn: ap.lfeon, BitRateCode: ap.bitrateCode}
		if err := trak.SetAC3Descriptor(dac3); err != nil {
			return "", fmt.Errorf("build init: ac-3: %w", err)
		}
		return "ac-3", nil
	case audioEAC3:
		dec3 := &mp4.Dec3Box{DataRate: ap.dataRate, EC3Subs: []mp4.EC3Sub{{FSCod: ap.fscod, BSID: ap.bsid, BSMod: ap.bsmod, ACMod: ap.acmod, LFEOn: ap.lfeon}}}
		if err := trak.SetEC3Descriptor(dec3); err != nil {
			return "", fmt.Errorf("build init: e-ac-3: %w", err)
		}
		return "ec-3", nil
	}
	return "", fmt.Errorf("build init: unknown audio codec %d", ap.codec)
}
