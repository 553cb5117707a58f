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

// appendPlaylist appends an HLS media playlist (version 7, fMP4) of es to
// buf. seq and discSeq are the media sequence and discontinuity sequence
// numbers of es[0]. URIs are relative to the playlist:
// init-{hash}.mp4 and s-{startms}.m4s.
func appendPlaylist(buf []byte, kind playlistKind, seq, discSeq int64, es []entry) []byte {
	if cap(buf)-len(buf) < 256+len(es)*bytesPerEntry {
		nb := make([]byte, len(buf), len(buf)+256+len(es)*bytesPerEntry)
		copy(nb, buf)
		buf = nb
	}
	target := int64(1)
	for i := range es {
		if t := (es[i].dur + 500) / 1000; t > target {
			target = t
		}
	}
	buf = append(buf, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-TARGETDURATION:"...)
	buf = strconv.AppendInt(buf, target, 10)
	buf = append(buf, "\n#EXT-X-MEDIA-SEQUENCE:"...)
	buf = strconv.AppendInt(buf, seq, 10)
	buf = append(buf, '\n')
	if discSeq != 0 {
		buf = append(buf, "#EXT-X-DISCONTINUITY-SEQUENCE:"...)
		buf = strconv.AppendInt(buf, discSeq, 10)
		buf = append(buf, '\n')
	}
	switch kind {
	case playlistVOD:
		buf = append(buf, "#EXT-X-PLAYLIST-TYPE:VOD\n"...)
	case playlistEvent:
		buf = append(buf, "#EXT-X-PLAYLIST-TYPE:EVENT\n"...)
	}
	curInit := ""
	var pdt pdtFormatter
	for i := range es {
		e := &es[i]
		if i > 0 && e.disc {
			buf = append(buf, "#EXT-X-DISCONTINUITY\n"...)
		}
		if e.init != curInit {
			curInit = e.init
			buf = append(buf, "#EXT-X-MAP:URI=\"init-"...)
			buf = append(buf, e.init...)
			buf = append(buf, ".mp4\"\n"...)
		}
		buf = append(buf, "#EXT-X-PROGRAM-DATE-TIME:"...)
		buf = pdt.append(buf, e.start)
		buf = append(buf, "\n#EXTINF:"...)
		buf = appendMillis(buf, e.dur)
		buf = append(buf, ",\ns-"...)
		buf = strconv.AppendInt(buf, e.start, 10)
		buf = append(buf, ".m4s\n"...)
	}
	if kind == playlistVOD {
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
