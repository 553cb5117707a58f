// Package media holds the media model: init segments, fMP4 media segments, MPEG-TS demux and the keyframe segmenter.
//
// A stream is one [Init] (ftyp+moov describing every track: H.264 or H.265
// video; AAC, MPEG-1/2 audio, AC-3 or E-AC-3 audio) and a sequence of
// [Segment] values, each one moof+mdat holding all tracks and starting on a
// video keyframe: a random access point, which is an IDR picture, an H.264
// picture with a recovery point SEI (open GOP, intra refresh) or an H.265
// IRAP picture (IDR, CRA, BLA). Segments are named by
// their UTC start in milliseconds and refer to their init by content hash
// ([InitHash]); [Checksum] names their bytes.
//
// [Segmenter] makes them from MPEG-TS: it finds packet sync itself (bytes may
// come in any alignment, garbage is skipped and counted), demuxes PAT and
// PMT with go-astits and the PES of its video and audio PIDs itself,
// without allocating per packet, takes the first program or the configured
// one, and cuts a segment at the first keyframe at or after the target
// duration (audio-only streams: on an audio frame boundary). It takes the
// first H.264 or H.265 track and one audio track: the first AAC one, else
// the first MPEG audio (stream types 0x03, 0x04), AC-3 or E-AC-3 one (ATSC
// 0x81, 0x87, or DVB private data with an AC-3 or E-AC-3 descriptor).
// Every other track of the PMT is counted in Stats.Unsupported and logged,
// once per change of the PMT. A segment holds at most 32 MiB: without a
// keyframe by then it is cut, and frames up to the next keyframe are
// dropped (see maxSegBytes).
//
// Timing: the first keyframe is anchored to the wall clock; every later frame
// is placed at anchor + (DTS - anchor DTS), with 33-bit wraps unwrapped. The
// fMP4 decode times (tfdt, version 1) are that UTC time in the track's
// timescale: 90 kHz for video (tfdt = UTC ms * 90) and the sample rate for
// AAC (tfdt = UTC ms * rate / 1000, then counted in samples), so all the
// segments of a stream, whatever input made them, lie on one UTC timeline and
// players see gaps as gaps. A timestamp jump (backwards, or more than 2 s
// forwards in both tracks) re-anchors so UTC continues from the last frame,
// and cuts a segment; Reanchor re-anchors the next keyframe to the wall
// clock, never before the end of what was emitted. Segment starts of one
// Segmenter strictly increase.
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
	// Seq and DiscSeq are the HLS media sequence and discontinuity
	// sequence numbers the capturing node gave the segment in its live
	// window. They travel with the segment from node to node (M4F live
	// push), so that every node's live playlists give one segment the
	// same numbers and a player can move between nodes. 0 when not
	// numbered (a segment fresh from the segmenter, or read from an
	// archive); they are never stored.
	Seq, DiscSeq int64
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
