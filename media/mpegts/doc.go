// Package mpegts remuxes the stored fMP4 of a stream into MPEG-TS without re-encoding, for players that cannot play fMP4.
//
// Input is one [media.Init] (ftyp+moov) and media segments (one or more
// moof+mdat pairs, as the media segmenter writes them). Parsing uses
// Eyevinn/mp4ff and every offset and size it reports is checked against the
// segment before use, so broken input is an error, never a panic. Output is
// written with the go-astits muxer (one program, PMT on PID 0x1000).
//
// Tracks: H.264 (stream type 0x1B) and H.265 (0x24) video become Annex B
// with an access unit delimiter in front of every access unit and the
// parameter sets of the avcC or hvcC (SPS/PPS, or VPS/SPS/PPS) in front of
// every keyframe that does not carry them in-band; AAC (0x0F) gets an ADTS
// header built from the AudioSpecificConfig of its esds; MPEG-1/2 audio
// (0x03/0x04), AC-3 (0x81) and E-AC-3 (0x87) frames are carried as they
// are. Other tracks are skipped and counted in [Stats].
//
// Timing: a sample's DTS is its decode time (tfdt plus the durations before
// it) converted to 90 kHz, its PTS adds the composition offset; both are
// taken modulo 2^33. The tfdt of a stored segment is UTC, so consecutive
// segments make one continuous TS and a hole in the archive is a hole in
// the PTS (the PCR after a jump of more than two seconds, or a backward
// one, carries the discontinuity indicator). The PCR rides on the first
// video PID (the first audio PID without video), on every PES of that PID,
// at DTS minus [PCRDelay]; a segment without samples of that track (video
// stopped, audio went on) gets adaptation-field-only PCR packets on it in
// front of its audio PES.
//
// Packets: PES of all tracks are interleaved by DTS; audio frames are
// grouped a few at a time (at most 100 ms per PES). The first video
// keyframe of a segment goes first, so PAT and PMT are followed by a
// keyframe. PAT and PMT are written at the start of every segment (so
// after every init change), in front of every video keyframe and every 40
// PES. Elementary PIDs count up from 0x100; a PID keeps its stream while
// the init changes only parameter sets, so continuity counters run on.
package mpegts
