package media

import (
	"bytes"
	"encoding/binary"
)

// videoCodec names the video codecs the segmenter takes.
type videoCodec uint8

const (
	codecNone videoCodec = iota
	codecH264
	codecH265
)

// nalRange is one NAL unit inside an Annex B access unit: data[start:end].
type nalRange struct{ start, end int }

var startCode = []byte{0, 0, 1}

// splitAnnexB appends to out the NAL units of an Annex B byte stream, with
// start codes and trailing zero bytes removed. It never allocates beyond out.
func splitAnnexB(data []byte, out []nalRange) []nalRange {
	i := bytes.Index(data, startCode)
	if i < 0 {
		return out
	}
	pos := i + 3
	for pos < len(data) {
		next := bytes.Index(data[pos:], startCode)
		end := len(data)
		nextPos := len(data)
		if next >= 0 {
			end = pos + next
			nextPos = end + 3
		}
		e := end
		for e > pos && data[e-1] == 0 {
			e--
		}
		if e > pos {
			out = append(out, nalRange{pos, e})
		}
		pos = nextPos
	}
	return out
}

// videoParams are the parameter sets of a video track; one value is
// immutable once made, so segments compare them by pointer.
type videoParams struct {
	codec         videoCodec
	vps, sps, pps [][]byte
}

// sameAs reports whether p holds exactly these parameter sets.
func (p *videoParams) sameAs(codec videoCodec, vps, sps, pps [][]byte) bool {
	return p != nil && p.codec == codec && equalNALs(p.vps, vps) && equalNALs(p.sps, sps) && equalNALs(p.pps, pps)
}

func equalNALs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func cloneNALs(in [][]byte) [][]byte {
	if len(in) == 0 {
		return nil
	}
	out := make([][]byte, len(in))
	for i, n := range in {
		out[i] = bytes.Clone(n)
	}
	return out
}

// accessUnit is the result of scanning one video access unit.
type accessUnit struct {
	key           bool
	recovery      bool // H.264: a recovery point SEI, so a random access point though not IDR
	size          int  // AVCC size of the kept NAL units
	vps, sps, pps [][]byte
}

// scanAU classifies the NAL units of an access unit: whether it is a
// keyframe (a random access point: H.264 IDR, or a picture with a recovery
// point SEI as open-GOP and intra-refresh encoders send; H.265 IRAP, which
// takes in CRA and BLA), its in-band parameter sets, and the
// length-prefixed size of the NAL units kept in the sample (access unit
// delimiters, filler data and parameter sets are left out; they live in the
// init segment).
func scanAU(codec videoCodec, data []byte, nals []nalRange, au *accessUnit) {
	au.key, au.recovery = false, false
	au.size = 0
	slice := false
	au.vps, au.sps, au.pps = au.vps[:0], au.sps[:0], au.pps[:0]
	for _, n := range nals {
		nal := data[n.start:n.end]
		if codec == codecH264 {
			switch nal[0] & 0x1f {
			case 9, 12: // access unit delimiter, filler
				continue
			case 7:
				au.sps = append(au.sps, nal)
				continue
			case 8:
				au.pps = append(au.pps, nal)
				continue
			case 5:
				au.key = true
			case 1:
				// Only a reference picture starts decoding: a recovery
				// point on a disposable picture (a B-frame) is not taken.
				slice = slice || nal[0]&0x60 != 0
			case 6:
				if !au.recovery && hasRecoveryPoint(nal) {
					au.recovery = true
				}
			}
		} else {
			if len(nal) < 2 {
				continue
			}
			switch t := (nal[0] >> 1) & 0x3f; {
			case t == 35 || t == 38: // access unit delimiter, filler
				continue
			case t == 32:
				au.vps = append(au.vps, nal)
				continue
			case t == 33:
				au.sps = append(au.sps, nal)
				continue
			case t == 34:
				au.pps = append(au.pps, nal)
				continue
			case t >= 16 && t <= 21:
				au.key = true
			}
		}
		au.size += 4 + len(nal)
	}
	if au.recovery && slice {
		au.key = true
	}
}

// appendAVCC appends the kept NAL units of an access unit, each prefixed by
// its 4-byte length, to dst.
func appendAVCC(dst []byte, codec videoCodec, data []byte, nals []nalRange) []byte {
	for _, n := range nals {
		nal := data[n.start:n.end]
		if codec == codecH264 {
			switch nal[0] & 0x1f {
			case 7, 8, 9, 12:
				continue
			}
		} else {
			if len(nal) < 2 {
				continue
			}
			switch (nal[0] >> 1) & 0x3f {
			case 32, 33, 34, 35, 38:
				continue
			}
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(nal)))
		dst = append(dst, nal...)
	}
	return dst
}
