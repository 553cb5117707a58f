package proxy

import (
	"strconv"
	"time"
)

// playlistKind selects the header tags of a media playlist.
type playlistKind uint8

const (
	playlistLive  playlistKind = iota // sliding: no PLAYLIST-TYPE, no ENDLIST
	playlistVOD                       // PLAYLIST-TYPE:VOD and ENDLIST
	playlistEvent                     // PLAYLIST-TYPE:EVENT, no ENDLIST
)

// bytesPerEntry is a generous estimate of one segment's lines, to size the
// buffer once.
const bytesPerEntry = 110

// playlistHead is what a media playlist says before its segments.
type playlistHead struct {
	kind playlistKind
	// target is EXT-X-TARGETDURATION in seconds; 0 computes it from the
	// segments (right for a playlist that never changes).
	target int64
	// seq and discSeq are the media sequence and discontinuity sequence
	// numbers of the first segment.
	seq, discSeq int64
	// startAtFrom adds EXT-X-START:TIME-OFFSET=0: play from the first
	// segment, not from the live edge (EVENT playlists from a time).
	startAtFrom bool
	// ended adds EXT-X-ENDLIST to an EVENT playlist: it is complete.
	ended bool
	// ts lists MPEG-TS segments (s-{start}.ts, no EXT-X-MAP) instead of
	// fMP4 ones.
	ts bool
}

// appendPlaylist appends an HLS media playlist of es to buf: version 7
// with fMP4 segments, or version 3 with MPEG-TS segments. URIs are
// relative to the playlist: init-{hash}.mp4 and s-{startms}.m4s, or
// s-{startms}.ts.
func appendPlaylist(buf []byte, h playlistHead, es []entry) []byte {
	if cap(buf)-len(buf) < 256+len(es)*bytesPerEntry {
		nb := make([]byte, len(buf), len(buf)+256+len(es)*bytesPerEntry)
		copy(nb, buf)
		buf = nb
	}
	target := max(1, h.target)
	for i := range es {
		// Rounded to the nearest second, as RFC 8216 §4.3.3.1 compares.
		if t := (es[i].dur + 500) / 1000; t > target {
			target = t
		}
	}
	if h.ts {
		buf = append(buf, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:"...)
	} else {
		buf = append(buf, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-TARGETDURATION:"...)
	}
	buf = strconv.AppendInt(buf, target, 10)
	buf = append(buf, "\n#EXT-X-MEDIA-SEQUENCE:"...)
	buf = strconv.AppendInt(buf, h.seq, 10)
	buf = append(buf, '\n')
	if h.discSeq != 0 {
		buf = append(buf, "#EXT-X-DISCONTINUITY-SEQUENCE:"...)
		buf = strconv.AppendInt(buf, h.discSeq, 10)
		buf = append(buf, '\n')
	}
	switch h.kind {
	case playlistVOD:
		buf = append(buf, "#EXT-X-PLAYLIST-TYPE:VOD\n"...)
	case playlistEvent:
		buf = append(buf, "#EXT-X-PLAYLIST-TYPE:EVENT\n"...)
	}
	if h.startAtFrom {
		buf = append(buf, "#EXT-X-START:TIME-OFFSET=0,PRECISE=YES\n"...)
	}
	curInit := ""
	var pdt pdtFormatter
	for i := range es {
		e := &es[i]
		if i > 0 && e.disc {
			buf = append(buf, "#EXT-X-DISCONTINUITY\n"...)
		}
		if e.init != curInit && !h.ts {
			buf = append(buf, "#EXT-X-MAP:URI=\"init-"...)
			buf = append(buf, e.init...)
			buf = append(buf, ".mp4\"\n"...)
		}
		curInit = e.init
		buf = append(buf, "#EXT-X-PROGRAM-DATE-TIME:"...)
		buf = pdt.append(buf, e.start)
		buf = append(buf, "\n#EXTINF:"...)
		buf = appendMillis(buf, e.dur)
		buf = append(buf, ",\ns-"...)
		buf = strconv.AppendInt(buf, e.start, 10)
		if h.ts {
			buf = append(buf, ".ts\n"...)
		} else {
			buf = append(buf, ".m4s\n"...)
		}
	}
	if h.kind == playlistVOD || h.kind == playlistEvent && h.ended {
		buf = append(buf, "#EXT-X-ENDLIST\n"...)
	}
	return buf
}

// appendMillis appends ms as seconds with three decimals.
func appendMillis(buf []byte, ms int64) []byte {
	if ms < 0 {
		ms = 0
	}
	buf = strconv.AppendInt(buf, ms/1000, 10)
	f := ms % 1000
	return append(buf, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

const msPerDay = 86_400_000

// pdtFormatter formats UTC ms as 2006-01-02T15:04:05.000Z, formatting the
// date only when the day changes (consecutive segments share it).
type pdtFormatter struct {
	day    int64
	ok     bool
	prefix []byte // "2006-01-02T" of day
}

func (f *pdtFormatter) append(buf []byte, ms int64) []byte {
	day := ms / msPerDay
	if ms < 0 && ms%msPerDay != 0 {
		day--
	}
	if !f.ok || day != f.day {
		f.day, f.ok = day, true
		f.prefix = time.UnixMilli(day*msPerDay).UTC().AppendFormat(f.prefix[:0], "2006-01-02T")
	}
	rem := ms - day*msPerDay
	h, m, s, milli := rem/3_600_000, rem/60_000%60, rem/1000%60, rem%1000
	buf = append(buf, f.prefix...)
	return append(buf,
		byte('0'+h/10), byte('0'+h%10), ':',
		byte('0'+m/10), byte('0'+m%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.',
		byte('0'+milli/100), byte('0'+milli/10%10), byte('0'+milli%10), 'Z')
}
