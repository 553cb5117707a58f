package media

// aacSamplesPerFrame is the number of PCM samples one AAC raw data block holds.
const aacSamplesPerFrame = 1024

var adtsRates = [...]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// audioParams describe an audio track as its frame headers do; one value
// is immutable once made, so segments compare them by pointer. Two frames
// belong to one track configuration when their params are equal.
type audioParams struct {
	codec    audioCodec
	channels byte
	rate     int
	samples  int // PCM samples per frame (per fMP4 sample)
	// AAC
	objectType byte // MPEG-4 audio object type: ADTS profile + 1
	rateIndex  byte
	// MPEG-1/2 audio
	mpeg2 bool // ISO/IEC 13818-3 low sampling frequencies
	layer byte
	// AC-3 and E-AC-3: what dac3/dec3 describe
	fscod, bsid, bsmod, acmod, lfeon byte
	bitrateCode                      byte   // AC-3 frmsizecod/2
	dataRate                         uint16 // E-AC-3 kbit/s
}

// adtsFrame is one parsed ADTS header.
type adtsFrame struct {
	objectType, rateIndex, channels byte
	headerLen, frameLen             int
	blocks                          int // raw data blocks in the frame
}

// parseADTS parses the ADTS header at the start of b. ok is false when b
// does not start with a usable header (no sync, reserved values, or a
// length shorter than the header).
func parseADTS(b []byte) (f adtsFrame, ok bool) {
	if len(b) < 7 || b[0] != 0xff || b[1]&0xf6 != 0xf0 {
		return f, false
	}
	protectionAbsent := b[1] & 1
	f.objectType = b[2]>>6 + 1
	f.rateIndex = (b[2] >> 2) & 0x0f
	f.channels = (b[2]&1)<<2 | b[3]>>6
	f.frameLen = int(b[3]&3)<<11 | int(b[4])<<3 | int(b[5])>>5
	f.blocks = int(b[6]&3) + 1
	f.headerLen = 7
	if protectionAbsent == 0 {
		f.headerLen = 9
	}
	if int(f.rateIndex) >= len(adtsRates) || f.frameLen < f.headerLen {
		return f, false
	}
	return f, true
}

// aacFrame turns an ADTS header into the generic frame description.
func aacFrame(b []byte) (f audioFrame, ok bool) {
	h, ok := parseADTS(b)
	if !ok {
		return f, false
	}
	f.headerLen, f.frameLen = h.headerLen, h.frameLen
	f.skip = h.blocks != 1 || h.channels == 0
	f.p = audioParams{codec: audioAAC, objectType: h.objectType, rateIndex: h.rateIndex, channels: h.channels,
		rate: adtsRates[h.rateIndex], samples: aacSamplesPerFrame}
	return f, true
}
