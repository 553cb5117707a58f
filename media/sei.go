// This file holds the H.264 recovery point SEI check that makes open-GOP and intra-refresh pictures random access points.

package media

import (
	"bytes"

	"github.com/Eyevinn/mp4ff/sei"
)

// hasRecoveryPoint reports whether an H.264 SEI NAL unit (with its one-byte
// header) holds a recovery point message (payload type 6, H.264 D.1.8):
// decoding may start at its picture, as x264 marks the I-pictures of an
// open GOP and the start of each intra refresh. A damaged SEI counts only
// for the messages read before the damage.
func hasRecoveryPoint(nal []byte) bool {
	if len(nal) < 3 {
		return false
	}
	// Cheap first look: the first message's type, before paying for a parse.
	// Most SEI NAL units hold one message.
	if nal[1] == sei.SEIRecoveryPointType {
		return true
	}
	// A recovery point message needs a payload type byte of 6 somewhere:
	// without one (the picture timing SEI of every picture, mostly), skip
	// the parse and its allocations.
	if bytes.IndexByte(nal[2:], sei.SEIRecoveryPointType) < 0 {
		return false
	}
	msgs, _ := sei.ExtractSEIData(bytes.NewReader(nal[1:]))
	for _, m := range msgs {
		if m.Type() == sei.SEIRecoveryPointType {
			return true
		}
	}
	return false
}
