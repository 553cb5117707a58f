package s3store

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/edgedvr/edge/sdk"
)

// hourMs is one hour in milliseconds: segments are indexed by the UTC hour
// their start falls in.
const hourMs = int64(time.Hour / time.Millisecond)

func hourOf(ms int64) int64 { return ms - ((ms%hourMs)+hourMs)%hourMs }

// entry is one segment of an hour index.
type entry struct {
	start, dur, size int64
	init, sum        string
}

func (e entry) end() int64 { return e.start + e.dur }

// appendEntry appends e's index line: "start dur size init checksum\n".
func appendEntry(b []byte, e entry) []byte {
	b = strconv.AppendInt(b, e.start, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.dur, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.size, 10)
	b = append(b, ' ')
	b = append(b, e.init...)
	b = append(b, ' ')
	b = append(b, e.sum...)
	return append(b, '\n')
}

// formatIndex is the body of an hour's index object.
func formatIndex(es []entry) []byte {
	b := make([]byte, 0, len(es)*48)
	for _, e := range es {
		b = appendEntry(b, e)
	}
	return b
}

// parseIndex reads an hour index object. Lines that do not parse, that
// fall outside the hour or that do not follow the previous segment are
// skipped and counted in bad: a damaged index loses those lines, never the
// rest.
func parseIndex(data string, hour int64) (es []entry, bad int) {
	for line := range strings.SplitSeq(data, "\n") {
		if line == "" {
			continue
		}
		e, err := parseEntry(line)
		if err != nil || hourOf(e.start) != hour || (len(es) > 0 && e.start < es[len(es)-1].end()) {
			bad++
			continue
		}
		es = append(es, e)
	}
	return es, bad
}

func parseEntry(line string) (entry, error) {
	f := strings.Fields(line)
	if len(f) != 5 {
		return entry{}, fmt.Errorf("index line has %d fields, want 5", len(f))
	}
	var e entry
	var err error
	if e.start, err = strconv.ParseInt(f[0], 10, 64); err != nil || e.start < 0 {
		return entry{}, fmt.Errorf("index line: bad start %q", f[0])
	}
	if e.dur, err = strconv.ParseInt(f[1], 10, 64); err != nil || e.dur <= 0 || e.dur > hourMs {
		return entry{}, fmt.Errorf("index line: bad duration %q", f[1])
	}
	if e.size, err = strconv.ParseInt(f[2], 10, 64); err != nil || e.size <= 0 || e.size > sdk.MaxSegmentSize {
		return entry{}, fmt.Errorf("index line: bad size %q", f[2])
	}
	if e.start > (1<<62)-e.dur {
		return entry{}, fmt.Errorf("index line: start %d overflows", e.start)
	}
	if !isHex(f[3], 16) || !isHex(f[4], 8) {
		return entry{}, fmt.Errorf("index line: bad init hash or checksum")
	}
	e.init, e.sum = f[3], f[4]
	return e, nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// hourSum is what the summary object keeps of one hour: enough to answer
// Ranges and to apply retention without reading the hour's index.
type hourSum struct {
	hour  int64
	bytes int64
	count int
	spans []sdk.Range
}

// joinable reports whether a segment starting at next continues a span
// ending at prevEnd whose last segment lasted prevDur: the gap is at most
// tol ms or a tenth of that segment.
func joinable(tol, prevEnd, prevDur, next int64) bool {
	return next-prevEnd <= max(tol, prevDur/10)
}

// summarize builds an hour's summary from its entries.
func summarize(hour int64, es []entry, tol int64) hourSum {
	h := hourSum{hour: hour, count: len(es)}
	var lastDur int64
	for _, e := range es {
		h.bytes += e.size
		if n := len(h.spans); n > 0 && joinable(tol, h.spans[n-1].To, lastDur, e.start) {
			h.spans[n-1].To = e.end()
		} else {
			h.spans = append(h.spans, sdk.Range{From: e.start, To: e.end()})
		}
		lastDur = e.dur
	}
	return h
}

const summaryMagic = "s3store-summary 1"

// formatSummary is the body of the stream's summary object: a header line,
// then per hour "hour bytes count from-to[,from-to...]".
func formatSummary(hs []hourSum) []byte {
	b := []byte(summaryMagic + "\n")
	for _, h := range hs {
		b = strconv.AppendInt(b, h.hour, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, h.bytes, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(h.count), 10)
		b = append(b, ' ')
		for i, r := range h.spans {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, r.From, 10)
			b = append(b, '-')
			b = strconv.AppendInt(b, r.To, 10)
		}
		b = append(b, '\n')
	}
	return b
}

// parseSummary reads a summary object. Any damage makes the whole summary
// untrusted (the caller then rebuilds it from the hour indexes).
func parseSummary(data string) ([]hourSum, error) {
	lines := strings.Split(strings.TrimSuffix(data, "\n"), "\n")
	if len(lines) == 0 || lines[0] != summaryMagic {
		return nil, fmt.Errorf("summary: bad header")
	}
	var out []hourSum
	for i, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("summary line %d: %d fields, want 4", i+2, len(f))
		}
		var h hourSum
		var err error
		if h.hour, err = strconv.ParseInt(f[0], 10, 64); err != nil || h.hour < 0 || hourOf(h.hour) != h.hour {
			return nil, fmt.Errorf("summary line %d: bad hour", i+2)
		}
		if len(out) > 0 && h.hour <= out[len(out)-1].hour {
			return nil, fmt.Errorf("summary line %d: hours out of order", i+2)
		}
		if h.bytes, err = strconv.ParseInt(f[1], 10, 64); err != nil || h.bytes < 0 {
			return nil, fmt.Errorf("summary line %d: bad byte count", i+2)
		}
		n, err := strconv.Atoi(f[2])
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("summary line %d: bad segment count", i+2)
		}
		h.count = n
		prev := h.hour
		for sp := range strings.SplitSeq(f[3], ",") {
			a, b, ok := strings.Cut(sp, "-")
			from, err1 := strconv.ParseInt(a, 10, 64)
			to, err2 := strconv.ParseInt(b, 10, 64)
			if !ok || err1 != nil || err2 != nil || from < prev || to <= from || to-from > 2*hourMs || hourOf(from) != h.hour {
				return nil, fmt.Errorf("summary line %d: bad span %q", i+2, sp)
			}
			h.spans = append(h.spans, sdk.Range{From: from, To: to})
			prev = to
		}
		out = append(out, h)
	}
	return out, nil
}

// hourName is the hour's index object name: YYYYMMDDHH in UTC.
func hourName(hour int64) string {
	return time.UnixMilli(hour).UTC().Format("2006010215")
}

// parseHourName is the inverse of hourName.
func parseHourName(s string) (int64, bool) {
	if len(s) != 10 {
		return 0, false
	}
	t, err := time.Parse("2006010215", s)
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// segmentKey is the object key, under the stream, of a segment.
func segmentKey(e entry) string {
	return hourPrefix(hourOf(e.start)) + strconv.FormatInt(e.start, 10) + "_" +
		strconv.FormatInt(e.dur, 10) + "_" + e.init + ".m4s"
}

// hourPrefix is the key prefix, under the stream, of an hour's segments.
func hourPrefix(hour int64) string {
	return "seg/" + time.UnixMilli(hour).UTC().Format("2006/01/02/15") + "/"
}
