package dvrstore

import (
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The per-hour index. Each hour directory holds:
//
//   - index: one line per segment, "<start> <dur> <size> <inithash> <crc32c>\n",
//     appended after the segment file is renamed into place;
//   - summary: derived from index (count, bytes, gap-free spans) so that
//     opening a stream reads one small file per hour instead of every index.
//     It records the index size it was made from and a CRC of itself; a
//     summary that does not match is recomputed from the index.

// segEntry is one segment in memory.
type segEntry struct {
	start, dur, size int64
	hash             string
	sum              uint32
}

func (e segEntry) end() int64 { return e.start + e.dur }

// span is a gap-free stretch of segments; lastDur is the duration of its
// last segment, which sets the tolerance for joining the next one.
type span struct {
	from, to, lastDur int64
}

// joinable reports whether a segment or span starting at next continues prev
// without a gap: the gap is at most tol ms or a tenth of prev's last segment.
func joinable(tol int64, prev span, next int64) bool {
	return next-prev.to <= max(tol, prev.lastDur/10)
}

// addSpan appends [from, to) to spans, joining it to the last span when
// there is no gap between them.
func addSpan(spans []span, tol int64, s span) []span {
	if n := len(spans); n > 0 && joinable(tol, spans[n-1], s.from) {
		last := &spans[n-1]
		if s.to > last.to {
			last.to = s.to
			last.lastDur = s.lastDur
		}
		return spans
	}
	return append(spans, s)
}

func spansOf(segs []segEntry, tol int64) []span {
	var spans []span
	for _, e := range segs {
		spans = addSpan(spans, tol, span{e.start, e.end(), e.dur})
	}
	return spans
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendIndexLine appends the index line of e, newline included.
func appendIndexLine(b []byte, e segEntry) []byte {
	b = strconv.AppendInt(b, e.start, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.dur, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.size, 10)
	b = append(b, ' ')
	b = append(b, e.hash...)
	b = append(b, ' ')
	b = appendHex32(b, e.sum)
	return append(b, '\n')
}

// parseIndexLine parses one index line without its newline. Only the exact
// form appendIndexLine writes is accepted. The hash shares line's memory.
func parseIndexLine(line string) (segEntry, error) {
	var f [5]string
	n := 0
	for n < 4 {
		i := strings.IndexByte(line, ' ')
		if i < 0 {
			return segEntry{}, fmt.Errorf("parse index line: %d fields, want 5", n+1)
		}
		f[n], line = line[:i], line[i+1:]
		n++
	}
	f[4] = line
	var e segEntry
	var ok bool
	if e.start, ok = parseCanonical(f[0], 15); !ok || e.start > maxStart {
		return segEntry{}, fmt.Errorf("parse index line: bad start %q", f[0])
	}
	if e.dur, ok = parseCanonical(f[1], maxDurDigits); !ok || e.dur < 1 || e.dur > maxSegmentDuration {
		return segEntry{}, fmt.Errorf("parse index line: bad duration %q", f[1])
	}
	if e.size, ok = parseCanonical(f[2], 18); !ok {
		return segEntry{}, fmt.Errorf("parse index line: bad size %q", f[2])
	}
	if !validHash(f[3]) {
		return segEntry{}, fmt.Errorf("parse index line: bad init hash %q", f[3])
	}
	e.hash = f[3]
	if e.sum, ok = parseHex32(f[4]); !ok {
		return segEntry{}, fmt.Errorf("parse index line: bad checksum %q", f[4])
	}
	return e, nil
}

// parseIndex parses the index of one hour into its segments in order of
// start. Lines may come in any order (recording appends in order,
// replication appends the holes it fills). Lines that do not parse, lie
// outside the hour or overlap an earlier-starting segment are counted in
// bad and skipped; a last line with no newline (a torn append) sets torn.
func parseIndex(data string, hour int64) (segs []segEntry, bad int, torn bool) {
	segs = make([]segEntry, 0, len(data)/48+1)
	hashes := map[string]string{}
	for len(data) > 0 {
		i := strings.IndexByte(data, '\n')
		if i < 0 {
			torn = true
			break
		}
		line := data[:i]
		data = data[i+1:]
		e, err := parseIndexLine(line)
		if err != nil || hourOf(e.start) != hour {
			bad++
			continue
		}
		h, ok := hashes[e.hash]
		if !ok {
			h = strings.Clone(e.hash)
			hashes[h] = h
		}
		e.hash = h
		segs = append(segs, e)
	}
	if !sort.SliceIsSorted(segs, func(i, j int) bool { return segs[i].start < segs[j].start }) {
		sort.SliceStable(segs, func(i, j int) bool { return segs[i].start < segs[j].start })
	}
	kept := segs[:0]
	for _, e := range segs {
		if len(kept) > 0 && e.start < kept[len(kept)-1].end() {
			bad++
			continue
		}
		kept = append(kept, e)
	}
	return kept, bad, torn
}

// hourSummary is what a stream keeps in memory for every hour.
type hourSummary struct {
	indexSize int64 // bytes of the index it was made from
	tol       int64 // gap tolerance the spans were joined with
	count     int
	bytes     int64
	spans     []span
}

func summarize(segs []segEntry, tol, indexSize int64) hourSummary {
	s := hourSummary{indexSize: indexSize, tol: tol, count: len(segs), spans: spansOf(segs, tol)}
	for _, e := range segs {
		s.bytes += e.size
	}
	return s
}

const summaryMagic = "dvrstore-summary 1"

// formatSummary encodes a summary: a header line, one line per span, and a
// CRC-32C of everything before it.
func formatSummary(s hourSummary) []byte {
	b := []byte(summaryMagic)
	for _, v := range []int64{s.indexSize, s.tol, int64(s.count), s.bytes, int64(len(s.spans))} {
		b = append(b, ' ')
		b = strconv.AppendInt(b, v, 10)
	}
	b = append(b, '\n')
	for _, sp := range s.spans {
		b = strconv.AppendInt(b, sp.from, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, sp.to, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, sp.lastDur, 10)
		b = append(b, '\n')
	}
	b = appendHex32(b, crc32.Checksum(b, castagnoli))
	return append(b, '\n')
}

// parseSummary is the inverse of formatSummary; it accepts only what
// formatSummary writes.
func parseSummary(data string) (hourSummary, error) {
	var s hourSummary
	if len(data) < 10 || data[len(data)-1] != '\n' || data[len(data)-10] != '\n' {
		return s, fmt.Errorf("parse summary: no checksum line")
	}
	body := data[:len(data)-9]
	sum, ok := parseHex32(data[len(data)-9 : len(data)-1])
	if !ok || sum != crc32.Checksum([]byte(body), castagnoli) {
		return s, fmt.Errorf("parse summary: checksum mismatch")
	}
	lines := strings.Split(body[:len(body)-1], "\n")
	head := strings.Split(lines[0], " ")
	if len(head) != 7 || head[0]+" "+head[1] != summaryMagic {
		return s, fmt.Errorf("parse summary: bad header")
	}
	var v [5]int64
	for i := range v {
		if v[i], ok = parseCanonical(head[2+i], 18); !ok {
			return s, fmt.Errorf("parse summary: bad header field %q", head[2+i])
		}
	}
	s.indexSize, s.tol, s.count, s.bytes = v[0], v[1], int(v[2]), v[3]
	if v[4] != int64(len(lines)-1) || (s.count == 0) != (v[4] == 0) || v[4] > v[2] {
		return s, fmt.Errorf("parse summary: span count %d does not match", v[4])
	}
	s.spans = make([]span, 0, v[4])
	for _, l := range lines[1:] {
		f := strings.Split(l, " ")
		if len(f) != 3 {
			return s, fmt.Errorf("parse summary: bad span line")
		}
		var sp [3]int64
		for i := range sp {
			if sp[i], ok = parseCanonical(f[i], 15); !ok {
				return s, fmt.Errorf("parse summary: bad span field %q", f[i])
			}
		}
		if sp[0] >= sp[1] || sp[2] < 1 || sp[2] > sp[1]-sp[0] || (len(s.spans) > 0 && sp[0] <= s.spans[len(s.spans)-1].to) {
			return s, fmt.Errorf("parse summary: bad span %d-%d", sp[0], sp[1])
		}
		s.spans = append(s.spans, span{sp[0], sp[1], sp[2]})
	}
	return s, nil
}

// loadIndex reads and parses the index of one hour. A missing index is an
// empty hour.
func loadIndex(dir string, hour int64) (segs []segEntry, bad int, torn bool, size int64, err error) {
	data, err := os.ReadFile(filepath.Join(dir, indexName))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, 0, false, 0, nil
		}
		return nil, 0, false, 0, fmt.Errorf("read index: %w", err)
	}
	segs, bad, torn = parseIndex(string(data), hour)
	return segs, bad, torn, int64(len(data)), nil
}

const hexDigits = "0123456789abcdef"

func appendHex32(b []byte, v uint32) []byte {
	for shift := 28; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[(v>>uint(shift))&0xf])
	}
	return b
}

func hex32(v uint32) string { return string(appendHex32(nil, v)) }

// parseHex32 parses exactly 8 lowercase hex digits.
func parseHex32(s string) (uint32, bool) {
	if len(s) != 8 {
		return 0, false
	}
	var v uint32
	for i := 0; i < 8; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint32(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint32(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
