package s3store

import (
	"strings"
	"testing"
)

func FuzzParseIndex(f *testing.F) {
	f.Add("1710046800000 2000 300 0123456789abcdef 89abcdef\n1710046802000 2000 301 0123456789abcdef 00000000\n")
	f.Add("1710046800000 2000 300 0123456789abcdef\n")
	f.Add("-1 2000 300 0123456789abcdef 89abcdef\n9223372036854775807 3600000 1 0123456789abcdef 89abcdef")
	f.Fuzz(func(t *testing.T, data string) {
		es, bad := parseIndex(data, t0)
		if bad < 0 || len(es) > strings.Count(data, "\n")+1 {
			t.Fatalf("%d entries, %d bad", len(es), bad)
		}
		for i, e := range es {
			if hourOf(e.start) != t0 || e.dur <= 0 || e.size <= 0 || (i > 0 && e.start < es[i-1].end()) {
				t.Fatalf("entry %d accepted: %+v", i, e)
			}
		}
		// What parses formats back to the same entries.
		again, bad2 := parseIndex(string(formatIndex(es)), t0)
		if bad2 != 0 || len(again) != len(es) {
			t.Fatalf("round trip: %d entries, %d bad; want %d", len(again), bad2, len(es))
		}
	})
}

func FuzzParseSummary(f *testing.F) {
	f.Add(summaryMagic + "\n1710046800000 600 2 1710046800000-1710046804000\n")
	f.Add(summaryMagic + "\n1710046800000 600 2 1710046800000-1710046804000,1710046805000-1710046806000\n1710050400000 1 1 1710050400000-1710050400001\n")
	f.Add(summaryMagic + "\n1710046800000 600 2 5-4\n")
	f.Add("junk")
	f.Fuzz(func(t *testing.T, data string) {
		hs, err := parseSummary(data)
		if err != nil {
			return
		}
		again, err := parseSummary(string(formatSummary(hs)))
		if err != nil || len(again) != len(hs) {
			t.Fatalf("round trip: %v", err)
		}
		for _, h := range hs {
			if len(h.spans) == 0 || h.count <= 0 {
				t.Fatalf("hour accepted without spans: %+v", h)
			}
		}
	})
}

func FuzzParseRoot(f *testing.F) {
	for _, s := range []string{"s3://bucket/prefix", "s3://b.b-b/a/b?endpoint=http://127.0.0.1:7070&region=x",
		"s3://u:p@bucket/x", "s3://bucket/../x", "s3://bucket/x?endpoint=ftp://x", "s3://BUCKET", "s3://bucket/x#f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRoot(s)
		if err != nil {
			return
		}
		if checkBucket(r.Bucket) != nil || strings.HasPrefix(r.Prefix, "/") || strings.HasSuffix(r.Prefix, "/") {
			t.Fatalf("accepted %q as %+v", s, r)
		}
	})
}
