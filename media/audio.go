// This file holds the audio codecs the segmenter carries and their frame headers: AAC (ADTS), MPEG-1/2 audio, AC-3 and E-AC-3.

package media

import (
	"github.com/bluenviron/mediacommon/pkg/codecs/ac3"
	"github.com/bluenviron/mediacommon/pkg/codecs/mpeg1audio"
)

// audioCodec names the audio codecs the segmenter takes.
type audioCodec uint8

const (
	audioAAC  audioCodec = iota // ADTS in TS; mp4a with an AudioSpecificConfig in fMP4
	audioMPEG                   // MPEG-1/2 audio layers II and III (mp2, mp3); mp4a, esds type 0x6B or 0x69
	audioAC3                    // AC-3 (ATSC A/52); ac-3 with dac3
	audioEAC3                   // E-AC-3; ec-3 with dec3
)

func (c audioCodec) String() string {
	switch c {
	case audioAAC:
		return "aac"
	case audioMPEG:
		return "mpeg-audio"
	case audioAC3:
		return "ac-3"
	case audioEAC3:
		return "e-ac-3"
	}
	return "unknown"
}

// syncByte is the first byte of every frame of the codec, used to find the
// next frame after damage.
func (c audioCodec) syncByte() byte {
	if c == audioAC3 || c == audioEAC3 {
		return 0x0b
	}
	return 0xff
}

// audioFrame is one parsed audio frame header.
type audioFrame struct {
	p         audioParams
	headerLen int  // bytes at the start of the frame that the fMP4 sample leaves out (the ADTS header)
	frameLen  int  // bytes of the whole frame
	skip      bool // a well-formed frame the fMP4 cannot carry: dropped and counted
}

// parseAudioFrame parses the header of a frame of codec c at the start of
// b. ok is false when b does not start with a usable header.
func parseAudioFrame(c audioCodec, b []byte) (audioFrame, bool) {
	switch c {
	case audioAAC:
		return aacFrame(b)
	case audioMPEG:
		return mpegAudioFrame(b)
	case audioAC3:
		return ac3Frame(b)
	case audioEAC3:
		return eac3Frame(b)
	}
	return audioFrame{}, false
}

// mpegAudioFrame parses an MPEG-1/2 audio frame header (ISO/IEC 11172-3
// 2.4.1.3, 13818-3). Layers II and III are taken; free format (no bitrate
// in the header) and layer I are not recognised, so they are skipped as
// garbage.
func mpegAudioFrame(b []byte) (f audioFrame, ok bool) {
	var h mpeg1audio.FrameHeader
	if len(b) < 5 || h.Unmarshal(b) != nil || h.SampleRate <= 0 || h.Bitrate <= 0 {
		return f, false
	}
	samples := h.SampleCount()
	// Frame length in bytes: samples/8 * bitrate / rate, plus a padding
	// byte (layers II and III; 13818-3 layer III has 576 samples).
	f.frameLen = samples / 8 * h.Bitrate / h.SampleRate
	if h.Padding {
		f.frameLen++
	}
	if f.frameLen < 4 {
		return f, false
	}
	ch := byte(2)
	if h.ChannelMode == mpeg1audio.ChannelModeMono {
		ch = 1
	}
	f.p = audioParams{codec: audioMPEG, channels: ch, rate: h.SampleRate, samples: samples, mpeg2: h.MPEG2, layer: h.Layer}
	return f, true
}

// ac3Frame parses an AC-3 syncframe header (ATSC A/52 5.3.1 syncinfo and
// 5.3.2 bsi, the fields dac3 needs). An AC-3 frame is 1536 samples.
func ac3Frame(b []byte) (f audioFrame, ok bool) {
	var si ac3.SyncInfo
	if len(b) < 8 || si.Unmarshal(b) != nil {
		return f, false
	}
	f.frameLen = si.FrameSize()
	var bsi ac3.BSI
	if bsi.Unmarshal(b[5:]) != nil { // 3 bytes from b[5] hold every field read
		// A syncframe of another bitstream version (bsid 6, alternate
		// syntax, or below): its length is known, its fields not read.
		f.skip = true
		return f, true
	}
	ch := bsi.ChannelCount()
	f.p = audioParams{codec: audioAC3, channels: byte(ch), rate: si.SampleRate(), samples: 1536,
		fscod: si.Fscod, bsid: bsi.Bsid, bsmod: bsi.Bsmod, acmod: bsi.Acmod, bitrateCode: si.Frmsizecod >> 1}
	if bsi.LfeOn {
		f.p.lfeon = 1
	}
	return f, true
}

// eac3Blocks is the number of audio blocks per syncframe for each numblkscod.
var eac3Blocks = [4]int{1, 2, 3, 6}

// eac3Frame parses an E-AC-3 syncframe header (ATSC A/52 E.1.2.1 syncinfo
// and E.1.2.2 bsi, the fields dec3 needs). Independent substream 0 with six
// blocks per frame (1536 samples, what encoders send) is carried; dependent
// substreams (channels beyond 5.1), other independent substreams, frames of
// fewer blocks and reduced sample rates are dropped and counted: the
// 5.1 core still plays.
func eac3Frame(b []byte) (f audioFrame, ok bool) {
	if len(b) < 6 || b[0] != 0x0b || b[1] != 0x77 {
		return f, false
	}
	strmtyp := b[2] >> 6
	substreamid := (b[2] >> 3) & 7
	frmsiz := int(b[2]&7)<<8 | int(b[3])
	fscod := b[4] >> 6
	numblkscod := (b[4] >> 4) & 3
	acmod := (b[4] >> 1) & 7
	lfeon := b[4] & 1
	bsid := b[5] >> 3
	if strmtyp == 3 || bsid <= 10 || bsid > 16 {
		return f, false
	}
	f.frameLen = (frmsiz + 1) * 2
	if f.frameLen < 6 {
		return f, false
	}
	if strmtyp == 1 || substreamid != 0 || fscod == 3 || eac3Blocks[numblkscod] != 6 {
		f.skip = true
		return f, true
	}
	rate := ac3Rates[fscod]
	samples := 256 * eac3Blocks[numblkscod]
	f.p = audioParams{codec: audioEAC3, channels: acmodChannels[acmod] + lfeon, rate: rate, samples: samples,
		fscod: fscod, bsid: bsid, acmod: acmod, lfeon: lfeon,
		dataRate: uint16(f.frameLen * 8 * rate / samples / 1000)}
	return f, true
}

// ac3Rates are the sample rates of fscod 0-2 (A/52 table 5.6).
var ac3Rates = [3]int{48000, 44100, 32000}

// acmodChannels is the number of full-bandwidth channels of each acmod (A/52 table 5.8).
var acmodChannels = [8]byte{2, 1, 2, 3, 3, 4, 4, 5}
