// Package media holds the media model: init segments, fMP4 media segments, MPEG-TS demux and the keyframe segmenter.
package media

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
)

// Init is an fMP4 initialization segment (ftyp+moov) that describes every
// track of a stream. Segments refer to it by Hash.
type Init struct {
	// Hash is the content hash of Data (see InitHash).
	Hash string
	// Data is the ftyp+moov bytes exactly as stored and served.
	Data []byte
	// Codecs is the RFC 6381 codecs string, e.g. "avc1.64001f,mp4a.40.2".
	Codecs string
	// Width and Height of the video track, 0 when there is none.
	Width, Height int
}

// Segment is one fMP4 media segment (one or more moof+mdat pairs) that
// starts on a video keyframe.
type Segment struct {
	// Start is the UTC start in milliseconds since the Unix epoch.
	Start int64
	// Duration in milliseconds.
	Duration int64
	// InitHash names the Init this segment decodes with.
	InitHash string
	// Data is the moof+mdat bytes exactly as stored and served.
	Data []byte
}

// End is the UTC end of the segment in milliseconds.
func (s *Segment) End() int64 { return s.Start + s.Duration }

// InitHash returns the content hash that names an init segment: the first
// 16 hex digits of its SHA-256.
func InitHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the content checksum of a media segment: CRC-32C as 8 hex digits.
func Checksum(data []byte) string {
	var b [4]byte
	v := crc32.Checksum(data, castagnoli)
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	return hex.EncodeToString(b[:])
}
