package mpegts

import (
	"errors"
	"fmt"
)

// Access unit delimiters put in front of every video access unit.
var (
	audH264 = []byte{0, 0, 0, 1, 0x09, 0xf0}       // primary_pic_type 7: any slice type
	audH265 = []byte{0, 0, 0, 1, 0x46, 0x01, 0x50} // type 35, tid 1; pic_type 2: any
)

var errNALLength = errors.New("nal unit length past the sample")

// nalInfo is what appendAnnexB needs to know about an access unit.
type nalInfo struct {
	firstAUD  bool // the first NAL unit is an access unit delimiter
	paramSets bool // SPS or PPS (H.265: VPS, SPS or PPS) in-band
	irap      bool // an IDR (H.264) or IRAP (H.265) picture
}

// scanAVCC walks the length-prefixed NAL units of a video sample, checking
// every length, and classifies them.
func scanAVCC(c codec, nalLen int, data []byte) (nalInfo, error) {
	var in nalInfo
	for i, first := 0, true; i < len(data); first = false {
		n, body, err := nextNAL(nalLen, data[i:])
		if err != nil {
			return in, err
		}
		i += nalLen + n
		if n == 0 {
			continue
		}
		if c == codecH264 {
			switch body[0] & 0x1f {
			case 9:
				in.firstAUD = in.firstAUD || first
			case 7, 8:
				in.paramSets = true
			case 5:
				in.irap = true
			}
			continue
		}
		switch t := body[0] >> 1 & 0x3f; {
		case t == 35:
			in.firstAUD = in.firstAUD || first
		case t >= 32 && t <= 34:
			in.paramSets = true
		case t >= 16 && t <= 23:
			in.irap = true
		}
	}
	return in, nil
}

// nextNAL reads the length prefix at the start of b: n is the NAL unit's
// length and body the bytes of it.
func nextNAL(nalLen int, b []byte) (n int, body []byte, err error) {
	if len(b) < nalLen {
		return 0, nil, errNALLength
	}
	for _, x := range b[:nalLen] {
		n = n<<8 | int(x)
	}
	if n > len(b)-nalLen {
		return 0, nil, errNALLength
	}
	return n, b[nalLen : nalLen+n], nil
}

// appendAnnexB appends one video access unit in Annex B form: an access
// unit delimiter (unless the sample starts with one), the parameter sets of
// the sample entry before a keyframe that lacks them, then every NAL unit
// with a 4-byte start code.
// The NAL unit lengths must have been checked by scanAVCC (s.nals).
func appendAnnexB(dst []byte, t *track, s *sample) []byte {
	in := s.nals
	if !in.firstAUD {
		if t.codec == codecH264 {
			dst = append(dst, audH264...)
		} else {
			dst = append(dst, audH265...)
		}
	}
	if (s.key || in.irap) && !in.paramSets {
		dst = append(dst, t.paramSets...)
	}
	for i := 0; i < len(s.data); {
		n, body, err := nextNAL(t.nalLen, s.data[i:])
		if err != nil {
			break // not reached: scanAVCC checked the lengths
		}
		i += t.nalLen + n
		if n == 0 {
			continue
		}
		dst = append(dst, startCode4...)
		dst = append(dst, body...)
	}
	return dst
}

// appendADTS appends one raw AAC frame with its ADTS header.
func appendADTS(dst []byte, t *track, frame []byte) ([]byte, error) {
	n := adtsHeaderLength + len(frame)
	if n > maxADTSFrame {
		return dst, fmt.Errorf("track %d: aac frame of %d bytes does not fit in adts", t.id, len(frame))
	}
	h := t.adts
	h[3] = h[3]&0xfc | byte(n>>11)
	h[4] = byte(n >> 3)
	h[5] = h[5]&0x1f | byte(n&7)<<5
	dst = append(dst, h[:]...)
	return append(dst, frame...), nil
}
